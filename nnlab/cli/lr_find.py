"""`nnlab lr-find`: K learning rates trained as one stack for a short budget; lr_find.png and a suggested lr."""

import shlex
from pathlib import Path

import typer

from nnlab.cli.main import before_training, command, print_json, stdout
from nnlab.cli.options import CONFIG, OVERRIDES


@command(name="lr-find")
def lr_find(
    config: Path = CONFIG,
    overrides: list[str] = OVERRIDES,
    low: float = typer.Option(1e-6, "--min", help="Smallest learning rate tried."),
    high: float = typer.Option(1.0, "--max", help="Largest learning rate tried."),
    num: int = typer.Option(25, "--num", help="How many learning rates, log-spaced from --min to --max."),
    epochs: int = typer.Option(None, "--epochs", help="Epochs each lr trains (default: a tenth of train.epochs)."),
    out: Path = typer.Option(Path("runs"), "--out", "-o", help="Parent folder of the lr-find folder."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write lr_find.png."),
    json_out: bool = typer.Option(False, "--json", help="Print only a JSON summary on stdout."),
):
    """Train a range of learning rates briefly; suggest one.

    The learning rates train side by side for a short budget; lr_find.png plots the loss against lr.

    \b
    Example:
      nnlab lr-find configs/wine_mlp.yaml --min 1e-4 --max 3
    """
    with before_training():  # Ctrl-C here: nothing is written yet
        from nnlab.config import load_config
        from nnlab.errors import Interrupted
        from nnlab.rundir import store
        from nnlab.rundir.run import new_folder
        from nnlab.rundir.safefile import write_atomic
        from nnlab.sweep.lr_find import find_lr, lr_grid
        from nnlab.training.signals import catch_signals

        lr_grid(low, high, num)  # bad bounds: refused before anything is read
        cfg = load_config(config, list(overrides or []))
    with catch_signals() as stop:
        try:
            found = find_lr(config, list(overrides or []), low, high, num, epochs, stop=stop)
        except Interrupted as e:
            raise Interrupted(f"interrupted by {e}; nothing saved", e.signum) from None
    parent = new_folder(Path(out), f"{cfg.name}-lr-find")
    summary = {"run_dir": str(parent), "kind": "lr-find", "name": cfg.name, "config": str(config),
               "model": cfg.model.kind, "overrides": list(overrides or []), "loss": cfg.loss,
               "optimizer": cfg.optimizer.name, **found.to_dict(),
               "note": _edge_note(found), "status": "finished"}
    with store.saving(parent):
        rows = [f"{lr!r},{'' if v is None else repr(v)}\n" for lr, v in zip(found.lrs, found.losses)]
        write_atomic(parent / "lr_find.csv", ("lr,train_loss\n" + "".join(rows)).encode())
    written = None
    if plots:
        from nnlab.views.search_plots import lr_curve

        written = lr_curve(parent / "lr_find.png", found.lrs, found.losses, found.suggested, found.epochs, cfg.loss,
                           cfg.name)
    store.save_summary(parent, summary)
    if json_out:
        print_json(summary)
        return
    from nnlab.errors import DivergedError
    from nnlab.views.sweep_table import lr_table

    console = stdout()
    stacked = [p["path"] for p in found.paths] == ["vectorized"]
    console.print(lr_table(found.lrs, found.losses, found.suggested, f"{cfg.name}: train_loss after {found.epochs} "
                           f"epochs, seed {found.seed}, {'one stack' if stacked else 'alone'}"))
    if found.suggested is None:
        raise DivergedError(f"every learning rate diverged; try a smaller --min (saved {parent})")
    lines = [f"suggested lr: {found.suggested:g}  (rule: {found.rule})", summary["note"],
             f"try: nnlab train {shlex.quote(str(config))} optimizer.lr={found.suggested:g}",
             f"saved {parent} (lr_find.csv{', lr_find.png' if written else ''}, summary.json)"]
    for line in filter(None, lines):
        console.print(line, soft_wrap=True)


def _edge_note(found) -> str | None:
    """Say so when the lowest loss sits at an end of the range: the curve's turn is outside it."""
    finite = [(v, i) for i, v in enumerate(found.losses) if v is not None]
    if not finite:
        return None
    best = min(finite)[1]
    if best == len(found.lrs) - 1:
        return "the loss was still falling at --max: a larger --max shows where it turns up"
    if best == 0:
        return "the smallest lr was best: a smaller --min shows where the curve bottoms out"
    return None
