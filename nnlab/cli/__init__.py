"""The command line: `nnlab.cli:app`. Each command lives in its own module here."""

from nnlab.cli.main import app
from nnlab.cli import evaluate, train  # noqa: F401,E402 - importing registers the commands
from nnlab.cli import predict, reproduce, runs, schema  # noqa: F401,E402 - issue 5's commands

__all__ = ["app"]
