"""Run history: the run directories under a folder, read back as plain rows; and two or more runs compared."""

import fnmatch
import json
import time
from pathlib import Path

from nnlab.config.loader import (  # a run's JSON nested deeper is not nnlab's: garbled
    MAX_DEPTH,
    nested_within,
    value_text,
)
from nnlab.errors import UsageError
from nnlab.rundir.lock import in_use
from nnlab.vocabulary import NAMES, SPLITS, parse_flat

MAX_BYTES = 10 << 20  # nor is one this large
_MARKERS = ("summary.json", "receipt.json", "config.yaml", "checkpoint.pt")


def list_runs(parent: Path, name: str | None = None) -> list[dict]:
    """One row per run directory under `parent`, newest first; `name` filters (substring or glob)."""
    parent = Path(parent)
    if not parent.is_dir():
        raise UsageError(f"{parent}: no such folder; nnlab train writes runs under runs/ (or --out)")
    rows = [read_run(path) for path in parent.iterdir()
            if path.is_dir() and any((path / m).is_file() for m in _MARKERS)]
    if name:
        pattern = name if any(c in name for c in "*?[") else f"*{name}*"
        rows = [r for r in rows if fnmatch.fnmatch(r["run"], pattern) or fnmatch.fnmatch(r.get("name") or "", pattern)]
    return sorted(rows, key=lambda r: (r["time"] or "", r["run"]), reverse=True)


