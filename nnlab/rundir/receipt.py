"""The reproducibility receipt: what a run needs to be trusted and repeated, in receipt.json."""

import functools
import hashlib
import json
import platform
import time
from pathlib import Path

from nnlab.config import RunConfig
from nnlab.errors import CheckpointError, UsageError

RECEIPT = "receipt.json"
_PACKAGES = ("torch", "numpy", "scikit-learn", "pandas", "pydantic")


def config_hash(config: dict) -> str:
    """sha256 of the resolved config as canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def versions() -> dict:
    """python, nnlab and the libraries whose arithmetic or parsing shapes the numbers (a copy of
    _installed(): a sweep writes a receipt per sub-run, and reading package metadata costs ~9 ms)."""
    return dict(_installed())


@functools.cache
def _installed() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    from nnlab import __version__

    found = {"python": platform.python_version(), "nnlab": __version__}
    for name in _PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def data_identity(cfg: RunConfig) -> dict:
    """The data file and its sha256, or the generator and the seed that makes synthetic data."""
    if cfg.data.source == "csv":
        return {"source": "csv", "path": cfg.data.path, "sha256": file_sha256(Path(cfg.data.path))}
    return {"source": cfg.data.source, "generated_from_seed": cfg.seed}


def data_change(cfg: RunConfig, receipt: dict) -> str | None:
    """Why the data file differs from the one the receipt recorded, or None when its sha256 matches (synthetic
    data is made again from its seed: always the same)."""
    recorded = receipt.get("data") or {}
    if cfg.data.source != "csv" or "sha256" not in recorded:
        return None
    now = file_sha256(Path(cfg.data.path))
    if now != recorded["sha256"]:
        return f"{cfg.data.path}: sha256 is {now[7:19]}…, the run recorded {str(recorded['sha256'])[7:19]}…: " \
               "the file changed since training, so the numbers can differ"
    return None


def run_data_change(run_dir: Path, cfg: RunConfig) -> str | None:
    """data_change() against the run's own receipt; None for a run without one (nothing to compare)."""
    try:
        return data_change(cfg, load_receipt(run_dir))
    except CheckpointError:
        return None


def make_receipt(cfg: RunConfig, device, threads: int, overrides: list[str]) -> dict:
    """Everything that decides a run's numbers, as plain data; `device` is a torch.device or its name."""
    device = str(device)
    config = cfg.to_dict()
    return {
        "format": "nnlab-receipt/1",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": config,
        "config_hash": config_hash(config),
        "overrides": list(overrides),
        "data": data_identity(cfg),
        # seed drives python/numpy/torch (dropout too); the data split uses numpy [seed, 1], the validation
        # split [seed, 2], k-fold folds [seed, 3], synthetic data [seed, 0], and minibatch shuffling
        # torch.Generator(seed): all derived from this one.
        "seeds": {"seed": cfg.seed, "split": [cfg.seed, 1], "synthetic_data": [cfg.seed, 0], "shuffle": cfg.seed,
                  **({"validation": [cfg.seed, 2]} if cfg.data.val_size else {}),
                  **({"folds": [cfg.seed, 3]} if cfg.data.folds else {})},
        "versions": versions(),
        "device": device,
        "device_name": _device_name(device),
        "threads": threads,
    }


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()


def save_receipt(run_dir: Path, receipt: dict) -> None:
    from nnlab.rundir.safefile import write_atomic

    write_atomic(Path(run_dir) / RECEIPT, (json.dumps(receipt, indent=2) + "\n").encode())


def load_receipt(run_dir: Path) -> dict:
    """receipt.json of a run directory; missing or garbled is a CheckpointError."""
    from nnlab.rundir.store import other_folder

    path = Path(run_dir) / RECEIPT
    if not Path(run_dir).is_dir():
        raise UsageError(f"{run_dir}: no such run directory")
    if not path.exists():
        raise other_folder(run_dir) or CheckpointError(
            f"{path}: no receipt in this run directory (nnlab train writes one when a run starts: is this a run "
            "directory?)")
    if not path.is_file():  # a FIFO would block the read
        raise CheckpointError(f"{path}: not a regular file; it cannot be reproduced")
    try:
        receipt = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no receipt in this run directory") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: unreadable receipt ({type(e).__name__}); it cannot be reproduced") from None
    if not isinstance(receipt, dict) or not isinstance(receipt.get("config"), dict):
        raise CheckpointError(f"{path}: not an nnlab receipt (no config in it)")
    return receipt


# ---------------------------------------------------------------- a stacked run's stack

_MEMBER_COLUMNS = ("seed", "fold", "stopped_at")  # per member, when the stack records them


def pack_stack(members: list[dict], index: int, halving: dict | None = None) -> dict:
    """A receipt's `stack`: this run's position among `members` ({"seed", "optimizer": {...}, ["fold"],
    ["stopped_at"]}), stored as columns, an optimizer setting only when the members differ in it (the others are
    the receipt's own config), so that K receipts of a K-model stack hold K values each, not K² dicts."""
    record = {"index": index, "size": len(members)}
    for column in _MEMBER_COLUMNS:
        if column in members[0]:
            record[column] = [m[column] for m in members]
    varying = {key: [m["optimizer"][key] for m in members] for key in members[0]["optimizer"]}
    record["optimizer"] = {key: values for key, values in varying.items() if len(set(map(repr, values))) > 1}
    if halving is not None:
        record["halving"] = halving
    return record


def unpack_stack(record: dict) -> tuple[int, list[dict], dict | None]:
    """(index, members as pack_stack() got them, halving or None) from a receipt's `stack`; KeyError, TypeError or
    ValueError when it is garbled."""
    size, index = int(record["size"]), int(record["index"])
    columns = {column: list(record[column]) for column in _MEMBER_COLUMNS if column in record}
    optimizer = {key: list(values) for key, values in dict(record["optimizer"]).items()}
    if any(len(values) != size for values in [*columns.values(), *optimizer.values()]):
        raise ValueError("a column of the stack has the wrong length")
    members = [{**{column: values[j] for column, values in columns.items()},
                "optimizer": {key: values[j] for key, values in optimizer.items()}} for j in range(size)]
    return index, members, record.get("halving")
