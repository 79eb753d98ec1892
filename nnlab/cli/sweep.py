"""`nnlab sweep` (and `nnlab train --seeds`): a grid or a sampled search of overrides x seeds, one row per point."""

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import typer

from nnlab.cli.main import before_training, command, print_json, stderr, stdout
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
    search: str = typer.Option(None, "--search", help="Sample points instead of a grid: random, or tpe "
                                                      "(Optuna; needs nnlab[search])."),
    trials: int = typer.Option(None, "--trials", help="With --search: how many points to try (default 16)."),
    params: list[str] = typer.Option(None, "--param", "-p", help="With --search: KEY=DIST, DIST one of "
                                     "loguniform(a,b), uniform(a,b), int(a,b), choice(v1,v2,...)."),
    search_seed: int = typer.Option(0, "--search-seed", help="Seed of the search itself: same seed, same points."),
    batch: int = typer.Option(8, "--batch", help="With --search tpe: points asked for at a time, trained as one "
                                                 "stack."),
    halving: bool = typer.Option(False, "--halving", help="Successive halving: at each rung drop the worst "
                                 "1-1/eta of the points (all their seeds) and go on with the rest."),
    eta: int = typer.Option(3, "--eta", help="With --halving: keep the best 1/eta of the points at each rung."),
    min_epochs: int = typer.Option(None, "--min-epochs", help="With --halving: the first rung's epoch (default: as "
                                   "late as a third of the full grid's compute allows, one point left at the end)."),
    out: Path = typer.Option(Path("runs"), "--out", "-o", help="Parent folder of the sweep's run directory."),
    vectorize: bool = typer.Option(True, "--vectorize/--no-vectorize",
                                   help="Train compatible runs stacked (default) or one after another."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write sweep.png (and rungs.png) into the folder."),
    json_out: bool = typer.Option(False, "--json", help="Print only a JSON summary on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the summary table."),
    scheduler: str = typer.Option(None, "--scheduler", help="Train the groups on a running Dask scheduler, e.g. "
                                                           "tcp://127.0.0.1:8786 (needs nnlab[cluster])."),
    workers: int = typer.Option(None, "--workers", help="Train the groups on a local Dask cluster of N worker "
                                                        "processes (needs nnlab[cluster])."),
    folds: int = typer.Option(None, "--folds", min=2, help="k-fold cross-validation of every grid point and seed."),
):
    """Train a grid (or a sampled search) of overrides x seeds.

    One row per point, best first. Successive halving: add --halving (--eta 3). On a Dask cluster: add
    --workers 4, or --scheduler tcp://HOST:8786.

    \b
    Example:
      nnlab sweep configs/wine_mlp.yaml --grid optimizer.lr=0.01,0.1 --seeds 5
    Grid of two keys, successive halving:
      nnlab sweep configs/wine_mlp.yaml --grid optimizer.lr=0.01,0.05,0.1 \\
        --grid optimizer.momentum=0,0.9 --seeds 5 --halving
    Sampled search:
      nnlab sweep configs/wine_mlp.yaml --search tpe --trials 32 \\
        --param "optimizer.lr=loguniform(1e-3,1)" \\
        --param "optimizer.momentum=uniform(0,0.95)"
    """
    with before_training():  # Ctrl-C here: nothing is written yet
        if scheduler is not None or workers is not None:
            from nnlab.sweep.dask_client import check_cluster_options

            check_cluster_options(scheduler, workers)  # before any config or data is read
        from nnlab.sweep.plan import parse_grid, parse_seeds
        from nnlab.sweep.search import search_options

        sampled = search_options(search, trials, params, search_seed, batch, bool(grid))
        how = How(vectorize=vectorize, json_out=json_out, quiet=quiet, kind="sweep", scheduler=scheduler,
                  workers=workers, plots=plots, search=sampled, halving=(eta, min_epochs) if halving else None,
                  folds=folds)
        if halving:
            from nnlab.sweep.halving import check_halving

            check_halving(eta, min_epochs, vectorize, how.search.trials if how.search else _points(grid))
    train_many(config, list(overrides or []), parse_grid(grid or []), None if seeds is None else parse_seeds(seeds),
               out, how)


