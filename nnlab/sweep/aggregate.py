"""Many runs -> one row per grid point: mean ± std, min, max of every metric, and failures to learn.

A run *failed to learn* when it diverged, or when its headline metric on the scored split (test,
or train without a test split) is no better than a constant guess: classification accuracy at most
the majority-class rate + FAIL_MARGIN; regression R² <= 0 (no better than predicting the mean).
"""

import csv
import io
import math

from nnlab.config.loader import value_text
from nnlab.vocabulary import HEADLINE, STATS, flatten_metrics, nest_metrics, parse_flat

FAIL_MARGIN = 0.05
FAILED_DEFINITION = (f"diverged, or on the scored split (test, else train): accuracy <= majority-class rate "
                     f"+ {FAIL_MARGIN} (classification), r2 <= 0 (regression)")


def scored_split(metrics: dict) -> str:
    return "test" if metrics.get("test") else "train"


def failed_to_learn(result, task: str) -> bool:
    if result.status not in ("finished", "pruned"):  # pruned: judged by its numbers where halving stopped it
        return True
    m = result.metrics[scored_split(result.metrics)]
    if task == "classification":
        return m["accuracy"] <= result.baseline + FAIL_MARGIN
    return not m["r2"] > 0  # NaN counts as a failure


def flat_metrics(result) -> dict:
    """{'test_accuracy': ..., 'train_loss': ...}: one run's final numbers under flat names ({} when it diverged)."""
    return flatten_metrics(result.metrics)


def stats(values: list[float]) -> dict:
    """mean, sample std (0 for one value), min, max of the finite values; n counts them."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return {"mean": None, "std": None, "min": None, "max": None, "n": 0}
    mean = sum(finite) / len(finite)
    var = sum((v - mean) ** 2 for v in finite) / (len(finite) - 1) if len(finite) > 1 else 0.0
    return {"mean": mean, "std": math.sqrt(var), "min": min(finite), "max": max(finite), "n": len(finite)}


def summarize(trials: list, results: list, task: str) -> list[dict]:
    """One dict per grid point, best first (headline metric mean, high first; then train loss, low first).

    With successive halving, points kept to a later rung rank first, and a dropped point has `stopped_at`.
    """
    points: dict[int, dict] = {}
    for trial, result in zip(trials, results):
        p = points.setdefault(trial.point, {"point": trial.point, "overrides": trial.overrides, "seeds": [],
                                            "runs": 0, "failed": 0, "diverged": 0, "_rows": []})
        if getattr(result, "stopped_at", None) is not None:  # successive halving dropped the point there
            p["stopped_at"] = result.stopped_at
        p["seeds"].append(trial.seed)
        p["runs"] += 1
        p["failed"] += failed_to_learn(result, task)
        p["diverged"] += result.status == "diverged"
        p["_rows"].append(flat_metrics(result))
    out = []
    for p in points.values():
        rows = p.pop("_rows")
        names = sorted({k for r in rows for k in r}, key=_metric_order)
        p["metrics"] = nest_metrics({name: stats([r.get(name) for r in rows]) for name in names})
        out.append(p)
    headline = parse_flat(headline_metric(out, task))

    def rank(p):  # points halving kept longest first
        best = p["metrics"].get(headline[0], {}).get(headline[1], {}).get("mean")
        loss = p["metrics"].get("train", {}).get("loss", {}).get("mean")
        return (-p.get("stopped_at", math.inf), best is None, -(best or 0.0), math.inf if loss is None else loss)

    return sorted(out, key=rank)


def headline_metric(points: list[dict], task: str) -> str:
    """What ranks the grid points (flat name): the validation metric when there is one (the test split never
    chooses anything then), else the test metric, else train's."""
    name = HEADLINE[task]
    for split in ("val", "test"):
        if any(name in p["metrics"].get(split, {}) for p in points):
            return f"{split}_{name}"
    return f"train_{name}"


def _metric_order(name: str):
    split, metric = parse_flat(name) or ("", name)
    return ({"test": 0, "val": 1, "train": 2}.get(split, 3), metric)


def point_columns(points: list[dict]) -> list[tuple[str, str]]:
    """(split, name) of every metric any point has, test first."""
    found = {(split, name) for p in points for split, names in p["metrics"].items() for name in names}
    return sorted(found, key=lambda pair: _metric_order(f"{pair[0]}_{pair[1]}"))


def per_fold(trials: list, results: list, run_dirs: list[str]) -> list[dict]:
    """k-fold: one row per model (fold, seed, grid values, status, its sub-run and its final numbers, nested)."""
    return [{"fold": t.fold, "seed": t.seed, "overrides": t.overrides, "status": r.status, "run_dir": d,
             "metrics": r.metrics if r.status == "finished" else {}}
            for t, r, d in zip(trials, results, run_dirs)]


def points_csv(points: list[dict]) -> bytes:
    """One row per grid point, best first: overrides, runs, failed, then {split}_{name}_{stat} per metric."""
    keys = list(points[0]["overrides"]) if points else []
    columns = point_columns(points)
    shown = [s for s in STATS if s != "n"]
    header = ["rank", *keys, "runs", "failed", "diverged",
              *[f"{split}_{name}_{s}" for split, name in columns for s in shown]]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for rank, p in enumerate(points, start=1):
        values = [p["metrics"].get(split, {}).get(name, {}).get(s) for split, name in columns for s in shown]
        writer.writerow([rank, *[value_text(p["overrides"][k]) for k in keys], p["runs"], p["failed"], p["diverged"],
                         *["" if v is None else v for v in values]])
    return out.getvalue().encode()


def runs_csv(trials: list, results: list, run_dirs: list[str], task: str) -> bytes:
    """One row per run: its sub-directory, grid values, seed, status, failed, and final metrics."""
    keys = list(trials[0].overrides) if trials else []
    rows = [flat_metrics(r) for r in results]
    names = list(dict.fromkeys(n for r in rows for n in r))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    folds = ["fold"] if trials and trials[0].fold is not None else []
    writer.writerow(["run_dir", *keys, "seed", *folds, "status", "failed", *names])
    for trial, result, run_dir, row in zip(trials, results, run_dirs, rows):
        writer.writerow([run_dir, *[value_text(trial.overrides[k]) for k in keys], trial.seed,
                         *([trial.fold] if folds else []), result.status, int(failed_to_learn(result, task)),
                         *[row.get(n, "") for n in names]])
    return out.getvalue().encode()
