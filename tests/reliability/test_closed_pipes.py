"""Reliability: every command that prints, with its stdout closed by the reader (`| head -1`), exits 141 without a
traceback, and what it was doing (a run, a sweep, a predictions file) is finished and saved."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT, WINE, exit_code, fork_cli
from nnlab.rundir.store import load_run

WINE_CFG = ROOT / "configs" / "wine_mlp.yaml"
LINEAR_CFG = ROOT / "configs" / "linear_regression.yaml"


def with_closed_stdout(args: list, tmp_path: Path, name: str) -> tuple[int, str]:
    """Run nnlab with stdout a pipe whose reader has already left: every write fails with EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    err = tmp_path / f"{name}.stderr"
    pid = fork_cli(args, err, stdout=write_end)
    os.close(write_end)
    return exit_code(pid), err.read_text()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two finished runs and an interrupted one to read back, made with stdout open."""
    from helpers import Cli

    out = tmp_path_factory.mktemp("runs")
    cli = Cli(out)
    a = cli.train_json(WINE_CFG, "train.epochs=20")["run_dir"]
    b = cli.train_json(WINE_CFG, "train.epochs=30")["run_dir"]
    return out, a, b


def saved_run(folder: Path) -> dict:
    summary = json.loads((folder / "summary.json").read_text())
    load_run(folder)  # checkpoint verified
    assert not (folder / ".lock").exists() and not list(folder.glob(".*.tmp"))
    return summary


# (id, arguments, what must be saved: "run" in --out, "sweep" in --out, "predictions", or None)
COMMANDS = [
    ("help", ["--help"], None),
    ("version", ["--version"], None),
    ("train-help", ["train", "--help"], None),
    ("schema", ["schema"], None),
    ("check", ["check", WINE_CFG], None),
    ("check-json", ["check", WINE_CFG, "--json"], None),
    ("train", ["train", WINE_CFG, "train.epochs=300", "train.log_every=1", "--no-plots", "--out", "{out}"], "run"),
    ("train-plots", ["train", LINEAR_CFG, "train.epochs=50", "--out", "{out}"], "run"),
    ("train-quiet", ["train", WINE_CFG, "train.epochs=50", "--quiet", "--no-plots", "--out", "{out}"], "run"),
    ("train-json", ["train", WINE_CFG, "train.epochs=50", "--json", "--no-plots", "--out", "{out}"], "run"),
    ("train-jsonl", ["train", WINE_CFG, "train.epochs=300", "train.log_every=1", "--jsonl", "--no-plots",
                     "--out", "{out}"], "run"),
    ("train-seeds", ["train", WINE_CFG, "--seeds", "2", "train.epochs=20", "--out", "{out}"], "sweep"),
    ("sweep", ["sweep", WINE_CFG, "--grid", "train.batch_size=32,64", "train.epochs=10", "--out", "{out}"], "sweep"),
    ("sweep-json", ["sweep", WINE_CFG, "--seeds", "2", "train.epochs=10", "--json", "--out", "{out}"], "sweep"),
    ("eval", ["eval", "{a}"], None),
    ("eval-json", ["eval", "{a}", "--json"], None),
    ("predict", ["predict", "{a}", "--data", WINE, "--out", "{out}/p.csv"], "predictions"),
    ("predict-json", ["predict", "{a}", "--data", WINE, "--out", "{out}/p.csv", "--json"], "predictions"),
    ("runs", ["runs", "{runs}"], None),
    ("runs-json", ["runs", "{runs}", "--json"], None),
    ("compare", ["compare", "{a}", "{b}"], None),
    ("reproduce", ["reproduce", "{a}"], None),
    ("grad", ["grad", "2*x**3 + y", "x=2", "y=1", "--hessian", "--graph"], None),
    ("grad-json", ["grad", "sum(m**2)", "m=linspace(-1,1,1000)", "--json"], None),
    ("inspect", ["inspect", WINE_CFG, "--accumulate", "3"], None),
    ("show-completion", ["--show-completion", "bash"], None),
]


@pytest.mark.slow
@pytest.mark.parametrize("name, args, saves", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_a_closed_stdout_is_exit_141_and_the_work_is_saved(runs, tmp_path, name, args, saves):
    parent, a, b = runs
    out = tmp_path / "out"
    out.mkdir()
    filled = [str(x).format(out=out, a=a, b=b, runs=parent) for x in args]
    code, err = with_closed_stdout(filled, tmp_path, name)
    assert code == 141, (code, err)
    assert "Traceback" not in err and "error" not in err, err
    if saves == "run":
        [run_dir] = out.iterdir()
        assert saved_run(run_dir)["status"] == "finished"
        if "--no-plots" not in args:
            assert (run_dir / "loss.png").exists()
    elif saves == "sweep":
        [sweep] = out.iterdir()
        assert json.loads((sweep / "summary.json").read_text())["status"] == "finished"
        assert all(saved_run(sub)["status"] == "finished" for sub in sweep.iterdir() if sub.is_dir())
    elif saves == "predictions":
        assert (out / "p.csv").read_text().count("\n") == 179


@pytest.mark.slow
@pytest.mark.parametrize("flags", ["", "--jsonl"])
def test_train_piped_to_head_1_exits_141_and_the_run_is_saved(tmp_path, flags):
    """The shell's own pipe: head prints one line and leaves while training still writes rows. (A command that
    prints everything at once may fit in the pipe before head leaves: then it exits 0, as any shell tool does.)"""
    line = (f"{sys.executable} -m nnlab train {WINE_CFG} train.epochs=1000 train.log_every=1 {flags} --no-plots "
            f"--out {tmp_path / 'out'} | head -1; echo \"exit=${{PIPESTATUS[0]}}\"")
    result = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[-1] == "exit=141", (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "error" not in result.stderr
    [folder] = (tmp_path / "out").iterdir()
    summary = saved_run(folder)
    assert summary["status"] == "finished" and summary["epochs"] == 1000
