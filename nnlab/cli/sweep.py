"""`nnlab sweep` (and `nnlab train --seeds`): a grid of overrides x seeds, one summary row per grid point."""

from pathlib import Path

import typer

from nnlab.cli.main import command, print_json, stderr, stdout
from nnlab.cli.train import CONFIG, OVERRIDES


@command
def sweep(
    config: Path = CONFIG,
    overrides: list[str] = OVERRIDES,
    grid: list[str] = typer.Option(None, "--grid", "-g", help="key=v1,v2,... to try (repeat for a cartesian "
                                                              "grid), e.g. --grid optimizer.lr=0.01,0.1"),
    seeds: str = typer.Option("1", "--seeds", help="Seeds per grid point: a count (5 = 0-4), a range 0-9 "
                                                   "or a list 1,5,7."),
    out: Path = typer.Option(Path("runs"), "--out", "-o", help="Parent folder of the sweep's run directory."),
    vectorize: bool = typer.Option(True, "--vectorize/--no-vectorize",
                                   help="Train compatible runs stacked (default) or one after another."),
    json_out: bool = typer.Option(False, "--json", help="Print only a JSON summary on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the summary table."),
):
    """Train every point of a grid with several seeds; print one row per point, best first.

    Example: nnlab sweep configs/wine_mlp.yaml --grid optimizer.lr=0.01,0.05,0.1 --grid optimizer.momentum=0,0.9 --seeds 5
    """
    from nnlab.sweep import parse_grid, parse_seeds

    train_many(config, list(overrides or []), parse_grid(grid or []), parse_seeds(seeds), out,
               vectorize=vectorize, json_out=json_out, quiet=quiet, kind="sweep")


def train_many(config: Path, overrides: list[str], grid, seeds: list[int], out: Path, *, vectorize: bool,
               json_out: bool, quiet: bool, kind: str) -> None:
    """Expand, load data, plan groups, train, save, report: the many-run data flow."""
    from nnlab import aggregate, multirun, runs
    from nnlab.data import load_data
    from nnlab.sweep import expand, plan

    trials = expand(config, overrides, grid, seeds)
    splits = [load_data(t.cfg) for t in trials]
    groups = plan(trials, splits, vectorize=vectorize)
    talk = not (json_out or quiet)
    progress = stderr()
    if talk:
        progress.print(f"{len(trials)} runs ({len({t.point for t in trials})} grid points x {len(seeds)} seeds) "
                       f"in {len(groups)} group(s)")

    def show_group(group):
        if talk:
            progress.print(f"  trained {len(group.trials)} run(s) {group.path}: {group.reason}")

    results, seconds = multirun.run_groups(trials, splits, groups, on_group=show_group)
    parent = runs.new_run_dir(out, f"{trials[0].cfg.name}-{kind}")
    summary = multirun.save(parent, trials, splits, groups, results, seconds, kind)
    if json_out:
        print_json(summary)
        return
    from rich.measure import Measurement

    console = stdout()
    title = f"{summary['name']}: {summary['runs']} runs, {summary['failed']} failed to learn"
    table = aggregate.points_table(summary["points"], summary["task"], title)
    console.width = max(console.width, Measurement.get(console, console.options.update(max_width=1000), table).maximum)  # numbers whole
    console.print(table)
    if not quiet:
        console.print(f"failed to learn = {aggregate.FAILED_DEFINITION}")
        console.print(f"saved {parent} (points.csv, runs.csv, one sub-run per model)")
