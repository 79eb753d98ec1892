"""A run folder's lock: one holder at a time, named to the second process, freed by release or by death."""

import os
import signal

import pytest

from nnlab.errors import RunInUse, UsageError
from nnlab.rundir.lock import LOCK, holder, in_use, lock_folder


def test_a_second_lock_is_refused_naming_the_holder_and_release_frees_it(tmp_path):
    first = lock_folder(tmp_path, command="nnlab train a.yaml")
    assert in_use(tmp_path) and holder(tmp_path)["pid"] == os.getpid()
    with pytest.raises(RunInUse) as refused:
        lock_folder(tmp_path)
    message = str(refused.value)
    assert str(tmp_path) in message and f"pid {os.getpid()}" in message and "nnlab train a.yaml" in message
    first.release()
    assert not (tmp_path / LOCK).exists() and not in_use(tmp_path)
    with lock_folder(tmp_path):  # free again
        assert in_use(tmp_path)
    assert not in_use(tmp_path)


def test_a_lock_file_left_by_a_dead_process_is_free_to_take(tmp_path):
    (tmp_path / LOCK).write_text('{"pid": 999999999, "command": "nnlab train (killed)"}\n')
    assert not in_use(tmp_path)
    with lock_folder(tmp_path):
        assert holder(tmp_path)["pid"] == os.getpid()


@pytest.mark.slow
def test_kill_9_of_the_holder_frees_the_lock(tmp_path):
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: take the lock, say so, wait to be killed
        lock_folder(tmp_path)
        os.write(ready_w, b"x")
        signal.pause()
        os._exit(0)
    os.read(ready_r, 1)
    assert in_use(tmp_path)
    with pytest.raises(RunInUse, match=f"pid {pid}"):
        lock_folder(tmp_path)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert (tmp_path / LOCK).exists() and not in_use(tmp_path)  # the file stays; the kernel freed the lock
    lock_folder(tmp_path).release()


def test_a_link_planted_as_the_lock_file_is_refused_and_its_target_untouched(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK).symlink_to(victim)
    with pytest.raises(UsageError, match="symbolic link"):
        lock_folder(run)
    assert victim.read_text() == "precious"
