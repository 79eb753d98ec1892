"""A search's tables: one row per grid point, best first (one row per metric for `train --seeds`); the rungs of
successive halving; the LR finder's curve."""

from rich import box
from rich.table import Table

from nnlab.config.loader import value_text
from nnlab.vocabulary import flat, parse_flat


def points_table(points: list[dict], headline: str, title: str) -> Table:
    """Best first: grid values, runs, failed, the `headline` metric and train loss as mean ± std, min, max
    (with successive halving: the points trained to the end first, then the dropped ones, with their epoch).

    One grid point (train --seeds) gets one row per metric instead.
    """
    if len(points) == 1 and not points[0]["overrides"]:
        table = Table(title=title, title_justify="left")
        for column in ("metric", "mean ± std", "min", "max"):
            table.add_column(column, justify="left" if column == "metric" else "right")
        for split, names in points[0]["metrics"].items():
            for name, s in names.items():
                if s["mean"] is not None:
                    table.add_row(flat(split, name), f"{_fmt(s['mean'])} ± {_fmt(s['std'])}", _fmt(s["min"]),
                                  _fmt(s["max"]))
        return table
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    keys = list(points[0]["overrides"])
    for key in keys:
        table.add_column(key, no_wrap=True)
    halved = any("stopped_at" in p for p in points)  # successive halving: when each dropped point stopped
    for column in ("runs", "failed", *(["dropped at"] if halved else []), headline, "min", "max", "train_loss"):
        table.add_column(column, justify="right", no_wrap=True)
    for p in points:
        cells = [value_text(p["overrides"][k]) for k in keys] + [str(p["runs"]), str(p["failed"])]
        if halved:
            cells.append(f"epoch {p['stopped_at']}" if "stopped_at" in p else "-")
        for name, parts in ((headline, ("mean", "min", "max")), ("train_loss", ("mean",))):
            split, metric = parse_flat(name)
            s = p["metrics"].get(split, {}).get(metric) or {"mean": None}
            if s["mean"] is None:
                cells += ["-"] * len(parts)
            else:
                cells += [f"{_fmt(s['mean'])} ± {_fmt(s['std'])}"] + [_fmt(s[k]) for k in parts[1:]]
        table.add_row(*cells)
    return table


def folds_table(rows: list[dict], headline: str) -> Table:
    """k-fold: one row per model: fold, seed, grid values, status, the headline metric and the losses."""
    metric = headline.partition("_")[2]
    columns = [(split, name) for split, name in (("train", metric), ("val", metric), ("test", metric),
                                                 ("train", "loss"))
               if any(name in r["metrics"].get(split, {}) for r in rows)]
    keys = list(rows[0]["overrides"]) if rows else []
    table = Table(title="per fold", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("fold", "seed", *keys, "status", *[f"{split}_{name}" for split, name in columns]):
        table.add_column(column, justify="left" if column in ("status", *keys) else "right", no_wrap=True)
    for r in rows:
        values = [_fmt(r["metrics"][split][name]) if name in r["metrics"].get(split, {}) else "-"
                  for split, name in columns]
        table.add_row(str(r["fold"]), str(r["seed"]), *[str(r["overrides"][k]) for k in keys], r["status"], *values)
    return table


def _fmt(v: float) -> str:
    return f"{v:.4f}" if abs(v) < 10 else f"{v:.4g}"



def rungs_table(halving: dict, headline: str) -> Table:
    """Successive halving: at each rung, every point's mean ± std score there (the `headline` metric, e.g.
    test_accuracy, on the split the rungs rank by: val_accuracy when there is one) and whether it went on."""
    eta, score = halving["eta"], flat(halving["split"], parse_flat(headline)[1])
    table = Table(title=f"successive halving (eta {eta}, ranked by {score}, mean ± std over seeds)",
                  title_justify="left", box=box.SIMPLE_HEAD)
    for column, justify in (("epoch", "right"), ("point", "left"), ("seeds", "right"), (score, "right"),
                            ("train_loss", "right"), ("", "left")):
        table.add_column(column, justify=justify, no_wrap=True)
    for rung in halving["rungs"]:
        for i, p in enumerate(rung["points"]):
            s = p["score"]
            score = "-" if s["mean"] is None else f"{_fmt(s['mean'])} ± {_fmt(s['std'])}"
            where = " ".join(f"{k}={v}" for k, v in p["overrides"].items()) or f"point {p['point']}"
            table.add_row(str(rung["epoch"]) if i == 0 else "", where, str(p["seeds"]), score, _fmt(p["loss"]),
                          "kept" if p["kept"] else "[red]dropped[/red]")
        table.add_section()
    return table


def compute_line(halving: dict) -> str:
    """What halving spent, against training every point to the end."""
    return (f"compute: {halving['member_epochs']} of the full grid's {halving['full_grid_member_epochs']} "
            f"member-epochs ({halving['fraction']:.0%})")


def lr_table(lrs: list[float], losses: list, suggested: float | None, title: str) -> Table:
    """One row per learning rate: its train loss after the budget and a bar; the lowest and the suggestion marked."""
    import math

    finite = [v for v in losses if v is not None and math.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    best = min(finite) if finite else None
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for column, justify in (("lr", "right"), ("train_loss", "right"), ("", "left"), ("", "left")):
        table.add_column(column, justify=justify, no_wrap=True)
    for lr, v in zip(lrs, losses):
        if v is None or not math.isfinite(v):
            table.add_row(f"{lr:.3g}", "diverged", "", "")
            continue
        share = 0.0 if high == low else (v - low) / (high - low)
        marks = ["lowest" if v == best else "", "suggested" if suggested is not None and lr == suggested else ""]
        table.add_row(f"{lr:.3g}", _fmt(v), "█" * max(1, round(24 * share)), " ".join(m for m in marks if m))
    return table
