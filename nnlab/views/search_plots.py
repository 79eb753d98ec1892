"""PNG plots of a search: a sweep's metric against each swept key, its halving rungs, and the LR finder's curve.

Drawn on matplotlib's Figure with the Agg canvas (no pyplot: no global figure state, no backend choice),
imported only here, only when a command plots.
"""

import math
from pathlib import Path


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    """The PNG drawn in memory, then written as every run file is (rundir.safefile: never through a link)."""
    import io

    from nnlab.rundir.safefile import write_atomic
    from nnlab.rundir.store import saving

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, pil_kwargs={"compress_level": 1})
    with saving(Path(path).parent):
        write_atomic(Path(path), buffer.getvalue())
    return Path(path)


def save_sweep_plots(folder: Path, summary: dict) -> list[Path]:
    """sweep.png when the sweep varies keys; rungs.png with successive halving."""
    points = summary["points"]
    written = []
    if points and points[0]["overrides"]:
        written.append(metric_vs_keys(Path(folder) / "sweep.png", points, summary["headline"], summary["name"]))
    if summary.get("halving", {}).get("rungs"):
        written.append(rungs(Path(folder) / "rungs.png", summary["halving"], points, summary["headline"],
                             summary["name"]))
    return written


def _stat(point: dict, headline: str) -> dict:
    """A point's mean/std/min/max of the flat-named `headline` metric ({} when it has none)."""
    from nnlab.vocabulary import parse_flat

    split, name = parse_flat(headline) or ("", headline)
    return point["metrics"].get(split, {}).get(name) or {}


def _numeric(values: list[str]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except ValueError:
        return None


def metric_vs_keys(path: Path, points: list[dict], headline: str, name: str) -> Path:
    """One panel per swept key: each point's headline metric, mean ± std over its seeds, the best one starred."""
    keys = list(points[0]["overrides"])
    fig = _figure(7 if len(keys) == 1 else min(4.5 * len(keys), 16), 4.5)
    fig.subplots_adjust(left=0.12 if len(keys) == 1 else 0.07, right=0.98, bottom=0.15, top=0.88, wspace=0.25)
    usable = [p for p in points if _stat(p, headline).get("mean") is not None]
    for n, key in enumerate(keys, start=1):
        ax = fig.add_subplot(1, len(keys), n)
        texts = [str(p["overrides"][key]) for p in usable]
        xs = _numeric(texts)
        if xs is None:  # categories, in first-seen order
            order = list(dict.fromkeys(str(p["overrides"][key]) for p in points))
            xs = [order.index(t) for t in texts]
            ax.set_xticks(range(len(order)), order, rotation=30 if max(map(len, order)) > 6 else 0)
        elif min(xs) > 0 and max(xs) / min(xs) > 20:
            ax.set_xscale("log")
        for kept in (True, False):
            chosen = [(x, p) for x, p in zip(xs, usable) if ("stopped_at" not in p) == kept]
            if chosen:
                ax.errorbar([x for x, _ in chosen], [_stat(p, headline)["mean"] for _, p in chosen],
                            yerr=[_stat(p, headline)["std"] for _, p in chosen], fmt="o" if kept else "x",
                            capsize=3, alpha=0.85 if kept else 0.5, color="tab:blue" if kept else "tab:gray",
                            label="trained to the end" if kept else "dropped by halving (its value there)")
        if usable:
            ax.plot([xs[0]], [_stat(usable[0], headline)["mean"]], "*", color="tab:red", markersize=14,
                    label="best", zorder=5)
        ax.set_xlabel(key)
        if n == 1:
            ax.set_ylabel(f"{headline} (mean ± std over seeds)")
            ax.legend(fontsize=8, loc="best")
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"{name}: {headline} against each swept key ({len(points)} points)", fontsize=11)
    return _save(fig, path)


def rungs(path: Path, halving: dict, points: list[dict], headline: str, name: str) -> Path:
    """Each point's mean score at every rung it reached, and the survivors' final score; drops marked x."""
    fig = _figure(7, 4.5)
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.9)
    ax = fig.add_subplot()
    final = {p["point"]: _stat(p, headline).get("mean") for p in points if "stopped_at" not in p}
    tracks: dict[int, list] = {}
    for rung in halving["rungs"]:
        for p in rung["points"]:
            tracks.setdefault(p["point"], []).append((rung["epoch"], p["score"]["mean"], p["kept"], p["overrides"]))
    end = halving["epochs"]
    for point, track in tracks.items():
        xs = [e for e, m, _, _ in track if m is not None]
        ys = [m for _, m, _, _ in track if m is not None]
        if final.get(point) is not None:
            xs, ys = xs + [end], ys + [final[point]]
        line, = ax.plot(xs, ys, "-o", markersize=3, alpha=0.8 if point in final else 0.35)
        if point not in final and xs:
            ax.plot(xs[-1], ys[-1], "x", color=line.get_color(), markersize=8)
        elif xs:
            label = " ".join(f"{k}={v}" for k, v in track[0][3].items())
            ax.annotate(label, (xs[-1], ys[-1]), fontsize=7, xytext=(-4, 4), textcoords="offset points", ha="right")
    ax.axvline(end, color="gray", alpha=0.3)
    ax.set_xscale("log")
    ax.set_xlabel("epoch (rungs, then the last epoch)")
    ax.set_ylabel(f"{halving['split']}_{headline.split('_', 1)[1]} (mean over seeds)")  # the rungs' split
    ax.set_title(f"{name}: successive halving, eta {halving['eta']} ({halving['fraction']:.0%} of the grid's compute)")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def lr_curve(path: Path, lrs: list[float], losses: list[float | None], suggested: float | None, epochs: int,
             loss_name: str, title: str) -> Path:
    """Final train loss against learning rate (log x; log y when it spans decades), the suggestion marked."""
    from nnlab.views.sparkline import spans_decades

    fig = _figure(7, 4.5)
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.86)
    ax = fig.add_subplot()
    finite = [(lr, v) for lr, v in zip(lrs, losses) if v is not None and math.isfinite(v)]
    ax.plot([lr for lr, _ in finite], [v for _, v in finite], "-o", markersize=3, label="train_loss after the budget")
    gone = [lr for lr, v in zip(lrs, losses) if v is None or not math.isfinite(v)]
    if gone and finite:
        top = max(v for _, v in finite)
        ax.plot(gone, [top] * len(gone), "x", color="tab:red", label="diverged")
    if finite:
        best_lr, best = min(finite, key=lambda pair: pair[1])
        ax.plot([best_lr], [best], "o", color="tab:orange", markersize=8, label=f"lowest loss, lr {best_lr:.3g}")
    if suggested is not None:
        ax.axvline(suggested, color="tab:green", linestyle="--", label=f"suggested lr {suggested:.3g} (lowest / 10)")
    ax.set_xscale("log")
    if spans_decades([v for _, v in finite]):
        ax.set_yscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel(f"train_loss ({loss_name})")
    ax.set_title(f"{title}: LR finder, {epochs} epochs per learning rate")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)
