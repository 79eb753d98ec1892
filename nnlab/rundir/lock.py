"""A run folder belongs to one process at a time: an OS lock on FOLDER/.lock, held for the run's life.

The lock is flock(2) on the file, so the kernel releases it when the process ends in any way (kill -9
included): a lock file left behind by a killed process is free to take. The file names its holder (pid,
host, command, start) for the message the second process gets, and is removed on release.
"""

import json
import os
import socket
import sys
import time
from pathlib import Path

from nnlab.errors import RunInUse, UsageError

LOCK = ".lock"
_OPEN = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_TRIES = 3  # a `nnlab runs` looking at the folder holds the lock for microseconds: try again before refusing

try:
    import fcntl
except ImportError:  # Windows: an exclusive marker file instead (a killed run's marker is removed by hand)
    fcntl = None


class FolderLock:
    """The held lock on one folder; `release()` (or leaving the `with` block) gives it back."""

    def __init__(self, path: Path, fd: int):
        self.path, self.fd = path, fd

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(self.path)  # while still locked: a process that opened this file finds it gone and retries
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> "FolderLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def lock_folder(folder: Path, command: str | None = None) -> FolderLock:
    """Take `folder`'s lock or raise RunInUse naming the process that has it; an OSError when the folder refuses
    the lock file (read-only, full: the lock is the first thing a run writes)."""
    path = Path(folder) / LOCK
    for attempt in range(100):
        fd = _open(path)
        if fd is None or not _try_lock(fd):
            if fd is not None:
                os.close(fd)
            if attempt + 1 < _TRIES:
                time.sleep(0.05)
                continue
            raise _in_use_error(folder)
        if not _same_file(path, fd):  # the holder removed it on release: lock the new one instead
            os.close(fd)
            continue
        try:
            _write_holder(fd, command)
        except OSError:
            FolderLock(path, fd).release()
            raise
        return FolderLock(path, fd)
    raise RunInUse(f"{folder}: its lock file keeps changing; is another nnlab starting and stopping there?")


def _open(path: Path) -> int | None:
    """The lock file's descriptor (created if needed, never through a link); None when a marker is held (no flock)."""
    if fcntl is None:
        try:
            return os.open(path, _OPEN | os.O_EXCL, 0o644)
        except FileExistsError:
            return None
    try:
        return os.open(path, _OPEN, 0o644)
    except OSError as e:
        if os.path.islink(path):
            raise UsageError(f"{path}: is a symbolic link, not nnlab's lock file; remove it") from None
        raise e


def _try_lock(fd: int, shared: bool = False) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _same_file(path: Path, fd: int) -> bool:
    try:
        return os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _write_holder(fd: int, command: str | None) -> None:
    info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": command or " ".join(["nnlab", *sys.argv[1:]])}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
    os.fsync(fd)  # a full disk shows now, before any training


def holder(folder: Path) -> dict:
    """What the lock file says about its holder ({} when unreadable or half-written)."""
    try:
        info = json.loads((Path(folder) / LOCK).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def describe_holder(folder: Path) -> str:
    info = holder(folder)
    if not info.get("pid"):
        return "another nnlab process"
    where = f" on {info['host']}" if info.get("host") and info["host"] != socket.gethostname() else ""
    return (f"another nnlab process (pid {info['pid']}{where}, `{info.get('command', 'nnlab')}`, "
            f"since {info.get('started', '?')})")


def _in_use_error(folder: Path) -> RunInUse:
    return RunInUse(f"{folder}: in use by {describe_holder(folder)}; wait until it ends or stop it "
                    "(nothing was changed)")


def refuse_if_in_use(folder: Path) -> None:
    """RunInUse naming the holder when a live process has `folder` (before reading a run that may not be saved yet)."""
    if in_use(folder):
        raise _in_use_error(folder)


def in_use(folder: Path) -> bool:
    """Whether a live process holds `folder`'s lock (what `nnlab runs` shows as running)."""
    path = Path(folder) / LOCK
    if not path.is_file():
        return False
    if fcntl is None:
        return True
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        return not _try_lock(fd, shared=True)  # a shared lock is refused only while someone holds it exclusively
    finally:
        os.close(fd)
