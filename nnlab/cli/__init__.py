"""The command line: run() runs the Typer app; one module per command (main.ORDER: --help's order)."""

try:
    from nnlab.cli import evaluate, export, grad, inspect, lr_find, predict, reproduce, runs, schema, sweep, train
    from nnlab.cli.main import app, run
except KeyboardInterrupt:  # Ctrl-C while nnlab itself loads (typer, pydantic): no command has started
    import sys

    sys.stderr.write("error: interrupted while nnlab started: nothing saved\n")
    raise SystemExit(130) from None

__all__ = ["app", "run", "evaluate", "export", "grad", "inspect", "lr_find", "predict", "reproduce", "runs", "schema",
           "sweep", "train"]
