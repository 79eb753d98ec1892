"""The Typer app, its consoles, and the one place where errors become messages and exit codes."""

import functools
import json
import sys

import typer

from nnlab import __version__
from nnlab.errors import CLOSED_STDOUT, NnlabError

app = typer.Typer(
    name="nnlab",
    help="Train small neural networks described in YAML files.\n\n"
         "Example: nnlab train configs/wine_mlp.yaml optimizer.lr=0.1",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: typer's rich help costs ~0.3 s of startup on every --help
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False}


def _show_version(value: bool):
    if value:
        typer.echo(f"nnlab {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: bool = typer.Option(False, "--debug", help="Show a traceback when something fails."),
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                 help="Print the version and exit."),
):
    """Train small neural networks described in YAML files."""
    _state["debug"] = debug


PIPE_WIDTH = 1 << 16  # "columns" of a pipe or a file: wider than any line nnlab prints, so none is cut


def stdout():
    """Console for results (stdout). A terminal wraps at its width; a pipe or a file gets every line whole and every
    table at its natural width (scripts read paths, keys and numbers from it)."""
    from rich.console import Console

    console = Console(soft_wrap=False, highlight=False)
    if not console.is_terminal:
        console.width = PIPE_WIDTH
    return console


def stderr():
    """Console for progress and errors (stderr)."""
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True, highlight=False)


def print_json(obj) -> None:
    """Exactly one JSON object on stdout, nothing else."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def command(func=None, *, name: str | None = None):
    """Register a command whose NnlabErrors become one message on stderr and their exit code."""
    if func is None:
        return lambda f: command(f, name=name)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except NnlabError as e:
            if _state["debug"]:
                raise
            fail(str(e), e.exit_code)
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except BrokenPipeError:  # the reader left (nnlab train --jsonl | head -3): stop quietly, as shell tools do
            import os

            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at Python's flush
            except (OSError, ValueError):  # stdout is not a file descriptor (tests, embedding)
                pass
            raise typer.Exit(CLOSED_STDOUT) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as e:  # noqa: BLE001 - the last line of defence against tracebacks
            if _state["debug"]:
                raise
            fail(f"internal error: {type(e).__name__}: {e} (rerun with --debug for a traceback, "
                 "and please report it)", 1)

    return app.command(name=name)(wrapper)


def fail(message: str, code: int):
    from rich.text import Text

    console = stderr()
    for line in message.splitlines() or [""]:
        console.print(Text("error: ", style="bold red") + Text(line))
    raise typer.Exit(code)
