"""Running a sweep's groups and writing its run directory: one ordinary sub-run per model, plus aggregates.

    runs/NAME-seeds-STAMP/        (or NAME-sweep-STAMP)
      summary.json                what `--json` prints: paths taken, grid points best first
      points.csv                  one row per grid point: mean, std, min, max per metric
      runs.csv                    one row per model: sub-directory, grid values, seed, status, metrics
      g00-seed0/ ...              a normal run directory each (`nnlab eval` opens it)
"""

import time
from pathlib import Path
from types import SimpleNamespace

from nnlab import aggregate, runs
from nnlab.sweep import Group, Trial, TrialResult, train_group


def run_groups(trials: list[Trial], splits: list, groups: list[Group], on_group=None) -> tuple[list, float]:
    """Train every group (in order), return the results in trial order and the total loop seconds."""
    results: list[TrialResult | None] = [None] * len(trials)
    start = time.perf_counter()
    for group in groups:
        out = train_group([trials[i].cfg.to_dict() for i in group.trials], [splits[i] for i in group.trials],
                          vectorize=group.path == "vectorized")
        for i, result in zip(group.trials, out):
            results[i] = result
        if on_group:
            on_group(group)
    return results, time.perf_counter() - start


def sub_run_name(trial: Trial, n_points: int) -> str:
    return f"g{trial.point:02d}-seed{trial.seed}" if n_points > 1 else f"seed{trial.seed}"


def save(parent: Path, trials: list[Trial], splits: list, groups: list[Group], results: list,
         seconds: float, kind: str, status: str = "finished") -> dict:
    """Write every sub-run and the aggregates; return the summary (what --json prints)."""
    task = trials[0].cfg.task
    n_points = len({t.point for t in trials})
    path_of = {i: g for g in groups for i in g.trials}
    run_dirs = []
    for i, (trial, s, result) in enumerate(zip(trials, splits, results)):
        run_dir = Path(parent) / sub_run_name(trial, n_points)
        run_dir.mkdir()
        run_dirs.append(str(run_dir))
        _save_one(run_dir, trial, s, result, path_of[i].path)
    points = aggregate.summarize(trials, results, task)
    summary = {
        "run_dir": str(parent), "kind": kind, "name": trials[0].cfg.name, "task": task,
        "model": trials[0].cfg.model.kind, "runs": len(trials), "seeds": sorted({t.seed for t in trials}),
        "failed": sum(p["failed"] for p in points), "failed_definition": aggregate.FAILED_DEFINITION,
        "train_seconds": round(seconds, 6), "headline": aggregate.headline_metric(points, task),
        "paths": [{"path": g.path, "runs": len(g.trials), "reason": g.reason} for g in groups],
        "points": points, "status": status,
        "errors": [{"run_dir": d, "seed": t.seed, "overrides": t.overrides, "error": r.error}
                   for t, r, d in zip(trials, results, run_dirs) if r.error]}
    runs.write_atomic(Path(parent) / "points.csv", aggregate.points_csv(points))
    runs.write_atomic(Path(parent) / "runs.csv", aggregate.runs_csv(trials, results, run_dirs, task))
    runs.save_summary(parent, summary)
    return summary


def _save_one(run_dir: Path, trial: Trial, splits, result: TrialResult, path: str) -> None:
    """An ordinary run directory, as `nnlab train` leaves it; a run that did not finish gets no checkpoint
    (its weights are NaN, or there are none) and no final metrics."""
    cfg, finished = trial.cfg, result.status == "finished"
    fit = SimpleNamespace(history=result.history, steps=result.steps, seconds=result.seconds)
    outcome = SimpleNamespace(metrics=result.metrics, extras=result.extras) if finished else None
    where = SimpleNamespace(device=result.device, threads=result.threads)
    summary = {**runs.summary(run_dir, cfg, fit, outcome, where, result.status), "path": path,
               **({"error": result.error} if result.error else {})}
    payload = runs.checkpoint_payload(result.model, cfg, splits.prep, splits.feature_names, splits.target_name,
                                      splits.n_outputs, result.threads) if finished else None
    runs.save_config(run_dir, cfg)
    runs.save_progress(run_dir, result.history, payload, summary)
