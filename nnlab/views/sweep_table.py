"""The sweep's table: one row per grid point, best first (or one row per metric for `train --seeds`)."""

from rich import box
from rich.table import Table

from nnlab.config.loader import value_text
from nnlab.vocabulary import flat, parse_flat


def points_table(points: list[dict], headline: str, title: str) -> Table:
    """Best first: grid values, runs, failed, the `headline` metric and train loss as mean ± std, min, max.

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
    for column in ("runs", "failed", headline, "min", "max", "train_loss"):
        table.add_column(column, justify="right", no_wrap=True)
    for p in points:
        cells = [value_text(p["overrides"][k]) for k in keys] + [str(p["runs"]), str(p["failed"])]
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

