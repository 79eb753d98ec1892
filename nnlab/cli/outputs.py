"""What `nnlab train` adds around the core run: receipt, baseline, plots, and the closing terminal view."""

import sys
from pathlib import Path


def save_receipt(run_dir: Path, cfg, setup, overrides: list[str], resumed: bool = False) -> None:
    """receipt.json, written before training so interrupted runs have one too.

    A resumed run's receipt describes the config it now trains with (a --force resume may change it),
    keeps the original creation time, and lists the first run's overrides before the resume's.
    """
    from nnlab import receipt
    from nnlab.errors import CheckpointError

    new = receipt.make_receipt(cfg, setup.device, setup.threads, overrides)
    if resumed:
        try:
            old = receipt.load_receipt(run_dir)
            new.update(created=old.get("created", new["created"]), overrides=[*old.get("overrides", []), *overrides])
        except CheckpointError:  # a run from before receipts: start one now
            pass
    receipt.save_receipt(run_dir, new)


def add_baseline(summary: dict, cfg, splits, setup, always: bool):
    """Fit the baseline when cheap or asked for; put it in `summary` and return its table (or None)."""
    from nnlab import baseline, report
    from nnlab.metrics import predict_scores

    if not (always or baseline.is_cheap(cfg)):
        return None
    X, _, X_test, _ = setup.tensors
    network = {"train": predict_scores(setup.model, X), "test": predict_scores(setup.model, X_test)}
    compared = baseline.compare(cfg, splits, network)
    if compared is None:
        return None
    summary["baseline"] = compared
    return report.baseline_table(cfg, compared)


def save_plots(run_dir: Path, cfg, history: list[dict], setup, splits, baseline: dict | None) -> list[Path]:
    from nnlab import plots

    return plots.save_run_plots(run_dir, cfg, history, setup.model, splits, setup.device, baseline)


def print_epilogue(console, history: list[dict], plots: list[Path]) -> None:
    """At the end of an interactive run: the loss curve as a sparkline, and where the plots are."""
    from nnlab.sparkline import loss_curves

    if sys.stdout.isatty():
        curves = loss_curves(history)
        if curves.plain:
            console.print(curves)
    if plots:
        console.print(f"plots: {', '.join(p.name for p in plots)}")