@dataclass
class How:
    """How a many-run command trains and reports (everything but what it trains)."""

    vectorize: bool = True
    json_out: bool = False
    quiet: bool = False
    kind: str = "sweep"
    scheduler: str | None = None
    workers: int | None = None
    plots: bool = True
    search: object = None  # sweep.search.SearchOptions
    halving: tuple | None = None  # (eta, min_epochs)
    folds: int | None = None  # k-fold cross-validation: every point and seed once per fold
    extra: dict = field(default_factory=dict)  # more summary keys


def _points(grid) -> int:
    from nnlab.sweep.plan import grid_points, parse_grid

    return len(grid_points(parse_grid(grid or [])))


def train_many(config: Path, overrides: list[str], grid, seeds: list[int] | None, out: Path, how: How | None = None,
               **options) -> None:
    """Plan, claim the sweep folder, train (a grid at once, or a search batch by batch) saving each group as it
    finishes, write the aggregates, plot, report: the many-run data flow. `options` are How's fields (`train
    --seeds` passes vectorize, json_out, quiet, kind, folds). `seeds` None: each point trains with its own seed."""
    how = how or How(**options)
    talk = not (how.json_out or how.quiet)
    progress = stderr()
    with before_training():  # every config is checked before the sweep folder is claimed and a cluster starts
        from nnlab.config import load_config
        from nnlab.errors import Interrupted
        from nnlab.sweep.batch import batch_of, join
        from nnlab.sweep.plan import expand, grid_points
        from nnlab.sweep.search import check_params
        from nnlab.training.signals import catch_signals

        if how.search is None:
            trials = expand(config, overrides, grid, seeds, how.folds)
            name, n_points = trials[0].cfg.name, len(grid_points(grid))
        else:
            check_params(config, overrides, how.search.params)
            name, n_points = load_config(config, overrides).name, how.search.trials
    # A cluster starts now, its workers importing torch while this process does. The folder is claimed before
    # training, each group saved as it finishes: an unwritable folder fails now, and a signal or a disk that
    # fills up later keeps every group saved before it.
    with catch_signals() as stop, _cluster(how) as get_client:
        from nnlab.sweep.save import SweepFolder  # imports torch

        with SweepFolder.claim(Path(out), name, how.kind, n_points, overrides) as folder, \
                _trainer(how, progress, talk, folder, stop, get_client) as train:
            batches = []
            if how.search is None:
                _train(batch_of(trials, vectorize=how.vectorize, halving=how.halving), how, train, batches, talk)
            else:
                _search(config, overrides, seeds, how, train, batches, talk)
            done = join([b for b in batches if b.results])
            signum, planned = stop.signum or how.extra.pop("signum", 0), sum(b.planned for b in batches)
            where = how.extra.pop("where", "")
            if signum and not folder.saved:
                raise Interrupted(f"interrupted{where}: none of the {planned} runs had finished; nothing saved",
                                  signum)
            every_run = len(folder.saved) == planned  # a signal during the last save stops no run
            summary = folder.close(None if signum else done.seconds, "interrupted" if signum and not every_run
                                   else "finished", extra={**how.extra, **_halving_summary(done, how)})
        # A signal from here on finds every run saved: the report is printed, then the command exits 130/143.
        written = _plots(folder.path, summary) if how.plots and not stop.signum else []
        if how.json_out:
            print_json(summary)
        else:
            _show(summary, folder.path, how.quiet, written)
    signum = signum or stop.signum
    if signum:
        raise Interrupted(f"interrupted{where}: {summary['runs']} of {planned} runs had finished; saved them in "
                          f"{folder.path}", signum)


