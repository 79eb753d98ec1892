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


def test_a_link_planted_at_the_temporary_or_the_target_is_never_followed(tmp_path, monkeypatch):
    """Links at the old fixed temporary name, at the next temporary name nnlab would draw, and at the target itself:
    the victim outside the folder never changes and the target ends a regular file."""
    import nnlab.rundir.safefile as safefile

    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    folder = tmp_path / "run"
    folder.mkdir()
    tokens = iter(["deadbeef", "0badf00d", "0badf00e"])
    monkeypatch.setattr(safefile.secrets, "token_hex", lambda n: next(tokens))
    real_cleanup = safefile.remove_stale_temporaries

    def cleanup_then_plant(folder, legacy_of=None):  # the attacker plants right after the cleanup: a race won
        removed = real_cleanup(folder, legacy_of)
        (folder / f".summary.json.{os.getpid()}-deadbeef.tmp").symlink_to(victim)  # the name nnlab draws first
        return removed

    monkeypatch.setattr(safefile, "remove_stale_temporaries", cleanup_then_plant)
    (folder / ".summary.json.tmp").symlink_to(victim)  # the name nnlab used before
    (folder / "summary.json").symlink_to(victim)
    write_atomic(folder / "summary.json", b"{}")
    assert victim.read_text() == "precious"
    assert not (folder / "summary.json").is_symlink() and (folder / "summary.json").read_bytes() == b"{}"
    assert not (folder / ".summary.json.tmp").exists()  # removed (the link, not its target)
    monkeypatch.setattr(safefile, "remove_stale_temporaries", real_cleanup)
    write_atomic(folder / "summary.json", b"{}")
    assert sorted(p.name for p in folder.iterdir()) == ["summary.json"]  # the next write clears the raced link


def test_temporaries_of_dead_writers_go_on_the_next_write_and_a_live_writers_stay(tmp_path):
    dead = tmp_path / ".wine.csv.999999999-0123abcd.tmp"
    live = tmp_path / f".other.csv.{os.getppid()}-0123abcd.tmp"
    old = tmp_path / ".wine.csv.tmp"
    foreign = tmp_path / ".notes.tmp"  # not nnlab's name for anything written here
    for path in (dead, live, old, foreign):
        path.write_bytes(b"x" * 1000)
    write_atomic(tmp_path / "wine.csv", b"a,b\n")
    assert not dead.exists() and not old.exists() and live.exists() and foreign.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, foreign.name, "wine.csv"])


def test_an_interrupt_while_writing_leaves_no_temporary(tmp_path, monkeypatch):
    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "metrics.csv", b"epoch\n")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_the_record_as_it_was(tmp_path, monkeypatch):
    import hashlib

    import nnlab.rundir.safefile as safefile

    path, real = tmp_path / "checkpoint.pt", safefile.write_atomic

    def full_for_the_file(target, data):
        if target == path:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(target, data)

    monkeypatch.setattr(safefile, "write_atomic", full_for_the_file)
    with pytest.raises(OSError):
        write_verified(path, b"first")
    assert list(tmp_path.iterdir()) == []  # no record of a file that was never written
    monkeypatch.undo()
    write_verified(path, b"first")
    monkeypatch.setattr(safefile, "write_atomic", full_for_the_file)
    with pytest.raises(OSError):
        write_verified(path, b"second")
    assert record_path(path).read_text() == f"{hashlib.sha256(b'first').hexdigest()}  checkpoint.pt\n"
