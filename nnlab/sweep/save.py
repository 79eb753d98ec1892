"""Writing a sweep's folder: one ordinary sub-run per model (through Run), saved as its group finishes, plus the
aggregates.

    runs/NAME-seeds-STAMP/        (or NAME-sweep-STAMP)
      summary.json                what `--json` prints: paths taken, grid points best first
      points.csv                  one row per grid point: mean, std, min, max per metric
      runs.csv                    one row per model: sub-directory, grid values, seed, status, metrics
      g00-seed0/ ...              a normal run directory each (`nnlab eval` and `nnlab reproduce` open it)

    with SweepFolder.claim(out, name, kind, n_points, overrides) as folder:  # before training: fails now if unwritable
        offset = folder.extend(trials, splits, groups)             # a batch (a grid is one)
        ... folder.add(indices, results) as runs finish ...
        summary = folder.close(seconds)                             # the aggregates

Leaving the block on an error (a disk that fills up, an interrupt) still writes the aggregates of the runs
saved so far, with status interrupted; a folder that saved nothing is removed.
"""

import shutil
import time
from pathlib import Path

from nnlab.errors import CheckpointError, NnlabError
from nnlab.rundir import store
from nnlab.rundir.receipt import pack_stack
from nnlab.rundir.run import Run, new_folder, take_folder
from nnlab.rundir.safefile import write_atomic
from nnlab.sweep import aggregate
from nnlab.sweep.plan import VECTORIZED_KEYS, Group, Trial
from nnlab.training.group import TrialResult


def sub_run_name(trial: Trial, n_points: int) -> str:
    name = f"g{trial.point:02d}-seed{trial.seed}" if n_points > 1 else f"seed{trial.seed}"
    return name if trial.fold is None else f"{name}-fold{trial.fold}"


