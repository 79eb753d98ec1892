"""`nnlab inspect`: a config's model, its loss's backward graph, a gradient check, gradient accumulation."""

from pathlib import Path

import typer

from nnlab.cli.main import command, print_json, stdout
from nnlab.cli.options import CONFIG, OVERRIDES


@command
def inspect(
    config: Path = CONFIG,
    overrides: list[str] = OVERRIDES,
    batch: int = typer.Option(8, "--batch", help="Rows of the train split for the graph, the check and --accumulate."),
    entries: int = typer.Option(64, "--entries", help="Check at most this many entries of each parameter "
                                                      "(a seeded random sample of larger ones)."),
    accumulate: int = typer.Option(None, "--accumulate", help="Show a parameter's gradient norm after 1..N "
                                                              "backward() calls without zeroing, then after zeroing."),
    param: str = typer.Option(None, "--param", help="The parameter --accumulate follows (default: the first)."),
    json_out: bool = typer.Option(False, "--json", help="Print only a JSON object on stdout."),
):
    """Show a config's model, backward graph and gradient check.

    The model layer by layer, its loss's backward graph, and autograd's gradients against finite differences
    (exit 6 if they disagree).

    \b
    Example:
      nnlab inspect configs/wine_mlp.yaml --accumulate 3
    """
    from nnlab.autograd import gradcheck
    from nnlab.autograd.inspect import inspect_model
    from nnlab.config import load_config
    from nnlab.data import load_data

    cfg = load_config(config, list(overrides or []))
    splits = load_data(cfg)
    inspection = inspect_model(cfg, splits, batch_rows=batch, max_entries=entries, accumulate=accumulate,
                               parameter=param)
    if json_out:
        print_json({"config": str(config), "model": cfg.model.kind, "loss": cfg.loss, **inspection.to_dict()})
    else:
        from nnlab.autograd.report import inspect_report

        stdout().print(inspect_report(cfg, inspection, gradcheck.TOLERANCE))
    if not inspection.passed:
        from nnlab.errors import CheckFailed

        failed = ", ".join(f"{r['parameter']} ({r['max_rel_error']:.2e})" for r in inspection.gradcheck
                           if not r["passed"])
        raise CheckFailed(f"{config}: gradient check failed for {failed}: autograd's gradients disagree with finite "
                          f"differences (tolerance {gradcheck.TOLERANCE:g}); check the model's backward")
