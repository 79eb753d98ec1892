"""Real signals sent to real training processes: SIGINT, SIGTERM, a second Ctrl-C, and kill -9."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from helpers import ROOT, alive, fork_cli, wait_for, write_config
from nnlab.rundir.store import CHECKPOINT, SUMMARY, load_run

# Full batch, one step an epoch, a checkpoint every epoch: many saves for a kill to land in.
LONG = """name: long
data: {source: linear, n_samples: 200, weights: [1.0, -1.0, 0.5], noise: 0.1}
model: {kind: mlp, hidden: [16]}
optimizer: {name: adam, lr: 0.01}
train: {epochs: EPOCHS, log_every: 50, checkpoint_every: 1}
"""


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_saves_the_run_and_exits_with_the_shell_code(tmp_path, signum, code):
    config = write_config(tmp_path, LONG.replace("EPOCHS", "100000"))
    run_dir, err = tmp_path / "run", tmp_path / "stderr.txt"
    pid = fork_cli(["train", config, "--run-dir", run_dir, "--quiet"], err)
    wait_for(run_dir / CHECKPOINT, lambda: alive(pid))
    os.kill(pid, signum)
    if signum == signal.SIGINT:
        os.kill(pid, signum)  # a second Ctrl-C, while the first is being handled, does no harm
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == code, err.read_text()
    stderr = err.read_text()
    assert "Traceback" not in stderr and f"resume with: nnlab train --resume {run_dir}" in stderr
    assert f"interrupted by {signal.Signals(signum).name} at epoch" in stderr
    summary = json.loads((run_dir / SUMMARY).read_text())
    run = load_run(run_dir)  # verifies the checkpoint's sha256
    assert summary["status"] == "interrupted" and summary["steps"] == run.checkpoint["train_state"]["loop"]["steps"]
    assert not list(run_dir.glob(".*.tmp"))


@pytest.mark.slow
def test_python_dash_m_nnlab_exits_130_on_sigint(tmp_path):
    """The installed entry point, not only the in-process app: a fresh interpreter gets the same handling."""
    config = write_config(tmp_path, LONG.replace("EPOCHS", "100000"))
    run_dir = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "nnlab", "train", str(config), "--run-dir", str(run_dir), "-q"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    wait_for(run_dir / CHECKPOINT, lambda: process.poll() is None)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "resume with" in stderr and load_run(run_dir)


@pytest.mark.slow
def test_kill_9_at_20_random_moments_never_loses_the_checkpoint(cli, tmp_path):
    """SIGKILL the training (then each resume) at 20 seeded random moments; every time the latest
    checkpoint verifies, and the final --resume completes with the weights of an uninterrupted run.

    The run is long enough that no child finishes before its kill; the final resume then shortens it
    (with --force) to a few epochs past the last checkpoint, and the straight run trains that long too.
    """
    config = write_config(tmp_path, LONG.replace("EPOCHS", "100000"))
    run_dir, rng = tmp_path / "run", random.Random(20261122)
    epochs_seen, checkpoint = [], run_dir / CHECKPOINT
    for attempt in range(20):
        args = ["train", config, "--run-dir", run_dir] if attempt == 0 else ["train", "--resume", run_dir]
        before = checkpoint.stat().st_mtime_ns if checkpoint.exists() else -1
        pid = fork_cli([*args, "--quiet"])
        # A new checkpoint renamed into place (its sha256 record is written first: a kill between the two keeps
        # the old checkpoint, which still verifies): it has saved once, now it trains and saves.
        wait_for(checkpoint, lambda: alive(pid), after_ns=before)
        time.sleep(rng.uniform(0.0, 0.1))  # times the kill only: it lands in a step or in a save
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, "finished before the kill"
        run = load_run(run_dir)  # sha256 verified, loads with weights_only
        epochs_seen.append(run.checkpoint["train_state"]["loop"]["epoch"])
    assert epochs_seen == sorted(set(epochs_seen))  # every child saved once at least: nothing went back
    epochs = f"train.epochs={epochs_seen[-1] + 30}"
    cli("train", "--resume", run_dir, epochs, "--force", "--quiet")
    cli("train", config, "--run-dir", tmp_path / "straight", epochs, "--quiet")
    resumed = torch.load(run_dir / CHECKPOINT, weights_only=True)["model_state"]
    straight = torch.load(tmp_path / "straight" / CHECKPOINT, weights_only=True)["model_state"]
    assert all(torch.equal(resumed[k], straight[k]) for k in straight)
    assert (run_dir / "metrics.csv").read_bytes() == (tmp_path / "straight" / "metrics.csv").read_bytes()
