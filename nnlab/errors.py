"""Typed errors: library code raises these; only the CLI prints them and exits with the code each one carries.

EXIT_CODES below is the one table of nnlab's exit codes (the README's table lists the same codes).
"""


class NnlabError(Exception):
    """Base class: a message for the user and the exit code the CLI returns."""

    exit_code = 1
    summary: dict | None = None  # a run that stopped (interrupted, diverged): the summary.json it saved


class ConfigError(NnlabError):
    """A config file, an override or a command-line argument cannot be used."""

    exit_code = 2


class UsageError(ConfigError):
    """The command line asks for something that cannot be done (existing run directory, missing file)."""


class DataError(NnlabError):
    """A data file cannot be read or does not fit the config."""

    exit_code = 3


class CheckpointError(NnlabError):
    """A checkpoint or run directory is missing, corrupt, or does not fit its config."""

    exit_code = 4


class DivergedError(NnlabError):
    """The training loss stopped being finite."""

    exit_code = 5


class CheckFailed(NnlabError):
    """A check the command exists to run failed: inspect's gradient check, reproduce's numbers."""

    exit_code = 6


class RunInUse(NnlabError):
    """Another process holds the run directory (it is training or saving there now)."""

    exit_code = 7


class Interrupted(NnlabError):
    """Training stopped on SIGINT or SIGTERM; the exit code is the shell's 128 + signal number."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum


CLOSED_STDOUT = 141  # the reader of stdout left (`| head`): the shell's 128 + SIGPIPE

EXIT_CODES = {
    0: "success",
    NnlabError.exit_code: "internal error (a bug: please report it)",
    ConfigError.exit_code: "usage or config error",
    DataError.exit_code: "data error",
    CheckpointError.exit_code: "checkpoint error, or a disk that refuses a save",
    DivergedError.exit_code: "training diverged",
    CheckFailed.exit_code: "a check the command exists to run failed",
    RunInUse.exit_code: "the run directory is in use by another nnlab process",
    128 + 2: "interrupted by SIGINT (Ctrl-C)",
    CLOSED_STDOUT: "stdout was closed by its reader",
    128 + 15: "terminated by SIGTERM",
}


def did_you_mean(word: str, options) -> str:
    """' (did you mean 'x'?)' for the closest option, or '' when nothing is close."""
    import difflib

    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
