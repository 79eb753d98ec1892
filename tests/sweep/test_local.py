"""A sweep trained in this process: groups in order, results in trial order, signals that stop it cleanly."""

import os
import signal
import time

import pytest

from helpers import ROOT, alive, fork_cli
from nnlab.data import load_many
from nnlab.sweep.local import run_groups
from nnlab.sweep.plan import expand, plan


def test_results_come_back_in_trial_order_whatever_the_grouping():
    trials = expand(ROOT / "configs" / "wine_mlp.yaml", ["train.epochs=4"],
                    [("train.batch_size", ["16", "null"])], [0, 1])
    splits = load_many([t.cfg for t in trials])
    groups = plan(trials, splits)
    seen = []
    results, seconds = run_groups(trials, splits, groups, on_group=seen.append)
    assert seen == groups and seconds > 0
    assert [r.fit.steps for r in results] == [4 * 9, 4 * 9, 4, 4]  # 142 rows in batches of 16: 9 a epoch


def test_results_are_handed_over_as_soon_as_they_are_final():
    """A stacked group's all at once, a sequential group's one run at a time: a signal later loses none of them."""
    trials = expand(ROOT / "configs" / "wine_mlp.yaml", ["train.epochs=2"],
                    [("train.batch_size", ["16", "null"])], [0, 1])
    splits = load_many([t.cfg for t in trials])
    handed, events = [], []
    for vectorize in (True, False):
        groups = plan(trials, splits, vectorize=vectorize)
        results, _ = run_groups(trials, splits, groups, on_group=lambda g: events.append("group"),
                                on_results=lambda idx, out: handed.append((idx, out)) or events.append("results"))
        assert all(out == [results[i] for i in idx] for idx, out in handed)
        assert [idx for idx, _ in handed] == ([[0, 1], [2, 3]] if vectorize else [[0], [1], [2], [3]])
        assert events == (["results", "group"] * 2 if vectorize else ["results", "results", "group"] * 2)
        handed.clear(), events.clear()


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_sweep_with_the_shell_code_and_one_line(tmp_path, signum, code):
    err = tmp_path / "stderr.txt"
    pid = fork_cli(["sweep", ROOT / "configs" / "wine_mlp.yaml", "--seeds", "3", "train.epochs=1000000",
                    "--out", tmp_path / "runs"], err)
    deadline = time.monotonic() + 60
    while "group(s)" not in (err.read_text() if err.exists() else ""):  # planned: training starts now
        assert alive(pid) and time.monotonic() < deadline, err.read_text()
        time.sleep(0.01)
    os.kill(pid, signum)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == code
    stderr = err.read_text()
    assert f"error: interrupted by {signal.Signals(signum).name} at epoch" in stderr and "Traceback" not in stderr