class SweepFolder:
    """A sweep's folder, locked for this process from claim to close; the sub-runs saved so far.

    Trials come in batches (a grid is one; a search asks for several): `extend(trials, splits, groups)` gives
    each its place, `add(indices, results)` saves those that finished, `close()` writes the aggregates.
    """

    def __init__(self, path: Path, lock, kind: str, n_points: int, overrides: list[str]):
        self.path, self.lock, self.kind, self.n_points = path, lock, kind, n_points
        self.overrides = list(overrides)  # the command line's, which every run has (a receipt lists them first)
        self.trials, self.splits, self.groups = [], [], []
        self.group_of: dict[int, Group] = {}
        self.saved: dict[int, TrialResult] = {}  # trial index -> its result, whose sub-run is complete on disk
        self.results: dict[int, TrialResult] = {}  # every result that came back (a stack's all at once)
        self.started = time.perf_counter()

    @classmethod
    def claim(cls, out: Path, name: str, kind: str, n_points: int, overrides: list[str]) -> "SweepFolder":
        """A new folder under `out`, locked; its lock file is its first write, so a full or read-only disk fails
        here (exit 2 or 4), before any training. `n_points`: how many points the sweep trains (sub-run names);
        `overrides`: the command line's key=value arguments."""
        path = new_folder(Path(out), f"{name}-{kind}")
        return cls(path, take_folder(path, created=True), kind, n_points, overrides)

    def extend(self, trials: list[Trial], splits: list, groups: list[Group]) -> int:
        """A batch about to train; its trials' indices here start at the offset returned."""
        offset = len(self.trials)
        self.trials += trials
        self.splits += splits
        for g in groups:
            moved = Group([i + offset for i in g.trials], g.path, g.reason, g.halving)
            self.groups.append(moved)
            self.group_of.update({i: moved for i in moved.trials})
        return offset

    def add(self, indices: list[int], results: list) -> None:
        """Save the sub-runs of trials that finished (`results` in the order of `indices`; None: not trained)."""
        self.results.update((i, r) for i, r in zip(indices, results) if r is not None)
        for i, result in zip(indices, results):
            self._save(i, result)

    def _save(self, i: int, result: TrialResult | None) -> None:
        if i in self.saved or result is None:
            return
        run_dir = self.path / sub_run_name(self.trials[i], self.n_points)
        if run_dir.exists():  # a save of this process that an interrupt cut short: the folder is ours (locked)
            shutil.rmtree(run_dir)
        group = self.group_of[i]
        stack = stack_record(self.trials, group, i, self.results) if group.path == "vectorized" else None
        save_sub_run(run_dir, self.trials[i], self.splits[i], result, group.path, stack)
        self.saved[i] = result

    def close(self, seconds: float | None = None, status: str = "finished", extra: dict | None = None) -> dict:
        """Write the aggregates over every saved run and release the folder; return the summary (what --json
        prints, with the `extra` keys)."""
        kept = sorted(self.saved)
        trials, results = [self.trials[i] for i in kept], [self.saved[i] for i in kept]
        run_dirs = [str(self.path / sub_run_name(t, self.n_points)) for t in trials]
        task = self.trials[0].cfg.task
        points = aggregate.summarize(trials, results, task)
        seconds = time.perf_counter() - self.started if seconds is None else seconds
        paths = [g.record(n) for g in self.groups if (n := sum(i in self.saved for i in g.trials))]
        epochs = {t.cfg.train.epochs for t in self.trials}  # more than one: the points set train.epochs themselves
        summary = {
            "run_dir": str(self.path), "kind": self.kind, "name": self.trials[0].cfg.name, "task": task,
            "model": self.trials[0].cfg.model.kind, "overrides": self.overrides,
            "epochs": epochs.pop() if len(epochs) == 1 else None,
            "runs": len(trials), "seeds": sorted({t.seed for t in trials}),
            "failed": sum(p["failed"] for p in points), "failed_definition": aggregate.FAILED_DEFINITION,
            "train_seconds": round(seconds, 6), "headline": aggregate.headline_metric(points, task),
            "paths": paths, "points": points, "status": status,
            **({"folds": self.trials[0].cfg.data.folds, "per_fold": aggregate.per_fold(trials, results, run_dirs)}
               if self.trials[0].fold is not None else {}),
            "errors": [{"run_dir": d, "seed": t.seed, "overrides": t.overrides, "error": r.error}
                       for t, r, d in zip(trials, results, run_dirs) if r.error], **(extra or {})}
        with store.saving(self.path):
            write_atomic(self.path / "points.csv", aggregate.points_csv(points))
            write_atomic(self.path / "runs.csv", aggregate.runs_csv(trials, results, run_dirs, task))
        store.save_summary(self.path, summary)
        self.lock.release()
        return summary

    def __enter__(self) -> "SweepFolder":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        """An error before close: the runs saved so far keep their aggregates (status interrupted); none saved,
        no folder."""
        if self.lock.fd is None:  # closed
            return
        for i in set(range(len(self.trials))) - set(self.saved):  # a sub-run whose save failed halfway
            shutil.rmtree(self.path / sub_run_name(self.trials[i], self.n_points), ignore_errors=True)
        if self.saved and error is not None:
            try:
                self.close(status="interrupted")
            except (OSError, NnlabError):  # the disk that failed may refuse these too: the sub-runs are what counts
                pass
        self.lock.release()
        if not self.saved:
            shutil.rmtree(self.path, ignore_errors=True)  # only what this process wrote in its own new folder
        elif isinstance(error, CheckpointError):
            raise CheckpointError(f"{error}; the {len(self.saved)} runs saved before it are in {self.path}") from None


def stack_record(trials: list[Trial], group: Group, i: int, results: dict | None = None) -> dict:
    """The stack trial i trained in, for its receipt (rundir.receipt.pack_stack): its position and every member's
    seed, per-model optimizer settings and fold (the rest of their configs is trial i's), so `nnlab reproduce`
    can train it again; with successive halving, the rungs and the epoch each member was dropped at (None: kept
    to the end)."""
    def member(j):
        cfg = trials[j].cfg
        optimizer = cfg.optimizer.model_dump(mode="json")
        m = {"seed": cfg.seed, "optimizer": {k: optimizer[k] for k in VECTORIZED_KEYS if k in optimizer},
             **({"fold": cfg.data.fold} if cfg.data.folds else {})}
        return {**m, "stopped_at": results[j].stopped_at} if group.halving else m

    return pack_stack([member(j) for j in group.trials], group.trials.index(i),
                      {"rungs": group.halving["rungs"]} if group.halving else None)


def save_sub_run(run_dir: Path, trial: Trial, splits, result: TrialResult, path: str, stack: dict | None = None) -> None:
    """An ordinary run directory, as `nnlab train` leaves it, with a receipt `nnlab reproduce` can use."""
    with Run.claim(trial.cfg, splits, result.model, result.device, result.threads, path=run_dir) as run:
        run.start(trial.args, stack=stack)
        extra = {"error": result.error} if result.error else \
            {"stopped_at": result.stopped_at} if result.stopped_at else {}
        run.finish(result.fit, result.outcome, result.status, path=path, **extra)
