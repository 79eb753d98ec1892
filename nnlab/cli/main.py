"""The Typer app, its consoles, and the one place where errors become messages and exit codes."""

import functools
import json
import re
import signal
import sys
from contextlib import contextmanager

import typer
from typer.core import TyperGroup

from nnlab import __version__
from nnlab.errors import CLOSED_STDOUT, Interrupted, NnlabError

_CLICK_USAGE_ERROR = typer.BadParameter.__mro__[1]  # click's UsageError, from the click this typer runs on
STARTING = "interrupted before training started: nothing saved"  # Ctrl-C before a command that trains wrote anything

# The commands in the order users meet them (README's table): --help lists them so.
ORDER = ("train", "eval", "check", "sweep", "lr-find", "predict", "export", "runs", "compare", "reproduce", "schema",
         "grad", "inspect")


class _Group(TyperGroup):
    """nnlab itself: its command-line mistakes are one error line and exit 2 like every command's; --help lists the
    commands in ORDER with their descriptions whole; click's exit 1 for a closed stdout is nnlab's 141."""

    def main(self, *args, **kwargs):
        try:
            return super().main(*args, **kwargs)
        except SystemExit as e:
            if e.code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":  # click's sign of a closed stdout
                raise SystemExit(CLOSED_STDOUT) from None
            raise

    def parse_args(self, ctx, args):
        given = list(args)
        try:
            return super().parse_args(ctx, args)
        except _CLICK_USAGE_ERROR as e:
            if type(e).__name__ == "NoArgsIsHelpError":  # bare `nnlab`: the help, as asked for
                raise
            _usage_error(e, given, _options(self), overrides=False, name="")
        except KeyboardInterrupt:  # reading the options imports pydantic: a Ctrl-C can land here
            _interrupted_before(next((a for a in given if not a.startswith("-")), ""))

    def resolve_command(self, ctx, args):
        from nnlab.cli.usage import no_such_command

        if args and self.get_command(ctx, args[0]) is None and not args[0].startswith("-"):
            fail(f"{no_such_command(args[0], self.list_commands(ctx))}; see nnlab --help", 2)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx):
        if not ctx._protected_args and not ctx.args:  # `nnlab --debug` and nothing else
            fail("missing command: nnlab [--debug] COMMAND ...; see nnlab --help", 2)
        name = ctx._protected_args[0] if ctx._protected_args else ""
        try:
            return super().invoke(ctx)  # the command's own errors (Ctrl-C included) are its wrapper's to report
        except KeyboardInterrupt:  # while its arguments were read, before it started
            _interrupted_before(name)

    def list_commands(self, ctx):
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))

    def format_commands(self, ctx, formatter):
        """Each command's first docstring line whole (click cuts it with '...' to fit 80 columns)."""
        rows = [(name, cmd.get_short_help_str(limit=1000)) for name in self.list_commands(ctx)
                if (cmd := self.get_command(ctx, name)) is not None and not cmd.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class Command(typer.core.TyperCommand):
    """A command whose command-line mistakes (an unknown option, a missing argument) are one nnlab error line,
    exit 2, like every other error; an expression that starts with '-' (nnlab grad "-x**2") is told to follow --."""

    def parse_args(self, ctx, args):
        given = list(args)  # the parser consumes the list it is handed
        try:
            return super().parse_args(ctx, args)
        except _CLICK_USAGE_ERROR as e:
            option = getattr(e, "option_name", None) if type(e).__name__ == "NoSuchOption" else None
            token = next((a for a in given if option and a.startswith(option)), option)
            if self.name == "grad" and token and not token.startswith("--"):
                fail(f"grad: '{token}' starts with '-', so it was read as an option; put the expression after --: "
                     f"{self._after_dashes(given, token)}", 2)
            _usage_error(e, given, _options(self), overrides=any(p.name == "overrides" for p in self.params),
                         name=self.name)

    def _after_dashes(self, given: list[str], token: str) -> str:
        """The command line again with its options first, then --, the token and the other arguments."""
        import shlex

        valued = {name for p in self.params if p.param_type_name == "option" and not getattr(p, "is_flag", False)
                  for name in p.opts}
        options, arguments, rest = [], [], [a for a in given if a != token]
        while rest:
            arg = rest.pop(0)
            if arg in valued and rest:
                options += [arg, rest.pop(0)]
            elif arg.startswith("-"):
                options.append(arg)
            else:
                arguments.append(arg)
        return shlex.join(["nnlab", self.name, *options, "--", token, *arguments])


def _interrupted_before(name: str):
    """Ctrl-C before the command `name` started: nothing was written."""
    fail(STARTING if name in ("train", "sweep", "lr-find") else "interrupted", 130)


def _options(command) -> list[str]:
    return [o for p in command.params if p.param_type_name == "option" for o in [*p.opts, *p.secondary_opts]]


def _usage_error(e, given: list[str], options: list[str], overrides: bool, name: str):
    """A click usage error as one line naming the command, with what was probably meant; exit 2."""
    from nnlab.cli.usage import no_such_option

    if type(e).__name__ == "NoSuchOption":
        message = no_such_option(e.option_name, given, options, overrides)
    else:
        message = e.format_message().rstrip(".")
    where = f"nnlab {name}".rstrip()
    fail(f"{name + ': ' if name else ''}{message}; see {where} --help", 2)


app = typer.Typer(
    cls=_Group,
    name="nnlab",
    help="Train small neural networks described in YAML files.\n\n"
         "\b\nExample:\n  nnlab train configs/wine_mlp.yaml optimizer.lr=0.1",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: typer's rich help costs ~0.3 s of startup on every --help
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False, "stdout_closed": False}


def _show_version(value: bool):
    if value:
        typer.echo(f"nnlab {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: bool = typer.Option(False, "--debug", help="Also print the traceback when something fails."),
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                 help="Print the version and exit."),
):
    """Train small neural networks described in YAML files."""
    _state["debug"] = debug


