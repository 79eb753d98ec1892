"""`nnlab sweep` (and `nnlab train --seeds`): a grid of overrides x seeds, one summary row per grid point."""

from pathlib import Path

import typer

from nnlab.cli.main import command, print_json, stderr, stdout
from nnlab.cli.options import CONFIG, OVERRIDES


@command
def sweep(
    config: Path = CONFIG,
    overrides: list[str] = OVERRIDES,
    grid: list[str] = typer.Option(None, "--grid", "-g", help="key=v1,v2,... to try (repeat for a cartesian "
                                                              "grid), e.g. --grid optimizer.lr=0.01,0.1"),
    seeds: str = typer.Option(None, "--seeds", help="Seeds per grid point: a count (5 = 0-4), a range 0-9 "
                                                    "or a list 1,5,7.  [default: the config's seed]",
                              show_default=False),
    out: Path = typer.Option(Path("runs"), "--out", "-o", help="Parent folder of the sweep's run directory."),
    vectorize: bool = typer.Option(True, "--vectorize/--no-vectorize",
                                   help="Train compatible runs stacked (default) or one after another."),
    json_out: bool = typer.Option(False, "--json", help="Print only a JSON summary on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the summary table."),
    scheduler: str = typer.Option(None, "--scheduler", help="Train the groups on a running Dask scheduler, e.g. "
                                                           "tcp://127.0.0.1:8786 (needs nnlab[cluster])."),
    workers: int = typer.Option(None, "--workers", help="Train the groups on a local Dask cluster of N worker "
                                                        "processes (needs nnlab[cluster])."),
    folds: int = typer.Option(None, "--folds", min=2, help="k-fold cross-validation of every grid point and seed."),
):
    """Train every point of a grid with several seeds; print one row per point, best first.

    Example: nnlab sweep configs/wine_mlp.yaml --grid optimizer.lr=0.01,0.05,0.1 --grid optimizer.momentum=0,0.9 --seeds 5

    On a Dask cluster: add --scheduler tcp://HOST:8786, or --workers 4 for local worker processes.
    """
    if scheduler is not None or workers is not None:
        from nnlab.sweep.dask_client import check_cluster_options

        check_cluster_options(scheduler, workers)  # before any config or data is read
    from nnlab.sweep.plan import parse_grid, parse_seeds

    train_many(config, list(overrides or []), parse_grid(grid or []), None if seeds is None else parse_seeds(seeds), out,
               vectorize=vectorize, json_out=json_out, quiet=quiet, kind="sweep", scheduler=scheduler, workers=workers,
               folds=folds)


def train_many(config: Path, overrides: list[str], grid, seeds: list[int] | None, out: Path, *, vectorize: bool,
               json_out: bool, quiet: bool, kind: str, scheduler: str | None = None,
               workers: int | None = None, folds: int | None = None) -> None:
    """Expand, load data, plan groups, train, save, report: the many-run data flow."""
    from nnlab.data import load_many
    from nnlab.errors import Interrupted
    from nnlab.sweep.plan import expand, plan
    from nnlab.sweep.save import SweepFolder
    from nnlab.training.signals import catch_signals

    trials = expand(config, overrides, grid, seeds, folds)
    splits = load_many([t.cfg for t in trials])
    groups = plan(trials, splits, vectorize=vectorize)
    talk = not (json_out or quiet)
    progress = stderr()
    planned, where = len(trials), ""
    # Claimed before training, each group saved as it finishes: an unwritable folder fails now, and a signal or
    # a disk that fills up later keeps every group saved before it.
    with catch_signals() as stop, SweepFolder.claim(Path(out), trials, splits, groups, kind) as folder:
        if talk:
            n_points = len({t.point for t in trials})
            per = f" x {folds} folds" if folds else ""
            progress.print(f"{len(trials)} runs ({n_points} grid points x {len(trials) // n_points // (folds or 1)} "
                           f"seeds{per}) in {len(groups)} group(s)")

        def show_group(group):
            if talk:
                progress.print(f"  trained {len(group.trials)} run(s) {group.path}: {group.reason}")

        if scheduler is None and workers is None:
            results, seconds, where = _in_process(trials, splits, groups, show_group, folder.add, stop)
            signum = stop.signum
        else:
            bar = progress.is_terminal and not quiet
            trials, splits, groups, results, seconds, signum = _on_cluster(
                trials, splits, groups, scheduler, workers, progress, show_group, folder.add, bar=bar)
        signum = signum or stop.signum
        if signum and not folder.saved:
            raise Interrupted(f"interrupted{where}: none of the {planned} runs had finished; nothing saved", signum)
        every_run = results is not None and len(trials) == planned  # a signal during the last save stops no run
        summary = folder.close(seconds, "interrupted" if signum and not every_run else "finished", trials, results)
    parent = folder.path
    if json_out:
        print_json(summary)
    else:
        _show(summary, parent, quiet)
    if signum:
        raise Interrupted(f"interrupted{where}: {summary['runs']} of {planned} runs had finished; saved them in "
                          f"{parent}", signum)


