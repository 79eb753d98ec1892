"""Command-line mistakes (an unknown command or option, a missing argument) as one line that says what to do."""

import shlex

from nnlab.errors import did_you_mean


def no_such_command(name: str, commands: list[str]) -> str:
    """'No such command 'trian' (did you mean 'train'?)', or the list of commands when nothing is close."""
    near = did_you_mean(name, commands)
    return f"No such command '{name}'" + (near or f"; the commands are {', '.join(commands)}")


def no_such_option(option: str, given: list[str], options: list[str], overrides: bool) -> str:
    """'No such option: --X' and what was probably meant: an option spelled nearly so, or (for a command that takes
    key=value overrides) the config key whose last part is X, as the override to give instead."""
    message = f"No such option: {option}" + _near_option(option, options)
    keys = config_keys_named(option.lstrip("-").replace("-", "_")) if overrides and option.startswith("--") else []
    if keys:
        value = _value_after(option, given)
        shown = [shlex.quote(f"{key}={value}") for key in keys]
        message += f"; to set the config key, give the override {shown[0]}" if len(shown) == 1 else \
            f"; to set a config key, give one of the overrides {', '.join(shown)}"
    return message


def _near_option(option: str, options: list[str]) -> str:
    """' (did you mean --json?)' for an option spelled nearly the same (its dashes not counted), else ''."""
    import difflib

    bare = {o.lstrip("-"): o for o in options if o.startswith("--") == option.startswith("--")}
    close = difflib.get_close_matches(option.lstrip("-"), list(bare), n=1, cutoff=0.75)
    return f" (did you mean {bare[close[0]]}?)" if close else ""


def _value_after(option: str, given: list[str]) -> str:
    """The value typed with an unknown option (`--epochs 5` or `--epochs=5`), or VALUE."""
    for i, arg in enumerate(given):
        if arg.startswith(option + "="):
            return arg[len(option) + 1:]
        if arg == option:
            following = given[i + 1] if i + 1 < len(given) else ""
            return following if following and not following.startswith("-") else "VALUE"
    return "VALUE"


def config_keys_named(name: str) -> list[str]:
    """The dotted config keys whose last part is `name` (epochs -> train.epochs)."""
    from nnlab.config.schema import config_keys

    return [key for key in config_keys() if key.rpartition(".")[2] == name]
