"""Writing a sweep's folder: one ordinary sub-run per model (through Run), plus the aggregates.

    runs/NAME-seeds-STAMP/        (or NAME-sweep-STAMP)
      summary.json                what `--json` prints: paths taken, grid points best first
      points.csv                  one row per grid point: mean, std, min, max per metric
      runs.csv                    one row per model: sub-directory, grid values, seed, status, metrics
      g00-seed0/ ...              a normal run directory each (`nnlab eval` and `nnlab reproduce` open it)
"""

from pathlib import Path

from nnlab.rundir import store
from nnlab.rundir.run import Run
from nnlab.rundir.safefile import write_atomic
from nnlab.sweep import aggregate
from nnlab.sweep.plan import VECTORIZED_KEYS, Group, Trial
from nnlab.training.group import TrialResult


def sub_run_name(trial: Trial, n_points: int) -> str:
    return f"g{trial.point:02d}-seed{trial.seed}" if n_points > 1 else f"seed{trial.seed}"


def save(parent: Path, trials: list[Trial], splits: list, groups: list[Group], results: list,
         seconds: float, kind: str, status: str = "finished", extra: dict | None = None) -> dict:
    """Write every sub-run and the aggregates; return the summary (what --json prints), with `extra` keys."""
    task = trials[0].cfg.task
    n_points = len({t.point for t in trials})
    path_of = {i: g for g in groups for i in g.trials}
    run_dirs = []
    for i, (trial, s, result) in enumerate(zip(trials, splits, results)):
        run_dir = Path(parent) / sub_run_name(trial, n_points)
        run_dirs.append(str(run_dir))
        group = path_of[i]
        stack = stack_record(trials, group, i, results) if group.path == "vectorized" else None
        save_sub_run(run_dir, trial, s, result, group.path, stack)
    points = aggregate.summarize(trials, results, task)
    summary = {
        "run_dir": str(parent), "kind": kind, "name": trials[0].cfg.name, "task": task,
        "model": trials[0].cfg.model.kind, "runs": len(trials), "seeds": sorted({t.seed for t in trials}),
        "failed": sum(p["failed"] for p in points), "failed_definition": aggregate.FAILED_DEFINITION,
        "train_seconds": round(seconds, 6), "headline": aggregate.headline_metric(points, task),
        "paths": [{"path": g.path, "runs": len(g.trials), "reason": g.reason} for g in groups],
        "points": points, "status": status,
        "errors": [{"run_dir": d, "seed": t.seed, "overrides": t.overrides, "error": r.error}
                   for t, r, d in zip(trials, results, run_dirs) if r.error], **(extra or {})}
    with store.saving(parent):
        write_atomic(Path(parent) / "points.csv", aggregate.points_csv(points))
        write_atomic(Path(parent) / "runs.csv", aggregate.runs_csv(trials, results, run_dirs, task))
    store.save_summary(parent, summary)
    return summary


def stack_record(trials: list[Trial], group: Group, i: int, results: list | None = None) -> dict:
    """The stack trial i trained in, for its receipt: its position and every member's seed and per-model
    optimizer settings (the rest of their configs is trial i's), so `nnlab reproduce` can train it again;
    with successive halving, the rungs and the epoch each member was dropped at (None: kept to the end)."""
    def member(j):
        optimizer = trials[j].cfg.optimizer.model_dump(mode="json")
        m = {"seed": trials[j].cfg.seed, "optimizer": {k: optimizer[k] for k in VECTORIZED_KEYS if k in optimizer}}
        return {**m, "stopped_at": results[j].stopped_at} if group.halving else m

    record = {"index": group.trials.index(i), "members": [member(j) for j in group.trials]}
    return {**record, "halving": {"rungs": group.halving["rungs"]}} if group.halving else record


def save_sub_run(run_dir: Path, trial: Trial, splits, result: TrialResult, path: str, stack: dict | None = None) -> None:
    """An ordinary run directory, as `nnlab train` leaves it, with a receipt `nnlab reproduce` can use."""
    run = Run.claim(trial.cfg, splits, result.model, result.device, result.threads, path=run_dir)
    run.start(trial.args, stack=stack)
    extra = {"error": result.error} if result.error else {"stopped_at": result.stopped_at} if result.stopped_at else {}
    run.finish(result.fit, result.outcome, result.status, path=path, **extra)
