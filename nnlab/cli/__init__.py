"""The command line: `nnlab.cli:app`. Each command lives in its own module here."""

# Importing registers the commands; --help lists them in this order.
from nnlab.cli import (  # noqa: F401,E402 - eval, predict  # noqa: F401,E402 - runs, compare, reproduce  # noqa: F401,E402 - grad, inspect (autograd)
    evaluate,
    export,  # noqa: F401,E402 - export
    grad,
    inspect,
    lr_find,  # noqa: F401,E402 - lr-find
    predict,
    reproduce,
    runs,
    schema,  # noqa: F401,E402 - schema
    sweep,  # noqa: F401,E402 - sweep
    train,  # noqa: F401,E402 - train, check
)
from nnlab.cli.main import app

__all__ = ["app"]
