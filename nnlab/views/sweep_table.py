"""The sweep's table: one row per grid point, best first (or one row per metric for `train --seeds`)."""

from rich import box
from rich.table import Table


def points_table(points: list[dict], headline: str, title: str) -> Table:
    """Best first: grid values, runs, failed, the `headline` metric and train loss as mean ± std, min, max.

    One grid point (train --seeds) gets one row per metric instead.
    """
    if len(points) == 1 and not points[0]["overrides"]:
        table = Table(title=title, title_justify="left")
        for column in ("metric", "mean ± std", "min", "max"):
            table.add_column(column, justify="left" if column == "metric" else "right")
        for name, s in points[0]["metrics"].items():
            if s["mean"] is not None:
                table.add_row(name, f"{_fmt(s['mean'])} ± {_fmt(s['std'])}", _fmt(s["min"]), _fmt(s["max"]))
        return table
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    keys = list(points[0]["overrides"])
    for key in keys:
        table.add_column(key, no_wrap=True)
    for column in ("runs", "failed", headline, "min", "max", "train_loss"):
        table.add_column(column, justify="right", no_wrap=True)
    for p in points:
        cells = [str(p["overrides"][k]) for k in keys] + [str(p["runs"]), str(p["failed"])]
        for name, parts in ((headline, ("mean", "min", "max")), ("train_loss", ("mean",))):
            s = p["metrics"].get(name) or {"mean": None}
            if s["mean"] is None:
                cells += ["-"] * len(parts)
            else:
                cells += [f"{_fmt(s['mean'])} ± {_fmt(s['std'])}"] + [_fmt(s[k]) for k in parts[1:]]
        table.add_row(*cells)
    return table


def _fmt(v: float) -> str:
    return f"{v:.4f}" if abs(v) < 10 else f"{v:.4g}"



def rungs_table(halving: dict) -> Table:
    """Successive halving: at each rung, every point's mean ± std score there and whether it went on."""
    eta, split = halving["eta"], halving["split"]
    fraction = halving["fraction"]
    caption = (f"compute: {halving['member_epochs']} of the full grid's {halving['full_grid_member_epochs']} "
               f"member-epochs ({fraction:.0%})" if fraction is not None else None)
    table = Table(title=f"successive halving (eta {eta}, ranked by {split} score, mean ± std over seeds)",
                  title_justify="left", box=box.SIMPLE_HEAD, caption=caption, caption_justify="left")
    for column, justify in (("epoch", "right"), ("point", "left"), ("seeds", "right"), ("score", "right"),
                            ("train loss", "right"), ("", "left")):
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
