"""Files that are never half-written: atomic replace, sha256 records checked on read, stale temporaries.

A `kill -9` at any moment leaves each file either old or new and complete. A checkpoint's sha256
is recorded in NAME.sha256 beside it; while a new checkpoint replaces the old one, the record
lists both hashes, so whichever file survives still verifies.
"""

import hashlib
import os
from pathlib import Path

from nnlab.errors import CheckpointError

TMP_SUFFIX = ".tmp"


def _tmp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}{TMP_SUFFIX}")


def write_atomic(path: Path, data: bytes) -> None:
    """Write a temporary file beside `path`, fsync, then rename: readers see old or new, never half.

    An OSError (disk full, read-only folder) leaves `path` as it was and no temporary behind.
    """
    path = Path(path)
    tmp = _tmp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise  # the caller knows what the file is and which error the user gets


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete temporary files a killed writer left in `folder`; returns what was removed."""
    removed = []
    for tmp in Path(folder).glob(f".*{TMP_SUFFIX}"):
        try:
            tmp.unlink()
            removed.append(tmp)
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
    new = sha256_of(data)
    # While the file is replaced, the record accepts the new hash and every hash it accepted so far:
    # one of those is the file on disk now (the last save may itself have been killed halfway).
    _write_record(path, list(dict.fromkeys([new, *_recorded(path)])))
    write_atomic(path, data)
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
