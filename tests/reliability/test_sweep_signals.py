"""Reliability: SIGINT and SIGTERM at seeded random moments of a real `nnlab sweep` always keep every group that
finished, each an ordinary run directory that loads, and never a half-written one."""

import csv
import json
import os
import random
import signal
import time
from pathlib import Path

import pytest

from helpers import ROOT, alive, exit_code, fork_cli
from nnlab.rundir.store import load_run

MOMENTS = 12
# Four groups (batch sizes differ) of two stacked seeds: eight runs, saved two at a time.
SWEEP = ["sweep", ROOT / "configs" / "wine_mlp.yaml", "--grid", "train.batch_size=64,32,16,8", "--seeds", "2",
         "train.epochs=20"]


def start(out: Path, err: Path) -> int:
    """A forked sweep, returned once it has planned (its signal handlers are in place from then on)."""
    pid = fork_cli([*SWEEP, "--out", out], err)
    deadline = time.monotonic() + 120
    while "group(s)" not in (err.read_text() if err.exists() else ""):
        assert alive(pid) and time.monotonic() < deadline, err.read_text() if err.exists() else ""
        time.sleep(0.005)
    return pid


def kept(out: Path, code: int, err: str) -> int:
    """Check what an (interrupted) sweep left in `out`; the number of runs it kept."""
    assert "Traceback" not in err, err
    folders = list(out.iterdir()) if out.exists() else []
    if not folders:
        assert code in (130, 143) and "none of the 8 runs had finished; nothing saved" in err, (code, err)
        return 0
    [parent] = folders
    subs = sorted(p for p in parent.iterdir() if p.is_dir())
    for sub in subs:  # each an ordinary, complete run directory
        run = load_run(sub)  # sha256 verified
        run.build_model("cpu")
        assert json.loads((sub / "summary.json").read_text())["status"] == "finished"
        assert {"receipt.json", "config.yaml", "metrics.csv"} <= {p.name for p in sub.iterdir()}
    rows = list(csv.DictReader(open(parent / "runs.csv")))
    summary = json.loads((parent / "summary.json").read_text())
    assert [Path(r["run_dir"]).name for r in rows] == [s.name for s in subs] and summary["runs"] == len(subs)
    assert len(subs) % 2 == 0  # whole stacked groups only
    assert not list(parent.rglob(".*")), list(parent.rglob(".*"))  # no temporaries, no lock files
    if code == 0:
        assert len(subs) == 8 and summary["status"] == "finished"
    else:
        assert code in (130, 143) and f"{len(subs)} of 8 runs had finished; saved them in {parent}" in err, err
        assert summary["status"] == ("finished" if len(subs) == 8 else "interrupted")
    return len(subs)


@pytest.mark.slow
def test_signals_at_random_moments_of_a_sweep_keep_every_finished_group(tmp_path):
    err = tmp_path / "whole.txt"
    began = time.monotonic()
    pid = start(tmp_path / "whole", err)
    assert exit_code(pid) == 0
    duration = time.monotonic() - began  # how long a whole sweep takes on this machine now
    assert kept(tmp_path / "whole", 0, err.read_text()) == 8
    rng, seen = random.Random(20261202), []
    for attempt in range(MOMENTS):
        signum = (signal.SIGINT, signal.SIGTERM)[attempt % 2]
        out, err = tmp_path / f"out{attempt}", tmp_path / f"stderr{attempt}.txt"
        pid = start(out, err)
        time.sleep(rng.uniform(0, duration))  # times the signal only: in a step, a save, between groups, at the end
        os.kill(pid, signum)
        code = exit_code(pid)
        assert code in (0, 128 + signum), (code, err.read_text())
        seen.append(kept(out, code, err.read_text()))
    print(f"runs kept at {MOMENTS} random moments: {seen}")
