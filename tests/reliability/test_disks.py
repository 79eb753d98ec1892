"""Reliability: real full and read-only disks (a small tmpfs, where this machine lets the tests mount one) and a
file-size limit (`ulimit -f`, everywhere): exit 4 or 2 with one line, what was saved before stays loadable, and
no temporary is left behind. Monkeypatched OSErrors cover the same paths in tests/rundir and tests/sweep."""

import json
import os
import resource
import subprocess

import pytest

from helpers import ROOT, exit_code, fork_cli
from nnlab.rundir.store import load_run

RANDOM_CFG = ROOT / "configs" / "random_mlp.yaml"  # a 784-256-10 MLP: each checkpoint is about 0.8 MB
WINE_CFG = ROOT / "configs" / "wine_mlp.yaml"


@pytest.fixture
def disk(tmp_path):
    """`disk(size)`: a fresh tmpfs of that size mounted under tmp_path (skipped where mounting is not allowed);
    `disk.read_only(path)` remounts it read-only. Unmounted afterwards."""
    mounted = []

    def mount(size: str):
        path = tmp_path / f"disk{len(mounted)}"
        path.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()[:80]}); the monkeypatched "
                        "OSError tests cover these paths")
        mounted.append(path)
        return path

    mount.read_only = lambda path: subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)
    yield mount
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def no_temporaries(folder) -> bool:
    return not [p for p in folder.rglob(".*") if p.name != ".lock"] and not list(folder.rglob(".lock"))


@pytest.mark.slow
def test_a_disk_that_fills_up_at_a_checkpoint_is_exit_4_and_the_last_checkpoint_verifies(cli, disk):
    root = disk("1400k")  # one checkpoint fits; a second needs room for its temporary beside the first
    result = cli("train", RANDOM_CFG, "train.checkpoint_every=1", "--run-dir", root / "run", "--quiet", code=4)
    assert "No space left on device" in result.stderr and "the previous checkpoint is intact" in result.stderr
    assert result.stderr.count("\n") == 1
    run = load_run(root / "run")  # sha256 verified
    assert run.checkpoint["train_state"]["loop"]["epoch"] == 2 and no_temporaries(root)


@pytest.mark.slow
def test_a_disk_that_fills_up_mid_sweep_keeps_the_runs_saved_before(cli, disk):
    root = disk("2600k")  # room for two or three sub-runs of a 0.8 MB checkpoint each, not four
    result = cli("sweep", RANDOM_CFG, "--seeds", "4", "--no-vectorize", "train.epochs=2", "--out", root, code=4)
    [parent] = root.iterdir()
    subs = sorted(p for p in parent.iterdir() if p.is_dir())
    assert "No space left on device" in result.stderr
    assert f"the {len(subs)} runs saved before it are in {parent}" in result.stderr
    assert [p.name for p in subs] == [f"seed{s}" for s in range(len(subs))] and 0 < len(subs) < 4
    assert all(load_run(p).build_model("cpu") for p in subs)
    assert not [p for p in parent.rglob(".*")]  # no half-written sub-run, temporary or lock


@pytest.mark.slow
def test_a_sweep_onto_a_full_disk_fails_before_training(cli, disk):
    root = disk("256k")
    (root / "filler").write_bytes(b"\0" * (256 * 1024 - 4096))
    try:
        (root / "filler2").write_bytes(b"\0" * 8192)
    except OSError:
        pass
    result = cli("sweep", WINE_CFG, "--seeds", "2", "train.epochs=2", "--out", root / "runs", code=4)
    assert "No space left on device" in result.stderr and "trained" not in result.stderr
    assert not any((root / "runs").iterdir())


@pytest.mark.slow
def test_a_read_only_disk_fails_a_sweep_and_a_train_before_training(cli, disk):
    root = disk("1m")
    disk.read_only(root)
    for args in (["sweep", WINE_CFG, "--seeds", "2"], ["train", WINE_CFG], ["train", WINE_CFG, "--seeds", "2"]):
        result = cli(*args, "train.epochs=2", "--out", root / "runs", code=2)
        assert "Read-only file system" in result.stderr and "pick another --out" in result.stderr
        assert "trained" not in result.stderr  # refused before any run trained


@pytest.mark.slow
def test_predictions_onto_a_full_disk_leave_no_temporary(cli, disk):
    run_dir = cli.train_json(WINE_CFG, "train.epochs=2")["run_dir"]
    root = disk("64k")
    (root / "filler").write_bytes(b"\0" * (64 * 1024 - 8192))
    result = cli("predict", run_dir, "--data", WINE_CFG.parent.parent / "data" / "wine.csv", "--out", root / "p.csv",
                 code=2)
    assert "No space left on device" in result.stderr and sorted(p.name for p in root.iterdir()) == ["filler"]


def _limited(limit: int):
    """A forked nnlab whose files may not grow past `limit` bytes (RLIMIT_FSIZE, `ulimit -f`)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))  # Python ignores SIGXFSZ: writes fail with EFBIG
    return soft, hard


@pytest.mark.slow
def test_a_file_size_limit_at_the_checkpoint_is_exit_4_and_nothing_half_written_stays(tmp_path):
    err, run_dir = tmp_path / "stderr.txt", tmp_path / "run"
    soft, hard = _limited(200_000)
    try:
        pid = fork_cli(["train", RANDOM_CFG, "--run-dir", run_dir, "--quiet", "--no-plots"], err)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert exit_code(pid) == 4
    assert "File too large" in err.read_text() and "Traceback" not in err.read_text()
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.yaml", "receipt.json"]  # no checkpoint, no temporary
    assert json.loads((run_dir / "receipt.json").read_text())["config"]["name"] == "random-mlp"
    assert not os.path.exists(run_dir / ".lock")
