"""Command-line mistakes: one `error:` line and exit 2, at the top level as in every command, with what was meant."""

import pytest

from helpers import ROOT

WINE_CFG = ROOT / "configs" / "wine_mlp.yaml"


def one_line(result) -> str:
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
    assert "Usage:" not in result.stderr + result.stdout and "Try " not in result.stderr
    return result.stderr


@pytest.mark.parametrize("args, needles, absent", [
    (["frobnicate"], ["No such command 'frobnicate'", "the commands are train, eval,", "see nnlab --help"], []),
    (["trian", "configs/wine_mlp.yaml"], ["No such command 'trian' (did you mean 'train'?)"], ["the commands are"]),
    (["--bogus"], ["No such option: --bogus; see nnlab --help"], ["did you mean"]),
    (["--debgu", "train"], ["No such option: --debgu (did you mean --debug?)"], []),
    (["--debug"], ["missing command", "see nnlab --help"], []),
])
def test_top_level_mistakes_are_one_error_line_and_exit_2(cli, args, needles, absent):
    stderr = one_line(cli(*args, code=2))
    assert all(n in stderr for n in needles) and not any(a in stderr for a in absent), stderr


def test_bare_nnlab_still_shows_the_help(cli):
    shown = cli.runner.invoke(cli.app, []).output  # click's way: the help, on stderr
    assert "Commands:" in shown and "error:" not in shown


@pytest.mark.parametrize("args, needles, absent", [
    (["train", WINE_CFG, "--epochs", "5"], ["No such option: --epochs", "give the override train.epochs=5"],
     ["Possible options", "--plots"]),
    (["train", WINE_CFG, "--epochs=7"], ["give the override train.epochs=7"], []),
    (["check", WINE_CFG, "--hidden", "[16,16]"], ["give the override 'model.hidden=[16,16]'"], []),
    (["inspect", WINE_CFG, "--batch-size", "--json"], ["give the override train.batch_size=VALUE"], []),
    (["train", WINE_CFG, "--patience", "3"],
     ["one of the overrides train.early_stopping.patience=3, train.scheduler.patience=3"], []),
    (["sweep", WINE_CFG, "--seed", "3"], ["(did you mean --seeds?)", "give the override seed=3"], []),
    (["train", WINE_CFG, "--bogus"], ["train: No such option: --bogus; see nnlab train --help"],
     ["Possible options", "--out", "did you mean", "override"]),
    (["train", WINE_CFG, "--no-plot"], ["(did you mean --no-plots?)"], []),
    (["eval", "runs/x", "--epochs", "3"], ["eval: No such option: --epochs; see nnlab eval --help"], ["override"]),
])
def test_an_unknown_option_suggests_a_near_option_or_the_config_override_it_meant(cli, args, needles, absent):
    stderr = one_line(cli(*args, code=2))
    assert all(n in stderr for n in needles) and not any(a in stderr for a in absent), stderr


def test_a_suggested_override_trains(cli):
    stderr = cli("train", WINE_CFG, "--epochs", "2", code=2).stderr
    override = stderr.split("give the override ")[1].split(";")[0]
    assert cli.train_json(WINE_CFG, override)["epochs"] == 2


PROGRAM = """
import atexit, pathlib, sys
marker = pathlib.Path(sys.argv.pop())
atexit.register(lambda: marker.write_text("atexit ran"))
sys.argv = ["nnlab", *sys.argv[1:]]
from nnlab.cli import run
run()
print("not reached")
"""


@pytest.mark.slow
@pytest.mark.parametrize("args, code, out, err", [
    (["check", str(WINE_CFG)], 0, "ok", ""),
    (["check", "no/such.yaml"], 2, "", "error: "),
    (["schema"], 0, '"title"', ""),
])
def test_the_program_exits_quickly_with_its_code_output_and_atexit_handlers(tmp_path, args, code, out, err):
    """run() skips the interpreter's module teardown (torch's costs 0.6 s) but keeps what a command needs: the exit
    code, every byte of stdout and stderr (to a file, not a terminal), and the atexit handlers."""
    import subprocess
    import sys

    marker = tmp_path / "marker"
    with open(tmp_path / "out", "w") as stdout, open(tmp_path / "err", "w") as stderr:
        done = subprocess.run([sys.executable, "-c", PROGRAM, *args, str(marker)], cwd=ROOT, stdout=stdout,
                              stderr=stderr)
    written, errors = (tmp_path / "out").read_text(), (tmp_path / "err").read_text()
    assert done.returncode == code and out in written and err in errors and "not reached" not in written
    assert marker.read_text() == "atexit ran"
    if args == ["schema"]:
        import json

        assert json.loads(written)["title"]  # the whole document, flushed
