"""Arguments several commands share: the config file and its key=value overrides."""

from pathlib import Path

import typer

CONFIG: Path = typer.Argument(..., help="YAML config file, e.g. configs/wine_mlp.yaml.", show_default=False)
OVERRIDES: list[str] = typer.Argument(None, help="key=value overrides with dotted keys, e.g. optimizer.lr=0.1 "
                                                 "'model.hidden=[16,16]'.", show_default=False)


def flag_overrides(overrides, **flags) -> list[str]:
    """CLI flags that mirror config keys, as overrides (flags left at None change nothing)."""
    return list(overrides or []) + [f"{key}={value}" for key, value in flags.items() if value is not None]
