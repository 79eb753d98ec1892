"""Files that are never half-written and never written through a link: exclusive temporaries renamed into place,
sha256 records checked on read, stale temporaries removed.

Every file nnlab writes (checkpoint, receipt, config, metrics, summary, predictions, plots, sweep tables)
goes through write_atomic: the bytes go to a fresh temporary beside the target, created with
O_CREAT|O_EXCL|O_NOFOLLOW under an unpredictable name (so a planted link is never followed and never
overwritten), fsynced, then renamed over the target (rename replaces a link at the target itself, never what
it points to). A `kill -9` at any moment leaves each file either old or new and complete. A checkpoint's
sha256 is recorded in NAME.sha256 beside it; while a new checkpoint replaces the old one, the record lists
both hashes, so whichever file survives still verifies.
"""

import hashlib
import os
import re
import secrets
from pathlib import Path

from nnlab.errors import CheckpointError

TMP_SUFFIX = ".tmp"
# .NAME.PID-TOKEN.tmp: the pid says whether its writer is still alive (older nnlab wrote a fixed .NAME.tmp)
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-[0-9a-f]{8}\.tmp$")
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _create_temporary(path: Path) -> tuple[int, Path]:
    """A new file beside `path` that no one else named: (its descriptor, its path)."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TMP_SUFFIX}")
        try:
            return os.open(tmp, _CREATE, 0o666), tmp  # the umask applies, as for any file
        except FileExistsError:  # taken (or a planted link): draw another name
            continue
    raise FileExistsError(f"{path.parent}: cannot create a temporary file there")


def write_atomic(path: Path, data: bytes) -> None:
    """Write an exclusive temporary beside `path`, fsync, then rename: readers see old or new, never half.

    Temporaries that killed writers left in the folder go first. An OSError (disk full, read-only folder)
    or an interrupt leaves `path` as it was and no temporary behind.
    """
    path = Path(path)
    remove_stale_temporaries(path.parent, legacy_of=path.name)
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise  # the caller knows what the file is and which error the user gets


def _writer_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: alive, another user's
        return True
    return True


def remove_stale_temporaries(folder: Path, legacy_of: str | None = None) -> list[Path]:
    """Delete the temporaries of writers that are gone from `folder`; returns what was removed.

    A live writer's temporary is left alone, a link planted under a temporary's name never. Old-style `.NAME.tmp` files (no pid) are removed for every NAME,
    or, with `legacy_of`, only for that name (outside a run directory such a name may be someone else's).
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(".") and name.endswith(TMP_SUFFIX)):
            continue
        match = _TEMPORARY.match(name)
        if entry.is_symlink():  # nnlab's temporaries are regular files: a link there was planted
            stale = True
        elif match:
            stale = not _writer_alive(int(match["pid"]))
        else:
            stale = legacy_of is None or name == f".{legacy_of}{TMP_SUFFIX}"
        if stale:
            try:
                os.unlink(entry.path)  # a link is removed itself, never what it points to
                removed.append(Path(entry.path))
            except OSError:
                pass
    return removed


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_path(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + ".sha256")


def _recorded(path: Path) -> list[str]:
    """The hashes recorded for `path` (sha256sum format: 'HEX  NAME' per line); [] when none."""
    try:
        lines = record_path(path).read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [line.split()[0].lower() for line in lines if line.strip()]


def _write_record(path: Path, hashes: list[str]) -> None:
    name = Path(path).name
    write_atomic(record_path(path), "".join(f"{h}  {name}\n" for h in hashes).encode("ascii"))


def write_verified(path: Path, data: bytes) -> None:
    """write_atomic plus a sha256 record that matches the file on disk at every moment."""
    new, before = sha256_of(data), _recorded(path)
    # While the file is replaced, the record accepts the new hash and every hash it accepted so far:
    # one of those is the file on disk now (the last save may itself have been killed halfway).
    _write_record(path, list(dict.fromkeys([new, *before])))
    try:
        write_atomic(path, data)
    except OSError:  # the file stayed as it was: so does its record (no record for a file never written)
        try:
            _write_record(path, before) if before else record_path(path).unlink(missing_ok=True)
        except OSError:
            pass  # a full disk may refuse it: the record still accepts the file on disk
        raise
    _write_record(path, [new])


def read_verified(path: Path) -> bytes:
    """The file's bytes, after checking them against the recorded sha256 (CheckpointError if they differ)."""
    path = Path(path)
    data = path.read_bytes()
    recorded = _recorded(path)
    if not recorded:
        raise CheckpointError(f"{path}: no sha256 record ({record_path(path).name}) to verify it against; "
                              "nnlab writes one with every checkpoint")
    if sha256_of(data) not in recorded:
        raise CheckpointError(f"{path}: corrupt: its sha256 does not match {record_path(path).name} "
                              "(truncated or modified); resume from another copy or retrain")
    return data
