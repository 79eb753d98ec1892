import errno
import os

import pytest

from nnlab.rundir.safefile import read_verified, record_path, remove_stale_temporaries, write_atomic, write_verified


def test_write_verified_round_trips_and_records_sha256(tmp_path):
    import hashlib

    path = tmp_path / "checkpoint.pt"
    write_verified(path, b"first")
    write_verified(path, b"second")
    assert read_verified(path) == b"second"
    assert record_path(path).read_text() == f"{hashlib.sha256(b'second').hexdigest()}  checkpoint.pt\n"


@pytest.mark.parametrize("crash_at", [1, 2, 3])
def test_a_crash_at_any_write_leaves_a_file_that_verifies(tmp_path, monkeypatch, crash_at):
    """Replacing a checkpoint is three atomic writes; dying before any of them leaves old or new, verified."""
    import nnlab.rundir.safefile

    path = tmp_path / "checkpoint.pt"
    write_verified(path, b"old")
    real, calls = nnlab.rundir.safefile.write_atomic, []

    def dying(target, data):
        calls.append(target)
        if len(calls) == crash_at:
            raise KeyboardInterrupt  # stands for the process dying here
        real(target, data)

    monkeypatch.setattr(nnlab.rundir.safefile, "write_atomic", dying)
    with pytest.raises(KeyboardInterrupt):
        write_verified(path, b"new")
    assert read_verified(path) == (b"old" if crash_at <= 2 else b"new")


def test_two_saves_killed_in_a_row_still_leave_a_file_that_verifies(tmp_path, monkeypatch):
    """Killed after the first record write twice running: the file on disk is still the first one."""
    import nnlab.rundir.safefile

    path = tmp_path / "checkpoint.pt"
    write_verified(path, b"first")
    real = nnlab.rundir.safefile.write_atomic

    def dying_after_the_record(target, data):
        real(target, data)
        raise KeyboardInterrupt  # the record was written; the process dies before the file is replaced

    monkeypatch.setattr(nnlab.rundir.safefile, "write_atomic", dying_after_the_record)
    for data in (b"second", b"third"):
        with pytest.raises(KeyboardInterrupt):
            write_verified(path, data)
    monkeypatch.undo()
    assert read_verified(path) == b"first"
    write_verified(path, b"fourth")
    assert read_verified(path) == b"fourth" and len(record_path(path).read_text().splitlines()) == 1


def test_stale_temporaries_are_removed(tmp_path):
    (tmp_path / ".checkpoint.pt.tmp").write_bytes(b"half")
    (tmp_path / "metrics.csv").write_text("epoch\n")
    removed = remove_stale_temporaries(tmp_path)
    assert [p.name for p in removed] == [".checkpoint.pt.tmp"] and (tmp_path / "metrics.csv").exists()


def test_disk_full_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    write_verified(path, b"old")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left on device"):
        write_atomic(path, b"new")
    assert read_verified(path) == b"old" and not list(tmp_path.glob(".*.tmp"))
