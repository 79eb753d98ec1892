"""`nnlab reproduce`: train a run again from its receipt and say whether the numbers match."""

from pathlib import Path

import typer

from nnlab.cli.main import command, print_json, stdout


@command
def reproduce(
    run_dir: Path = typer.Argument(..., help="A run directory written by nnlab train.", show_default=False),
    device: str = typer.Option(None, help="Train on this device instead of the recorded one."),
    json_out: bool = typer.Option(False, "--json", help="Print only a JSON object on stdout."),
):
    """Train a run again from its receipt; compare every number.

    Exit 6 when a number differs from the recorded run.

    \b
    Example:
      nnlab reproduce runs/wine-mlp-20260101-120000
    """
    from rich.text import Text

    from nnlab.cli.main import stderr
    from nnlab.rundir.reproduce import reproduce as run_again
    from nnlab.views import listing

    outcome = run_again(run_dir, device)
    if json_out:
        print_json({"run_dir": str(run_dir), **outcome.to_dict()})
    else:
        console = stdout()
        if outcome.data_changed:
            stderr().print(Text("warning: ", style="bold yellow") + Text(outcome.data_changed))
        console.print(listing.reproduce_table(outcome.rows))
        for line in outcome.differences:
            console.print(Text(f"differs from the recorded run: {line}", style="yellow"))
        if outcome.identical:
            console.print(Text("reproduced: every number is identical", style="bold green"))
        else:
            hint = "" if outcome.differences or outcome.data_changed else \
                " (same versions, device and threads: please report this)"
            console.print(Text(f"not reproduced: some numbers differ{hint}", style="bold yellow"))
    if not outcome.identical:
        from nnlab.errors import CheckFailed

        differ = sum(row["recorded"] != row["reproduced"] for row in outcome.rows)
        raise CheckFailed(f"{run_dir}: not reproduced: {differ} of {len(outcome.rows)} numbers differ from the "
                          "recorded run")