def _train(b, how: How, train, batches: list, talk: bool) -> int:
    """One batch, trained; appended to `batches`; the signal number that stopped it, or 0."""
    from nnlab.sweep.halving import rung_note

    if talk:
        seeds = len({t.seed for t in b.trials})
        per = f" x {how.folds} folds" if how.folds else ""
        stderr().print(f"{len(b.trials)} runs ({b.n_points} points x {seeds} seeds{per}) in {len(b.groups)} group(s)"
                       + rung_note(b.groups))
    batches.append(b)
    signum = train(b)
    return signum


def _search(config, overrides, seeds, how: How, train, batches: list, talk: bool) -> int:
    """--search: points proposed batch by batch (random: all at once), each batch trained and scored."""
    from nnlab.sweep import search as sampled
    from nnlab.sweep.batch import prepare_batch
    from nnlab.training.halving import ranking_split

    opts = how.search
    stopped = [0]

    def train_points(points, first):
        if talk and opts.strategy == "tpe":
            stderr().print(f"tpe: points {first + 1}-{first + len(points)} of {opts.trials}")
        b = prepare_batch(config, overrides, points, seeds, vectorize=how.vectorize, first=first, halving=how.halving,
                          folds=how.folds)
        stopped[0] = _train(b, how, train, batches, talk)
        if stopped[0]:
            return None
        b = batches[-1]
        return sampled.objectives(b.trials, b.results, ranking_split(b.splits[0]), b.trials[0].cfg.task)

    sampled.run_search(opts.strategy, opts.params, opts.trials, opts.batch, opts.seed, train_points)
    how.extra["search"] = {"strategy": opts.strategy, "trials": opts.trials, "seed": opts.seed,
                           "batch": opts.batch if opts.strategy == "tpe" else opts.trials,
                           "params": {p.key: p.describe() for p in opts.params}}
    return stopped[0]


def _halving_summary(done, how: How) -> dict:
    if how.halving is None or not done.trials:
        return {}
    from nnlab.sweep.halving import halving_summary
    from nnlab.training.halving import ranking_split

    return {"halving": halving_summary(done.trials, done.results, done.groups, ranking_split(done.splits[0]))}


@contextmanager
def _cluster(how: How):
    """The Dask client started now in the background (its `get`), or None for an in-process sweep."""
    if how.scheduler is None and how.workers is None:
        yield None
        return
    from nnlab.sweep.dask_client import early_client

    with early_client(how.scheduler, how.workers, preload=("nnlab.sweep.dask_tasks",)) as get_client:
        yield get_client


@contextmanager
def _trainer(how: How, progress, talk: bool, folder, stop, get_client):
    """A function that trains a batch in place (results, seconds), saving each group into `folder` as it comes
    back, and returns the signal number that stopped it (0: none): in this process (`stop` is the flag the
    signals set), or on the Dask cluster `get_client` gives."""
    if get_client is None:
        yield lambda b: _in_process(b, progress if talk else None, folder, stop, how)
    else:
        yield lambda b: _on_cluster(b, get_client, how, progress, talk, folder)


def _in_process(b, progress, folder, stop, how: How) -> int:
    """Every group in this process; a signal stops the run in training after its current step (the groups before
    it were saved as they finished)."""
    from nnlab.errors import Interrupted
    from nnlab.sweep.local import run_groups

    offset = folder.extend(b.trials, b.splits, b.groups)
    try:
        b.results, b.seconds = run_groups(b.trials, b.splits, b.groups, on_group=_shower(progress), stop=stop,
                                          on_results=lambda idx, res: folder.add([offset + i for i in idx], res))
    except Interrupted as e:
        how.extra["signum"], how.extra["where"] = e.signum, f" by {e}"
        return e.signum
    return stop.signum


def _shower(progress):
    def show(group):
        if progress is not None:
            progress.print(f"  trained {len(group.trials)} run(s) {group.path}: {group.reason}")
    return show


