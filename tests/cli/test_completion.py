"""Shell completion (Typer's) and an example in every command's --help."""

import os
import subprocess
import sys

import pytest

from helpers import ROOT


def _commands() -> list[str]:
    import typer.main

    from nnlab.cli import app

    return sorted(typer.main.get_command(app).commands)


COMMANDS = _commands()


@pytest.mark.slow
def test_bash_completion_completes_command_names():
    env = {**os.environ, "_NNLAB_COMPLETE": "complete_bash", "COMP_WORDS": "nnlab re", "COMP_CWORD": "1",
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", "from nnlab.cli import app; app(prog_name='nnlab')"],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    assert done.stdout.split() == ["reproduce"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(cli, command):
    assert {"train", "predict", "runs", "compare", "reproduce", "schema"} <= set(COMMANDS)
    out = cli(command, "--help").stdout
    assert "Example: nnlab " + command in " ".join(out.split()).replace("│", "").replace("  ", " ")