PIPE_WIDTH = 1 << 16  # "columns" of a pipe or a file: wider than any line nnlab prints, so none is cut


def stdout():
    """Console for results (stdout). A terminal wraps at its width; a pipe or a file gets every line whole and every
    table at its natural width (scripts read paths, keys and numbers from it)."""
    console = _console_class()(soft_wrap=False, highlight=False)
    if not console.is_terminal:
        console.width = PIPE_WIDTH
    return console


def stderr():
    """Console for progress and errors (stderr)."""
    return _console_class()(stderr=True, soft_wrap=True, highlight=False)


@functools.cache
def _console_class():
    from rich.console import Console

    class PipeSafeConsole(Console):
        """rich exits 1 when the reader of its stream leaves; this one goes quiet and lets the command finish. Into a
        pipe or a file its lines carry no trailing spaces (rich pads titles and cells to the table's width)."""

        def on_broken_pipe(self) -> None:
            self.quiet = True
            reader_left(self.file, stdout=not self.stderr)

        def _render_buffer(self, buffer) -> str:  # rich's one place where segments become the text written
            text = super()._render_buffer(buffer)
            return text if self.is_terminal else re.sub(r"[ \t]+(?=\n|$)", "", text)

    return PipeSafeConsole


def print_json(obj) -> None:
    """Exactly one JSON object on stdout, nothing else."""
    try:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        reader_left(sys.stdout, stdout=True)


def reader_left(stream, stdout: bool) -> None:
    """The reader of `stream` left (`| head`): nothing more is printed there and the command carries on (a run
    finishes and saves); a closed stdout makes it exit 141 at the end, as shell tools do."""
    import os

    if stdout:
        _state["stdout_closed"] = True
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())  # later writes and Python's last flush: no error
    except (OSError, ValueError, AttributeError):  # not a file descriptor (tests, embedding)
        pass


def command(func=None, *, name: str | None = None):
    """Register a command whose NnlabErrors become one message on stderr and their exit code."""
    if func is None:
        return lambda f: command(f, name=name)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        _state["stdout_closed"] = False
        try:
            result = func(*args, **kwargs)
        except NnlabError as e:
            fail(str(e), e.exit_code, traceback=True)
        except KeyboardInterrupt:
            fail("interrupted", 130, traceback=True)
        except MemoryError:  # the checks up front estimate; an allocation can still fail (exit 2: ask for less)
            fail("out of memory: the data or the model is too big for this machine; use less data (data.n_samples, "
                 "data.features), a smaller model, or a machine with more memory", 2, traceback=True)
        except BrokenPipeError:  # a write that bypassed the consoles: stop quietly, as shell tools do
            reader_left(sys.stdout, stdout=True)
            raise typer.Exit(CLOSED_STDOUT) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as e:  # noqa: BLE001 - the last line of defence against tracebacks
            hint = "please report it" if _state["debug"] else "rerun with --debug for a traceback, and please report it"
            fail(f"internal error: {type(e).__name__}: {e} ({hint})", 1, traceback=True)
        if _state["stdout_closed"]:  # the work is done (a run saved); only its output went nowhere
            raise typer.Exit(CLOSED_STDOUT)
        return result

    return app.command(name=name, cls=Command)(wrapper)


@contextmanager
def before_training():
    """A block where Ctrl-C stops a command that trains before it has written anything (imports, config, data)."""
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(STARTING, signal.SIGINT)  # noqa: B904 - the KeyboardInterrupt stays its context (--debug)


def fail(message: str, code: int, traceback: bool = False):
    """The message as `error:` lines on stderr, then exit `code`; with --debug, the traceback of the exception being
    handled comes first (`traceback`), and the exit code stays the documented one."""
    from rich.text import Text

    if traceback and _state["debug"]:
        import traceback as tb

        tb.print_exc()
    console = stderr()
    for line in message.splitlines() or [""]:
        console.print(Text("error: ", style="bold red") + Text(line))
    raise typer.Exit(code)


def run() -> None:
    """The `nnlab` program (its console script and `python -m nnlab`): the app, then a quick exit.

    Python's own shutdown tears down every module before the process ends: with torch loaded that is about 0.6 s
    (measured: `python -c "import torch"` 1.9 s, 1.3 s ending in os._exit), on every command. What of that
    shutdown a command needs is done here (atexit handlers: temporary folders, child processes; stdout and stderr
    flushed); the module teardown is skipped. Tests call `app` and never come here.
    """
    try:
        app(prog_name="nnlab")
        code = 0
    except SystemExit as e:  # click ends every command so
        code = e.code
    _exit_now(code)


def _exit_now(code) -> None:
    import atexit
    import os

    if isinstance(code, str):  # SystemExit("message"): Python's rule, message on stderr and exit 1
        sys.stderr.write(code + "\n")
        code = 1
    atexit._run_exitfuncs()  # what interpreter shutdown runs first (after joining threads: nnlab leaves none running)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that left (exit 141 is decided already) or a closed stream
            pass
    os._exit(code or 0)