def _in_process(trials, splits, groups, on_group, on_results, stop):
    """Every group in this process; a signal stops the run in training after its current step (the runs before
    it were saved by on_results): (results or None, seconds or None, ' by SIGINT at ...' or '')."""
    from nnlab.errors import Interrupted
    from nnlab.sweep.local import run_groups

    try:
        return (*run_groups(trials, splits, groups, on_group=on_group, stop=stop, on_results=on_results), "")
    except Interrupted as e:
        return None, None, f" by {e}"


def _on_cluster(trials, splits, groups, scheduler, workers, console, show_group, keep, bar: bool):
    """dask_tasks.run_groups inside a Dask client, with a progress bar over runs on stderr when it is a terminal.

    Ctrl-C or SIGTERM cancels what is left: (the trials that finished, their splits, groups and results,
    seconds, the signal number or 0).
    """
    from rich.text import Text

    from nnlab.config import value_text
    from nnlab.errors import Interrupted
    from nnlab.sweep import dask_tasks
    from nnlab.sweep.dask_client import open_client
    from nnlab.training.signals import signals_interrupt

    with signals_interrupt() as caught, open_client(scheduler, workers) as client:
        if not bar:
            results, seconds, interrupted = dask_tasks.run_groups(client, trials, splits, groups, on_group=show_group,
                                                                  on_results=keep)
        else:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            columns = (TextColumn("runs"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[counts]}"),
                       TimeElapsedColumn())
            with Progress(*columns, console=console, transient=True) as live:
                bar_id = live.add_task("runs", total=len(trials), counts="")

                def update(p):
                    live.update(bar_id, completed=p.done + p.failed,
                                counts=f"running {p.running}, done {p.done}, retried {p.retried}, failed {p.failed}")

                results, seconds, interrupted = dask_tasks.run_groups(client, trials, splits, groups, on_progress=update,
                                                                      on_group=show_group, on_results=keep)
    signum = (caught.signum or 2) if interrupted else 0
    planned = len(trials)
    if interrupted:
        trials, splits, groups, results = dask_tasks.finished_only(trials, splits, groups, results)
        if not trials:
            raise Interrupted(f"interrupted: none of the {planned} runs had finished; nothing saved", signum)
    for trial, result in zip(trials, results):
        if result.error:
            where = " ".join([f"seed {trial.seed}", *[f"{k}={value_text(v)}" for k, v in trial.overrides.items()]])
            console.print(Text.assemble(("failed ", "red"), f"{where}: {result.error}"))
    return trials, splits, groups, results, seconds, signum


def _show(summary: dict, parent, quiet: bool) -> None:
    from rich.measure import Measurement

    from nnlab.sweep.aggregate import FAILED_DEFINITION
    from nnlab.views.sweep_table import points_table

    console = stdout()
    title = f"{summary['name']}: {summary['runs']} runs, {summary['failed']} failed to learn"
    if summary.get("folds"):
        seeds = len(summary["seeds"])
        console.print(f"{summary['folds']}-fold cross-validation ({seeds} seed{'s' * (seeds > 1)}): each metric is the "
                      "mean ± std over the folds' models", soft_wrap=True)
    table = points_table(summary["points"], summary["headline"], title)
    if console.is_terminal:  # a narrow terminal: wider than it rather than numbers cut (a pipe is wide already)
        console.width = max(console.width, Measurement.get(console, console.options.update(max_width=1000),
                                                           table).maximum)
    console.print(table)
    if summary.get("per_fold"):
        from nnlab.views.sweep_table import folds_table

        console.print(folds_table(summary["per_fold"], summary["headline"]))
    if not quiet:
        console.print(f"failed to learn = {FAILED_DEFINITION}")
        console.print(f"saved {parent} (points.csv, runs.csv, one sub-run per model)", soft_wrap=True)
