"""The command line: `nnlab.cli:app`. Each command lives in its own module here."""

from nnlab.cli.main import app
from nnlab.cli import evaluate, sweep, train  # noqa: F401,E402 - importing registers the commands

__all__ = ["app"]
