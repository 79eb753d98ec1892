"""`nnlab export`: a trained run's model as ONNX, TorchScript or safetensors, checked before it is written."""

from pathlib import Path

import typer

from nnlab.cli.main import command, print_json, stdout


@command
def export(
    run_dir: Path = typer.Argument(..., help="A run directory written by nnlab train.", show_default=False),
    fmt: str = typer.Option(..., "--format", "-f", help="onnx, torchscript or safetensors.", show_default=False),
    out: Path = typer.Option(None, "--out", "-o", help="The model file [default: RUN_DIR/export/model.EXT]; the "
                                                       "preprocessing goes beside it, as FILE.json."),
    force: bool = typer.Option(False, "--force", help="Replace --out (and its sidecar) if they exist."),
    json_out: bool = typer.Option(False, "--json", help="Print only a JSON object on stdout."),
):
    """Export a trained model for ONNX, TorchScript or safetensors.

    The file is reloaded with its own runtime and checked on the run's test split: any output further than
    1e-5 from nnlab's is exit 6 and nothing is written.

    \b
    Example:
      nnlab export runs/wine-mlp-20260101-120000 --format onnx --out wine.onnx
    onnx and safetensors need the export extra:
      pip install 'nnlab[export]'
    """
    from nnlab.rundir.export import default_out, export_run, require
    from nnlab.rundir.store import load_run
    from nnlab.training.device import set_threads

    require(fmt)  # before the run is read: a missing extra is exit 2 at once
    run = load_run(run_dir)
    set_threads(run.checkpoint.get("threads", 1))  # the training thread count: nnlab's outputs as train's
    done = export_run(run, fmt, out if out is not None else default_out(run_dir, fmt), force)
    if json_out:
        print_json({"run_dir": str(run_dir), "format": fmt, "out": str(done.out), "sidecar": str(done.sidecar),
                    "split": done.split, "rows": done.rows, "max_abs_diff": done.max_abs_diff,
                    "preprocessing_max_abs_diff": done.preprocessing_diff})
        return
    console = stdout()
    console.print(f"checked: {done.rows} {done.split} rows, largest difference from nnlab's outputs "
                  f"{done.max_abs_diff:.3g} (limit 1e-05)")
    console.print(f"wrote {done.out} and {done.sidecar}", soft_wrap=True)
