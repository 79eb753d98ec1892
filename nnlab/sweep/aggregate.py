"""Many runs -> one row per grid point: mean ± std, min, max of every metric, and failures to learn.

A run *failed to learn* when it diverged, or when its headline metric on the scored split (test,
or train without a test split) is no better than a constant guess: classification accuracy at most
the majority-class rate + FAIL_MARGIN; regression R² <= 0 (no better than predicting the mean).
"""

import csv
import io
import math

FAIL_MARGIN = 0.05
FAILED_DEFINITION = (f"diverged, or on the scored split (test, else train): accuracy <= majority-class rate "
                     f"+ {FAIL_MARGIN} (classification), R² <= 0 (regression)")


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
    """{'test_accuracy': ..., 'train_loss': ...}: one run's numbers under flat names."""
    row = {f"{split}_{name}": value for split, m in result.metrics.items() for name, value in m.items()}
    finished = result.status in ("finished", "pruned") and result.fit.history  # a diverged run's loss is no result
    row["train_loss"] = result.fit.history[-1]["train_loss"] if finished else math.nan
    return row


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
        p["metrics"] = {name: stats([r.get(name) for r in rows]) for name in names}
        out.append(p)
    headline = headline_metric(out, task)

    def rank(p):  # points halving kept longest first
        best = p["metrics"].get(headline, {}).get("mean")
        loss = p["metrics"]["train_loss"]["mean"]
        return (-p.get("stopped_at", math.inf), best is None, -(best or 0.0), math.inf if loss is None else loss)

    return sorted(out, key=rank)


def headline_metric(points: list[dict], task: str) -> str:
    name = "accuracy" if task == "classification" else "r2"
    has_test = any(f"test_{name}" in p["metrics"] for p in points)
    return f"{'test' if has_test else 'train'}_{name}"


def _metric_order(name: str):
    split, _, metric = name.partition("_")
    return ({"test": 0, "train": 1}.get(split, 2), metric)


def points_csv(points: list[dict]) -> bytes:
    """One row per grid point, best first: overrides, runs, failed, then mean/std/min/max per metric."""
    keys = list(points[0]["overrides"]) if points else []
    names = list(dict.fromkeys(n for p in points for n in p["metrics"]))
    header = ["rank", *keys, "runs", "failed", "diverged",
              *[f"{n}_{s}" for n in names for s in ("mean", "std", "min", "max")]]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for rank, p in enumerate(points, start=1):
        values = [p["metrics"].get(n, {}).get(s) for n in names for s in ("mean", "std", "min", "max")]
        writer.writerow([rank, *[p["overrides"][k] for k in keys], p["runs"], p["failed"], p["diverged"],
                         *["" if v is None else v for v in values]])
    return out.getvalue().encode()


def runs_csv(trials: list, results: list, run_dirs: list[str], task: str) -> bytes:
    """One row per run: its sub-directory, grid values, seed, status, failed, and final metrics."""
    keys = list(trials[0].overrides) if trials else []
    rows = [flat_metrics(r) for r in results]
    names = list(dict.fromkeys(n for r in rows for n in r))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["run_dir", *keys, "seed", "status", "failed", *names])
    for trial, result, run_dir, row in zip(trials, results, run_dirs, rows):
        writer.writerow([run_dir, *[trial.overrides[k] for k in keys], trial.seed, result.status,
                         int(failed_to_learn(result, task)), *[row.get(n, "") for n in names]])
    return out.getvalue().encode()
