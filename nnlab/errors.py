"""Typed errors: library code raises these; only the CLI prints them and picks the exit code."""


class NnlabError(Exception):
    """Base class: a message for the user and the exit code the CLI returns."""

    exit_code = 1


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


class Interrupted(NnlabError):
    """Training stopped on SIGINT or SIGTERM; the exit code is the shell's 128 + signal number."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum


def did_you_mean(word: str, options) -> str:
    """' (did you mean 'x'?)' for the closest option, or '' when nothing is close."""
    import difflib

    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
