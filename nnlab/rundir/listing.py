"""Run history: the run directories under a folder, read back as plain rows; and two or more runs compared."""

import fnmatch
import json
import time
from pathlib import Path

from nnlab.errors import UsageError

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
    """What `nnlab runs` shows about one run directory; a missing or garbled file leaves gaps, not errors."""
    summary, receipt, config = _json(path / "summary.json"), _json(path / "receipt.json"), _yaml(path / "config.yaml")
    if summary.get("kind") in ("sweep", "seeds", "lr-find"):
        return read_search(path, summary)
    config = config or receipt.get("config") or {}
    model = config.get("model") or {}
    created = receipt.get("created")
    when = created[:19].replace("T", " ") if isinstance(created, str) else \
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(path.stat().st_mtime))
    if summary:
        status = summary.get("status", "finished")
    else:  # crashed before the end, still running, or a summary.json that is not JSON
        status = "unreadable summary" if (path / "summary.json").exists() else "no summary"
    return {"run": path.name, "path": str(path), "time": when, "name": config.get("name"),
            "model": _model_text(model), "overrides": receipt.get("overrides", []),
            "epochs": summary.get("epochs") or (config.get("train") or {}).get("epochs"),
            "train_loss": summary.get("train_loss"), "metrics": summary.get("metrics", {}), "status": status}


def read_search(path: Path, summary: dict) -> dict:
    """One row for a sweep, `train --seeds` or `lr-find` folder: its best point (or suggested lr) in one line."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(path.stat().st_mtime))
    row = {"run": path.name, "path": str(path), "time": when, "name": summary.get("name"), "kind": summary["kind"],
           "model": str(summary.get("model") or ""), "status": summary.get("status", "finished")}
    if summary["kind"] == "lr-find":
        lr = summary.get("suggested_lr")
        return {**row, "overrides": [f"lr-find: {len(summary.get('lrs') or [])} lrs"], "epochs": summary.get("epochs"),
                "train_loss": None, "metrics": {}, "best": {"optimizer.lr": lr},
                "result": f"suggested lr {lr:.3g}" if isinstance(lr, (int, float)) else "every lr diverged"}
    points = summary.get("points") or []
    best = points[0] if points else {}
    headline = summary.get("headline") or ""
    stats = (best.get("metrics") or {}).get(headline) or {}
    loss = ((best.get("metrics") or {}).get("train_loss") or {}).get("mean")
    how = [summary["search"]["strategy"] if summary.get("search") else summary["kind"]] + \
        (["halving"] if summary.get("halving") else [])
    best_text = " ".join(f"{k}={v}" for k, v in (best.get("overrides") or {}).items())
    split, _, name = headline.partition("_")
    short = {"accuracy": "acc", "r2": "R²"}.get(name, name)
    result = f"{split} {short} {stats['mean']:.4f} ± {stats['std']:.4f}" if stats.get("mean") is not None else ""
    size = f"{len(points)}x{len(summary.get('seeds') or [])}"
    return {**row, "model": f"{row['model']} {' '.join(how)} {size}".strip(),
            "overrides": [f"best: {best_text}"] if best_text else [], "epochs": None,
            "train_loss": loss, "metrics": {}, "best": best.get("overrides") or {}, "result": result,
            "runs": summary.get("runs"), "failed": summary.get("failed")}


def _model_text(model: dict) -> str:
    kind = model.get("kind", "")
    if kind == "mlp" and isinstance(model.get("hidden"), list):
        return f"mlp {'-'.join(map(str, model['hidden']))} {model.get('activation', '')}".strip()
    if kind == "polynomial":
        return f"polynomial degree {model.get('degree')}"
    return str(kind)


def compare_runs(paths: list[Path]) -> dict:
    """{"runs", "config": {key: [value per run]} where they differ, "metrics": {key: [value per run]}}."""
    configs, numbers = [], []
    for path in map(Path, paths):
        if not path.is_dir():
            raise UsageError(f"{path}: no such run directory")
        config = _yaml(path / "config.yaml") or _json(path / "receipt.json").get("config")
        if not config:
            raise UsageError(f"{path}: no config.yaml or receipt.json; is it a run directory?")
        configs.append(flatten(config))
        summary = _json(path / "summary.json")
        numbers.append(flatten({k: summary[k] for k in ("status", "epochs", "steps", "train_seconds", "train_loss",
                                                         "metrics", "coefficients") if k in summary}))
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
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _yaml(path: Path) -> dict:
    from nnlab.config import parse_yaml
    from nnlab.errors import ConfigError

    try:
        value = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, ConfigError):
        return {}
    return value if isinstance(value, dict) else {}
