"""Run history: the run directories under a folder, read back as plain rows; and two or more runs compared."""

import fnmatch
import json
import time
from pathlib import Path

from nnlab.config.loader import MAX_DEPTH, nested_within  # a run's JSON nested deeper is not nnlab's: garbled
from nnlab.errors import UsageError
from nnlab.rundir.lock import in_use
from nnlab.vocabulary import HEADLINE, NAMES, SPLITS, STATS, flat, parse_flat

MAX_BYTES = 10 << 20  # nor is one this large
_MARKERS = ("summary.json", "receipt.json", "config.yaml", "checkpoint.pt")
MANY_KINDS = ("seeds", "folds", "sweep", "lr-find")  # a folder of many runs: train --seeds/--folds, sweep, lr-find


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
    if summary.get("kind") in MANY_KINDS:
        return read_many(path, summary)
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
    name, metrics = config.get("name"), _numbers(summary.get("metrics"))
    return {"run": path.name, "path": str(path), "time": when, "name": name if isinstance(name, str) else None,
            "kind": "run", "model": _model_text(model), "overrides": _texts(receipt.get("overrides")),
            "epochs": _count(summary.get("epochs")) or _count(train.get("epochs")), "epoch": _count(summary.get("epoch")),
            "metrics": metrics, "headline": _headline(metrics), "status": status}


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _count(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _texts(value) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _numbers(metrics, leaf=None) -> dict:
    """{split: {name: number}}: the vocabulary's part of a summary's `metrics`, whatever else it holds (`leaf`: how
    one number is read, e.g. a sweep point's {stat: number})."""
    leaf = leaf or (lambda v: v if _is_number(v) else None)
    return {split: {name: v for name, value in values.items() if name in NAMES and (v := leaf(value)) is not None}
            for split, values in _mapping(metrics).items() if split in SPLITS and isinstance(values, dict)}


def _stats(value) -> dict | None:
    """A sweep point's aggregate of one metric: {mean, std, min, max, n}, numbers or null."""
    stats = {stat: value[stat] if _is_number(value[stat]) else None for stat in STATS if stat in value} \
        if isinstance(value, dict) else {}
    return stats or None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _headline(metrics: dict) -> str | None:
    """The flat name a run is judged by: the test split's headline metric, else train's."""
    for split in ("test", "train"):
        for name in HEADLINE.values():
            if name in metrics.get(split, {}):
                return flat(split, name)
    return None


def read_many(path: Path, summary: dict) -> dict:
    """One row for a folder of many runs (train --seeds/--folds, sweep, lr-find): the command line's overrides, the
    epochs, and the aggregates of its best point (the only one, without a grid) as metrics.{split}.{name}.{stat};
    `best` names that point's overrides (an lr-find: the suggested lr)."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(path.stat().st_mtime))
    status = summary.get("status")
    row = {"run": path.name, "path": str(path), "time": when, "name": summary.get("name"), "kind": summary["kind"],
           "model": str(summary.get("model") or ""), "overrides": _texts(summary.get("overrides")),
           "epochs": _count(summary.get("epochs")), "epoch": None,
           "status": status if isinstance(status, str) else "finished"}
    if summary["kind"] == "lr-find":
        lr, lrs = summary.get("suggested_lr"), summary.get("lrs")
        return {**row, "metrics": {}, "headline": None, "best": {"optimizer.lr": lr if _is_number(lr) else None},
                "runs": len(lrs) if isinstance(lrs, list) else None}
    points = summary.get("points") if isinstance(summary.get("points"), list) else []
    best = _mapping(points[0]) if points else {}
    overrides = _mapping(best.get("overrides"))
    headline, search, seeds = summary.get("headline"), _mapping(summary.get("search")), summary.get("seeds")
    return {**row, "epochs": _count(overrides.get("train.epochs")) or row["epochs"],
            "metrics": _numbers(best.get("metrics"), _stats),
            "headline": headline if parse_flat(str(headline)) else None,
            "best": overrides, "points": len(points),
            "seeds": [s for s in seeds if _count(s) is not None] if isinstance(seeds, list) else [],
            "folds": _count(summary.get("folds")), "search": search.get("strategy"),
            "halving": bool(summary.get("halving")), "runs": _count(summary.get("runs")),
            "failed": _count(summary.get("failed"))}


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
