"""--help as a person reads it in an 80-column terminal or through a pipe: examples whole, on lines of their own,
pasteable into a shell; nnlab --help lists the commands in README's order, each description whole."""

import re
import subprocess
import sys

import pytest

from helpers import ROOT

SHELL_SPECIAL = set("()[]{}*?;&|<`$!")  # unquoted, these break a pasted command (bash syntax, zsh globs)


def _group():
    import typer.main

    from nnlab.cli import app

    return typer.main.get_command(app)


COMMANDS = list(_group().commands)


def unquoted(command: str) -> str:
    """The characters of a shell command line outside quotes (a backslash-newline continuation dropped)."""
    out, quote, chars = [], None, iter(command.replace("\\\n", " "))
    for char in chars:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "\\":
            next(chars, None)
        else:
            out.append(char)
    assert quote is None, f"unbalanced quote in {command!r}"
    return "".join(out)


def pasteable(command: str) -> bool:
    """A command a shell runs as it is: no unquoted parenthesis, bracket, glob or separator (`>` redirects)."""
    return not SHELL_SPECIAL & set(unquoted(command))


def examples(help_text: str) -> list[list[str]]:
    """The example commands of a help text, each as its lines (a trailing backslash continues a command)."""
    found, current = [], None
    for line in help_text.splitlines():
        text = line.strip()
        if current is not None:
            current.append(text)
        elif m := re.search(r"(?:^|: )((?:nnlab|pip) .*)$", text):
            current = [m.group(1)]
        if current is not None and not text.endswith("\\"):
            found.append(current)
            current = None
    return found


def help_of(cli, *args, columns: int = 80) -> str:
    result = cli.runner.invoke(cli.app, [*args, "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_every_example_is_on_lines_of_its_own_whole_at_80_columns(cli, command):
    text = _group().help if not command else _group().commands[command].help
    shown = examples(text)
    assert shown, f"nnlab {command} --help has no example"
    out = help_of(cli, *filter(None, [command]))
    lines = [line.strip() for line in out.splitlines()]
    for example in shown:
        assert all(part in lines for part in example), (example, out)  # no line of it wrapped or run on
        assert out.count(example[0]) == 1
    assert max(map(len, out.splitlines())) <= 80, out


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_every_example_pastes_into_a_shell(command):
    text = _group().help if not command else _group().commands[command].help
    for example in examples(text):
        line = "\n".join(example)
        assert pasteable(line), line
        assert subprocess.run(["bash", "-n", "-c", line]).returncode == 0, line


def test_sweep_help_quotes_every_distribution_it_shows(cli):
    lines = [line.strip().rstrip("\\") for line in help_of(cli, "sweep").splitlines()]
    sampled = [line for line in lines if re.search(r"=(log)?uniform\(", line)]
    assert len(sampled) == 2 and all(pasteable(line) for line in sampled), sampled


def test_the_checker_catches_what_a_shell_refuses():
    assert not pasteable("nnlab sweep c.yaml --param optimizer.lr=loguniform(1e-3,1)")
    assert not pasteable("nnlab train c.yaml model.hidden=[16,16]")
    assert pasteable("nnlab sweep c.yaml --param \"optimizer.lr=loguniform(1e-3,1)\" \\\n  --param 'x=int(1,2)'")
    assert pasteable("nnlab schema > nnlab.schema.json")
    assert examples("Sampled:\n  nnlab a \\\n    --b c\nnot this") == [["nnlab a \\", "--b c"]]


@pytest.mark.parametrize("args, shown", [
    (["sweep", "CONFIG", "--search", "random"], '--param "optimizer.lr=loguniform(1e-4,1)"'),
    (["sweep", "CONFIG", "--search", "random", "--param", "lr=gauss(0,1)"], '--param "optimizer.lr=loguniform'),
    (["sweep", "CONFIG", "--search", "random", "--param", "lr=uniform(a,b)"], '--param "lr=uniform(1,10)"'),
    (["sweep", "CONFIG", "--search", "random", "--param", "lr=choice()"], '--param "lr=choice(a,b)"'),
    (["grad", "x", "x"], "'m=linspace(-10,10,100)'"),
])
def test_error_hints_show_examples_that_paste(cli, args, shown):
    args = [str(ROOT / "configs" / "wine_mlp.yaml") if a == "CONFIG" else a for a in args]
    stderr = cli(*args, code=2).stderr
    assert shown in stderr and pasteable(shown + ('"' if shown.count('"') % 2 else "")), stderr


def test_nnlab_help_lists_the_commands_in_the_readmes_order_with_descriptions_whole(cli):
    table = (ROOT / "README.md").read_text().split("## Commands", 1)[1].split("Every command has", 1)[0]
    readme_order = list(dict.fromkeys(re.findall(r"`nnlab ([a-z-]+)", table)))
    assert set(readme_order) == set(COMMANDS)
    for columns in (80, 200):
        out = help_of(cli, columns=columns)
        rows = out.split("Commands:", 1)[1].strip().splitlines()
        assert [row.split()[0] for row in rows] == readme_order, out
        for row in rows:
            name, description = row.split(None, 1)
            first_line = _group().commands[name].help.split("\n\n")[0].strip()
            assert description == first_line and "..." not in row, row  # whole, on one line


@pytest.mark.slow
def test_help_through_a_pipe_keeps_examples_whole():
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "COLUMNS": "80"}
    out = subprocess.run([sys.executable, "-m", "nnlab", "sweep", "--help"], capture_output=True, text=True,
                         env=env, cwd=ROOT, check=True).stdout
    lines = [line.strip() for line in out.splitlines()]
    assert '--param "optimizer.lr=loguniform(1e-3,1)" \\' in lines
    assert "nnlab sweep configs/wine_mlp.yaml --grid optimizer.lr=0.01,0.1 --seeds 5" in lines
