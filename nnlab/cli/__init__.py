"""The command line: `nnlab.cli:app`. Each command lives in its own module here; main.ORDER is --help's order."""

from nnlab.cli import evaluate, export, grad, inspect, lr_find, predict, reproduce, runs, schema, sweep, train
from nnlab.cli.main import app

__all__ = ["app", "evaluate", "export", "grad", "inspect", "lr_find", "predict", "reproduce", "runs", "schema",
           "sweep", "train"]