def _on_cluster(b, get_client, how: How, console, talk: bool, folder) -> int:
    """dask_tasks.run_groups on the cluster, stacks cut into chunks for its workers, each saved into `folder` as it
    comes back, with a progress bar over runs on stderr when it is a terminal. Ctrl-C or SIGTERM cancels what is
    left and keeps what finished."""
    import importlib

    from rich.text import Text

    from nnlab.config import value_text
    from nnlab.sweep import dask_tasks
    from nnlab.training.signals import signals_interrupt

    importlib.import_module("torch")  # the tasks' thread counts and the checkpoints need it: load it as workers start
    slots = how.workers or dask_tasks.worker_slots(get_client())
    b.groups, plan = dask_tasks.chunk_groups(b.trials, b.splits, b.groups, slots)
    client = get_client()
    how.extra.setdefault("cluster", []).append(plan)
    if talk:
        console.print(plan)
    show = _shower(console if talk else None)
    offset = folder.extend(b.trials, b.splits, b.groups)
    keep = lambda idx, res: folder.add([offset + i for i in idx], res)  # noqa: E731
    with signals_interrupt() as caught:
        if not (console.is_terminal and not how.quiet):
            results, b.seconds, interrupted = dask_tasks.run_groups(client, b.trials, b.splits, b.groups,
                                                                    on_group=show, on_results=keep)
        else:
            results, b.seconds, interrupted = _with_bar(client, b, console, show, keep)
    keep(list(range(len(results))), results)  # a cluster's failed runs come back without on_results
    signum = (caught.signum or 2) if interrupted else 0
    if interrupted:
        how.extra["signum"] = signum
        b.trials, b.splits, b.groups, results = dask_tasks.finished_only(b.trials, b.splits, b.groups, results)
    b.results = results
    for trial, result in zip(b.trials, results):
        if result.error:
            where = " ".join([f"seed {trial.seed}", *[f"{k}={value_text(v)}" for k, v in trial.overrides.items()]])
            console.print(Text.assemble(("failed ", "red"), f"{where}: {result.error}"))
    return signum


def _with_bar(client, b, console, show, keep):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from nnlab.sweep import dask_tasks

    columns = (TextColumn("runs"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[counts]}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as live:
        bar_id = live.add_task("runs", total=len(b.trials), counts="")

        def update(p):
            live.update(bar_id, completed=p.done + p.failed,
                        counts=f"running {p.running}, done {p.done}, retried {p.retried}, failed {p.failed}")

        return dask_tasks.run_groups(client, b.trials, b.splits, b.groups, on_progress=update, on_group=show,
                                     on_results=keep)


def _plots(parent, summary: dict) -> list[Path]:
    from nnlab.views.search_plots import save_sweep_plots

    return save_sweep_plots(parent, summary)


def _show(summary: dict, parent, quiet: bool, plots: list) -> None:
    from rich.measure import Measurement

    from nnlab.sweep.aggregate import FAILED_DEFINITION
    from nnlab.views.sweep_table import compute_line, folds_table, points_table, rungs_table

    console = stdout()
    title = f"{summary['name']}: {summary['runs']} runs, {summary['failed']} failed to learn"
    if summary.get("folds"):
        seeds = len(summary["seeds"])
        console.print(f"{summary['folds']}-fold cross-validation ({seeds} seed{'s' * (seeds > 1)}): each metric is the "
                      "mean ± std over the folds' models", soft_wrap=True)
    tables = [points_table(summary["points"], summary["headline"], title)]
    if summary.get("halving") and not quiet:
        tables.append(rungs_table(summary["halving"], summary["headline"]))
    if summary.get("per_fold"):
        tables.append(folds_table(summary["per_fold"], summary["headline"]))
    for table in tables:
        if console.is_terminal:  # a narrow terminal: wider than it rather than numbers cut (a pipe is wide already)
            console.width = max(console.width, Measurement.get(console, console.options.update(max_width=1000),
                                                               table).maximum)
        console.print(table)
    if summary.get("halving") and not quiet:
        console.print(compute_line(summary["halving"]), soft_wrap=True)
    if not quiet:
        console.print(f"failed to learn = {FAILED_DEFINITION}")
        console.print(f"saved {parent} (points.csv, runs.csv, " + "".join(f"{p.name}, " for p in plots)
                      + "one sub-run per model)", soft_wrap=True)
