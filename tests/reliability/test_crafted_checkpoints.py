"""Reliability: checkpoints edited by hand or by an attacker (their sha256 fixed up) are exit 4 from every command
that reads one, with one line naming what does not fit, and nothing is changed."""

import shutil
from pathlib import Path

import pytest

from helpers import CRAFTED, ROOT, WINE, Cli, craft_checkpoint

COMMANDS = {"eval": ["eval", "{run}"], "eval-data": ["eval", "{run}", "--data", WINE],
            "predict": ["predict", "{run}", "--data", WINE, "--out", "{run}/p.csv"],
            "resume": ["train", "--resume", "{run}", "train.epochs=30", "--force"]}


@pytest.fixture(scope="module")
def wine_run(tmp_path_factory):
    cli = Cli(tmp_path_factory.mktemp("runs"))
    return Path(cli.train_json(ROOT / "configs" / "wine_mlp.yaml", "train.epochs=20", "--no-plots")["run_dir"])


@pytest.mark.slow
@pytest.mark.parametrize("case, edit, key", CRAFTED, ids=[c[0] for c in CRAFTED])
def test_a_crafted_checkpoint_is_exit_4_from_every_command_that_reads_it(cli, wine_run, tmp_path, case, edit, key):
    run = tmp_path / "run"
    shutil.copytree(wine_run, run)
    craft_checkpoint(run, edit)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    for command, args in COMMANDS.items():
        result = cli(*[str(a).format(run=run) for a in args], code=4)
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, (command, result.stderr)
        assert key in result.stderr or "not an nnlab checkpoint" in result.stderr, (command, result.stderr)
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before  # nothing written, nothing half-done
