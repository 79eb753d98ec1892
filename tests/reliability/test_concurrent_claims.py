"""Reliability: 20 processes that claim one run folder at the same instant never mix their runs in it."""

import json
import os
import threading

import pytest
import torch
import yaml

from helpers import ROOT, exit_code, fork_cli, wait_for, write_config
from nnlab.rundir.store import CHECKPOINT, SUMMARY, load_run

N = 20
# Long enough (a few seconds) that every claimant starts while the first one trains.
CONFIG = """name: race
data: {source: linear, n_samples: 400, weights: [1.0, -2.0, 0.5], noise: 0.1}
model: {kind: mlp, hidden: [32]}
optimizer: {name: adam, lr: 0.01}
train: {epochs: 1000, log_every: 100, checkpoint_every: 25}
"""


def start_together(args_per_child: list[list], tmp_path) -> list[tuple[int, int, str]]:
    """Fork one nnlab per argument list, all waiting on one pipe, release them at once: (pid, exit code, stderr)."""
    gate_r, gate_w = os.pipe()
    children = []
    for n, args in enumerate(args_per_child):
        err = tmp_path / f"stderr-{n}.txt"
        children.append((fork_cli(args, err, gate=gate_r), err))
    os.close(gate_r)
    os.write(gate_w, b"x" * len(children))
    os.close(gate_w)
    return [(pid, exit_code(pid), err.read_text()) for pid, err in children]


def one_winner(outcomes, run_dir) -> int:
    """Exactly one claimant ran; the others were refused (in use: 7, or already a run: 2) naming the folder."""
    winners = [pid for pid, code, _ in outcomes if code == 0]
    assert len(winners) == 1, [(code, err[-200:]) for _, code, err in outcomes]
    for pid, code, err in outcomes:
        if code != 0:
            assert code in (2, 7) and str(run_dir) in err and "Traceback" not in err, (code, err)
            if code == 7:
                assert "in use by another nnlab process" in err
    return winners[0]


@pytest.mark.slow
def test_20_trainings_into_one_run_dir_at_once_leave_one_run_unmixed(tmp_path):
    config = write_config(tmp_path, CONFIG)
    run_dir = tmp_path / "run"
    args = [["train", config, "--run-dir", run_dir, "--quiet", "--no-plots", f"seed={s}"] for s in range(N)]
    outcomes = start_together(args, tmp_path)
    winner = one_winner(outcomes, run_dir)
    seed = [s for s, (pid, _, _) in enumerate(outcomes) if pid == winner][0]
    refused = [err for pid, code, err in outcomes if code == 7]
    assert all(f"(pid {winner}" in err for err in refused)  # the line names the process that has the folder
    # every file is the winner's: config, receipt, checkpoint and summary agree on its seed
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["seed"] == seed
    assert json.loads((run_dir / "receipt.json").read_text())["config"]["seed"] == seed
    assert json.loads((run_dir / SUMMARY).read_text())["seed"] == seed
    run = load_run(run_dir)
    assert run.cfg.seed == seed and run.checkpoint["train_state"]["finished"]
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(
        ["config.yaml", "receipt.json", "metrics.csv", CHECKPOINT, CHECKPOINT + ".sha256", SUMMARY])


@pytest.mark.slow
def test_20_resumes_of_one_run_at_once_finish_it_once_as_an_uninterrupted_run_would(tmp_path):
    config = write_config(tmp_path, CONFIG)
    run_dir, straight = tmp_path / "run", tmp_path / "straight"
    pid = fork_cli(["train", config, "--run-dir", straight, "--quiet", "--no-plots"])
    assert exit_code(pid) == 0
    pid = fork_cli(["train", config, "--run-dir", run_dir, "--quiet", "--no-plots"])
    wait_for(run_dir / CHECKPOINT, lambda: True)
    os.kill(pid, 2)
    assert exit_code(pid) == 130
    outcomes = start_together([["train", "--resume", run_dir, "--quiet", "--no-plots"] for _ in range(N)], tmp_path)
    one_winner(outcomes, run_dir)
    resumed = torch.load(run_dir / CHECKPOINT, weights_only=True)
    expected = torch.load(straight / CHECKPOINT, weights_only=True)
    assert all(torch.equal(resumed["model_state"][k], v) for k, v in expected["model_state"].items())
    assert (run_dir / "metrics.csv").read_bytes() == (straight / "metrics.csv").read_bytes()
    assert not list(run_dir.glob(".*"))  # no lock, no temporaries


def test_20_threads_claiming_one_folder_get_it_once(tmp_path):
    """The same promise inside one process (a sweep's sub-runs, an embedding program): the lock is per claim."""
    from nnlab.config import load_config
    from nnlab.data import load_data
    from nnlab.errors import NnlabError
    from nnlab.rundir.run import Run
    from nnlab.training.setup import prepare

    cfg = load_config(ROOT / "configs" / "linear_regression.yaml", [])
    splits = load_data(cfg)
    setup = prepare(cfg, splits)
    barrier, won, refused = threading.Barrier(N), [], []

    def claim():
        barrier.wait()
        try:
            won.append(Run.claim(cfg, splits, setup.model, setup.device, setup.threads, path=tmp_path / "run"))
        except NnlabError as e:
            refused.append(e.exit_code)

    threads = [threading.Thread(target=claim) for _ in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and refused == [7] * (N - 1)
    won[0].release()
