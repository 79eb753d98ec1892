"""`nnlab runs` and `nnlab compare`: the history of past runs, and runs side by side."""

from pathlib import Path

import typer

from nnlab.cli.main import command, print_json, stdout


@command
def runs(
    folder: Path = typer.Argument(Path("runs"), help="Folder holding run directories (train's --out)."),
    name: str = typer.Option(None, "--name", "-n", help="Only runs whose name contains this text (or matches a "
                                                         "glob such as 'wine*')."),
    limit: int = typer.Option(None, "--limit", min=1, help="Show at most this many (the newest)."),
    json_out: bool = typer.Option(False, "--json", help="Print only a JSON list on stdout."),
):
    """List past runs, newest first.

    One line per run: name, time, model, overrides, epochs, final metrics, status.

    \b
    Example:
      nnlab runs runs/ --name wine --limit 5
    """
    from nnlab.rundir.listing import list_runs
    from nnlab.views import listing

    rows = list_runs(folder, name)[:limit]
    if json_out:
        print_json(rows)
        return
    if not rows:
        stdout().print(f"no runs in {folder}" + (f" matching '{name}'" if name else ""))
        return
    stdout().print(listing.runs_table(rows))


@command
def compare(
    run_dirs: list[Path] = typer.Argument(..., help="Two or more run directories.", show_default=False),
    json_out: bool = typer.Option(False, "--json", help="Print only a JSON object on stdout."),
):
    """Compare runs: config differences and results side by side.

    \b
    Example:
      nnlab compare runs/wine-mlp-20260101-120000 runs/wine-mlp-20260101-120500
    """
    from nnlab.errors import UsageError
    from nnlab.rundir.listing import compare_runs
    from nnlab.views import listing

    if len(run_dirs) < 2:
        raise UsageError("compare: give at least two run directories")
    compared = compare_runs(run_dirs)
    if json_out:
        print_json(compared)
        return
    names = [Path(p).name for p in run_dirs]
    console = stdout()
    if compared["config"]:
        console.print(listing.compare_table(names, list(compared["config"].items()), "config differences"))
    else:
        console.print("the configs are identical")
    console.print(listing.compare_table(names, list(compared["metrics"].items()), "results"))