def read_run(path: Path) -> dict:
    """What `nnlab runs` shows about one run directory; a missing, garbled or odd file leaves gaps, not errors."""
    summary, receipt, config = _json(path / "summary.json"), _json(path / "receipt.json"), _yaml(path / "config.yaml")
    if summary.get("kind") in ("sweep", "seeds", "folds", "lr-find"):
        return read_search(path, summary)
    config = config or _mapping(receipt.get("config"))
    model, train = _mapping(config.get("model")), _mapping(config.get("train"))
    created = receipt.get("created")
    when = created[:19].replace("T", " ") if isinstance(created, str) else \
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(path.stat().st_mtime))
    if in_use(path):  # a process holds its lock: training (a resumed run's old summary says interrupted)
        status = "running"
    elif summary:
        status = summary.get("status") if isinstance(summary.get("status"), str) else "finished"
    else:  # crashed before the end, or a summary.json that is not a JSON object
        status = "unreadable summary" if (path / "summary.json").exists() else "no summary"
    overrides = receipt.get("overrides")
    name = config.get("name")
    return {"run": path.name, "path": str(path), "time": when, "name": name if isinstance(name, str) else None,
            "model": _model_text(model), "overrides": [str(o) for o in overrides] if isinstance(overrides, list) else [],
            "epochs": _count(summary.get("epochs")) or _count(train.get("epochs")), "epoch": _count(summary.get("epoch")),
            "metrics": _numbers(summary.get("metrics")), "status": status}


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _count(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _numbers(metrics) -> dict:
    """{split: {name: number}}: the vocabulary's part of a summary's `metrics`, whatever else it holds."""
    return {split: {name: v for name, v in values.items() if name in NAMES and _is_number(v)}
            for split, values in _mapping(metrics).items() if split in SPLITS and isinstance(values, dict)}


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_search(path: Path, summary: dict) -> dict:
    """One row for a sweep, `train --seeds` or `lr-find` folder: its best point (or suggested lr) in one line."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(path.stat().st_mtime))
    row = {"run": path.name, "path": str(path), "time": when, "name": summary.get("name"), "kind": summary["kind"],
           "model": str(summary.get("model") or ""), "status": summary.get("status", "finished")}
    if summary["kind"] == "lr-find":
        lr = summary.get("suggested_lr")
        return {**row, "overrides": [f"lr-find: {len(summary.get('lrs') or [])} lrs"], "epochs": summary.get("epochs"),
                "metrics": {}, "best": {"optimizer.lr": lr},
                "result": f"suggested lr {lr:.3g}" if isinstance(lr, (int, float)) else "every lr diverged"}
    points = summary.get("points") if isinstance(summary.get("points"), list) else []
    best = _mapping(points[0]) if points else {}
    headline = summary.get("headline") if isinstance(summary.get("headline"), str) else ""
    split, name = parse_flat(headline) or ("", "")
    metrics = _mapping(best.get("metrics"))
    stats = _mapping(_mapping(metrics.get(split)).get(name))
    loss = _mapping(_mapping(metrics.get("train")).get("loss")).get("mean")
    how = [summary["search"]["strategy"] if isinstance(summary.get("search"), dict) else summary["kind"]] + \
        (["halving"] if summary.get("halving") else [])
    best_text = " ".join(f"{k}={value_text(v)}" for k, v in _mapping(best.get("overrides")).items())
    mean, std = stats.get("mean"), stats.get("std")
    result = f"{headline} {mean:.4f} ± {std:.4f}" if _is_number(mean) and _is_number(std) else ""
    size = f"{len(points)}x{len(summary.get('seeds') or [])}"
    return {**row, "model": f"{row['model']} {' '.join(how)} {size}".strip(),
            "overrides": [f"best: {best_text}"] if best_text else [], "epochs": None,
            "metrics": {"train": {"loss": loss}} if _is_number(loss) else {}, "best": _mapping(best.get("overrides")),
            "result": result, "runs": summary.get("runs"), "failed": summary.get("failed")}


def _model_text(model: dict) -> str:
    kind = model.get("kind")
    kind = kind if isinstance(kind, str) else ""
    hidden = model.get("hidden")
    if kind == "mlp" and isinstance(hidden, list):
        activation = model.get("activation")
        return f"mlp {'-'.join(map(str, hidden))} {activation if isinstance(activation, str) else ''}".strip()
    if kind == "polynomial":
        return f"polynomial degree {model.get('degree')}"
    return kind


def compare_runs(paths: list[Path]) -> dict:
    """{"runs", "config": {key: [value per run]} where they differ, "metrics": {key: [value per run]}}."""
    configs, numbers = [], []
    for path in map(Path, paths):
        if not path.is_dir():
            raise UsageError(f"{path}: no such run directory")
        config = _yaml(path / "config.yaml") or _mapping(_json(path / "receipt.json").get("config"))
        if not config:
            from nnlab.rundir.store import not_a_run

            raise not_a_run(path, "no config.yaml or receipt.json; is it a run directory?")
        configs.append(flatten(config))
        summary = _json(path / "summary.json")
        numbers.append(flatten({k: summary[k] for k in ("status", "epochs", "epoch", "steps", "train_seconds", "metrics",
                                                         "coefficients") if k in summary}))
    return {"runs": [str(p) for p in paths], "config": _side_by_side(configs, only_different=True),
            "metrics": _side_by_side(numbers, only_different=False)}


def flatten(tree, prefix: str = "") -> dict:
    """Nested dicts -> {"dotted.key": value}; lists stay values."""
    flat = {}
    for key, value in (tree or {}).items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        elif not (isinstance(value, dict) and not value):  # an empty split ({}): nothing to show
            flat[f"{prefix}{key}"] = value
    return flat


def _side_by_side(flats: list[dict], only_different: bool) -> dict:
    keys = list(dict.fromkeys(k for flat in flats for k in flat))
    table = {k: [flat.get(k) for flat in flats] for k in keys}
    if only_different:
        table = {k: v for k, v in table.items() if any(x != v[0] for x in v)}
    return table


def _json(path: Path) -> dict:
    """A JSON object from `path`, or {} when the file is missing, garbled, huge, nested too deeply or not an object."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:  # a FIFO would block
            return {}
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) and nested_within(value, MAX_DEPTH) else {}


def _yaml(path: Path) -> dict:
    from nnlab.config import parse_yaml
    from nnlab.errors import ConfigError

    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return {}
        value = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, ConfigError):
        return {}
    return value if isinstance(value, dict) else {}  # parse_yaml refuses deep nesting
