"""The command line: `nnlab.cli:app`. Each command lives in its own module here."""

from nnlab.cli.main import app

# Importing registers the commands; --help lists them in this order.
from nnlab.cli import train  # noqa: F401,E402 - train, check
from nnlab.cli import evaluate, predict  # noqa: F401,E402 - eval, predict
from nnlab.cli import sweep  # noqa: F401,E402 - sweep
from nnlab.cli import runs, reproduce  # noqa: F401,E402 - runs, compare, reproduce
from nnlab.cli import grad, inspect  # noqa: F401,E402 - grad, inspect (autograd)
from nnlab.cli import schema  # noqa: F401,E402 - schema

__all__ = ["app"]
