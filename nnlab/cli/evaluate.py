"""`nnlab eval`: rebuild a trained model from its run directory and report on a split or a CSV."""

from pathlib import Path

import typer

from nnlab.cli.main import command, print_json, stderr, stdout

DATA = "data"  # the split name of eval --data's rows (README: Names)


@command(name="eval")
def eval_(
    run_dir: Path = typer.Argument(..., help="A run directory written by nnlab train.", show_default=False),
    split: str = typer.Option(None, help="Which split of the run's own data: test, val or train.  [default: test, "
                                         "or train when the run has no test split (what train reported)]",
                              show_default=False),
    data: Path = typer.Option(None, "--data", help="Evaluate on this CSV instead (same columns as training)."),
    device: str = typer.Option("cpu", help="Where to evaluate: cpu, cuda, cuda:N or auto."),
    json_out: bool = typer.Option(False, "--json", help="Print only a JSON object on stdout."),
):
    """Evaluate a trained run: the report train printed, again.

    Rebuilds the model from the run directory alone, on one of its splits or on another CSV.

    \b
    Example:
      nnlab eval runs/wine-mlp-20260101-120000 --split train
    """
    from nnlab.data import load_data, load_labelled_csv
    from nnlab.errors import UsageError
    from nnlab.rundir.receipt import run_data_change
    from nnlab.rundir.store import load_run
    from nnlab.scoring.metrics import assess, rows_per_step
    from nnlab.training.device import resolve_device, set_threads
    from nnlab.training.setup import make_loss
    from nnlab.views import report

    if split not in (None, "test", "val", "train"):
        raise UsageError(f"--split: '{split}' is not a split; use test, val or train")
    dev = resolve_device(device, "--device")
    run = load_run(run_dir)
    set_threads(run.checkpoint.get("threads", 1), f"{run_dir}: checkpoint threads")  # train's count: identical sums
    model = run.build_model(dev)
    features, target = run.checkpoint["feature_names"], run.checkpoint["target_name"]
    changed = None
    if data is not None:
        split = DATA
        X, y = load_labelled_csv(data, run.cfg, run.prep, features, target, run.checkpoint["n_outputs"])
        train_rows = run.checkpoint.get("train_rows") or len(X)
        class_weight = load_data(run.cfg, prep=run.prep).class_weight if run.cfg.train.class_weight else None
    else:
        splits = load_data(run.cfg, prep=run.prep)
        changed = run_data_change(run.path, run.cfg)  # as --resume and reproduce: the numbers would differ
        if changed:
            from rich.text import Text

            stderr().print(Text("warning: ", style="bold yellow") + Text(changed))
        split = split or ("test" if len(splits.X_test) else "train")  # the headline's split, as train reported it
        X, y = {"test": (splits.X_test, splits.y_test), "val": (splits.X_val, splits.y_val),
                "train": (splits.X_train, splits.y_train)}[split]
        if len(X) == 0:
            key = "data.val_size" if split == "val" else "data.test_size"
            raise UsageError(f"{run_dir}: the run has no {split} split ({key} was 0); use --split train")
        train_rows, class_weight = len(splits.X_train), splits.class_weight
    import torch

    tensors = tuple(torch.from_numpy(a).to(dev) for a in (X, y))
    outcome = assess(model, run.cfg, {split: tensors}, make_loss(run.cfg.loss, class_weight).to(dev),
                     rows_per_step(train_rows, run.cfg.train.batch_size), run.prep.classes,
                     run.checkpoint.get("input_names", features))
    if json_out:
        print_json({"run_dir": str(run_dir), "split": split, "data": None if data is None else str(data),
                    "metrics": outcome.metrics, **({"per_class": outcome.per_class} if outcome.per_class else {}),
                    **({"data_changed": changed} if changed else {})})
        return
    stdout().print(report.results(run.cfg, outcome, titles={DATA: str(data)}))
