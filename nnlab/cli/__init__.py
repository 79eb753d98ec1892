"""The command line: `nnlab.cli:app`. Each command lives in its own module here."""

from nnlab.cli.main import app
from nnlab.cli import evaluate, sweep, train  # noqa: F401,E402 - importing registers the commands
from nnlab.cli import grad, inspect  # noqa: F401,E402 - nnlab grad, nnlab inspect (autograd)
from nnlab.cli import predict, reproduce, runs, schema  # noqa: F401,E402 - predict, run history, receipts, schema

__all__ = ["app"]
