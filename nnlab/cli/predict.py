"""`nnlab predict`: a trained run's predictions on a new CSV."""

from pathlib import Path

import typer

from nnlab.cli.main import command, print_json, stdout


@command
def predict(
    run_dir: Path = typer.Argument(..., help="A run directory written by nnlab train.", show_default=False),
    data: Path = typer.Option(..., "--data", help="CSV with the run's feature columns (a target column is ignored).",
                              show_default=False),
    out: Path = typer.Option(None, "--out", "-o", help="Where to write the predictions CSV "
                             "[default: RUN_DIR/predictions/DATA.csv, numbered instead of overwriting]."),
    force: bool = typer.Option(False, "--force", help="Replace --out if it exists."),
    device: str = typer.Option("cpu", help="Where to run the model: cpu, cuda, cuda:N or auto."),
    rows: int = typer.Option(10, "--rows", min=0, help="How many rows the table shows."),
    json_out: bool = typer.Option(False, "--json", help="Print only {\"out\", \"rows\", ...} as JSON."),
):
    """Predict on new rows with a trained run.

    Writes the input columns plus prediction (and proba_<label> per class).

    \b
    Example:
      nnlab predict runs/wine-mlp-20260101-120000 --data new.csv --out preds.csv
    """
    from nnlab.data.load import other_csv_sep
    from nnlab.rundir.predict import default_out, predict_frame, write_frame
    from nnlab.rundir.store import load_run
    from nnlab.training.device import resolve_device, set_threads
    from nnlab.views import listing

    dev = resolve_device(device, "--device")
    run = load_run(run_dir)
    set_threads(run.checkpoint.get("threads", 1), f"{run_dir}: checkpoint threads")
    frame = predict_frame(run, data, dev)
    path = out if out is not None else default_out(run_dir, data)
    write_frame(frame, path, other_csv_sep(run.cfg), force)
    if json_out:
        print_json({"run_dir": str(run_dir), "data": str(data), "out": str(path), "rows": len(frame)})
        return
    console = stdout()
    if rows:
        console.print(listing.predictions_table(frame, rows))
    console.print(f"wrote {path} ({len(frame)} rows)", soft_wrap=True)  # a path must not wrap
