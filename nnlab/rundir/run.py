"""One run's life in its folder: claimed, started (receipt, config), checkpointed, then finished or stopped.

`nnlab train` (fresh or `--resume`), every sub-run of a sweep or `--seeds`, all write their run
directory through a Run; the files themselves are rundir.store's.

    with Run.claim(cfg, splits, setup.model, setup.device, setup.threads, setup.optimizer, parent=out) as run:
        run.start(overrides)                 # receipt.json, config.yaml
        fit(..., checkpoint=run.checkpoint)  # checkpoint.pt + metrics.csv as training goes
        run.finish(result, outcome)          # the final checkpoint, metrics.csv, summary.json
        raise run.stop(error)                # interrupted or diverged: what there is, saved

From claim to the end of the `with` block the folder is locked (rundir.lock): a second nnlab that claims or
resumes it is refused with RunInUse (exit 7), and `nnlab runs` shows it as running.
"""

import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from nnlab.config import RunConfig
from nnlab.errors import CheckpointError, DivergedError, Interrupted, NnlabError, UsageError
from nnlab.rundir import receipt, store
from nnlab.rundir.lock import LOCK, FolderLock, in_use, lock_folder
from nnlab.training.loop_state import LoopState, train_state


@dataclass
class Run:
    """A run directory being written, and what its files are made from."""

    path: Path
    cfg: RunConfig
    splits: object  # nnlab.data.Splits: preprocessing, feature and target names, n_outputs
    model: object  # the nn.Module being (or that was) trained
    device: object  # torch.device
    threads: int
    optimizer: object | None = None  # given: checkpoints hold the training state --resume needs
    start_at: LoopState | None = None  # a resumed run: where training continues
    lock: FolderLock | None = None  # held from claim to release: the folder is this process's alone

    @classmethod
    def claim(cls, cfg: RunConfig, splits, model, device, threads: int, optimizer=None, *,
              parent: Path | None = None, path: Path | None = None) -> "Run":
        """A fresh folder `parent/NAME-YYYYmmdd-HHMMSS`, or exactly `path` (refused if it holds anything), locked
        until `release()` (leaving a `with run:` block releases it)."""
        if path is not None:
            folder, lock = claim_folder(Path(path))
        else:
            folder = new_folder(Path(parent), cfg.name)
            lock = take_folder(folder, created=True)
        return cls(folder, cfg, splits, model, device, threads, optimizer, lock=lock)

    def release(self) -> None:
        """Give the folder back (on every exit path: the `with` block does it; a killed process's lock frees itself)."""
        if self.lock is not None:
            self.lock.release()

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def start(self, overrides: list[str], stack: dict | None = None) -> None:
        """receipt.json and config.yaml, before training, so interrupted runs have both.

        A resumed run's receipt describes the config it now trains with (a --force resume may change it),
        keeps the original creation time, and lists the first run's overrides before the resume's. A sweep's
        stacked run records its `stack` (position and members), which `nnlab reproduce` trains again.
        """
        new = receipt.make_receipt(self.cfg, self.device, self.threads, overrides)
        if stack is not None:
            new["stack"] = stack
        if self.start_at is not None:
            try:
                old = receipt.load_receipt(self.path)
                new.update(created=old.get("created", new["created"]),
                           overrides=[*old.get("overrides", []), *overrides])
            except CheckpointError:  # a run from before receipts: start one now
                pass
        with store.saving(self.path):
            receipt.save_receipt(self.path, new)
        store.save_config(self.path, self.cfg)

    def checkpoint(self, state: LoopState) -> None:
        """What the run has so far: checkpoint.pt (weights and training state) and metrics.csv."""
        store.save_progress(self.path, state.history, self._payload(state, finished=False))

    def finish(self, fit, outcome, status: str = "finished", epoch: int | None = None, **extra) -> dict:
        """The final files; returns the summary (what `--json` prints).

        A finished, interrupted or pruned (stopped by successive halving) run keeps its weights; a diverged
        or failed one keeps no checkpoint (its weights are not finite, or there are none), and has no outcome.
        """
        summary = {**self.summary(fit, outcome, status, epoch), **extra}
        payload = self._payload(fit.state, finished=status == "finished") \
            if status in ("finished", "interrupted", "pruned") else None
        store.save_progress(self.path, fit.history, payload, summary)
        return summary

    def stop(self, error: NnlabError, outcome=None) -> NnlabError:
        """Save what an interrupted (with the `outcome` of its weights as they stand) or diverged run has (never a
        non-finite checkpoint); the error to exit with."""
        interrupted = isinstance(error, Interrupted)
        result = error.result
        if result.state is not None:
            epoch = result.state.epoch - 1  # epochs completed (a partial one counts in `steps` only)
        else:
            epoch = getattr(error, "epoch", 1) - 1  # diverged in this epoch
        summary = self.finish(result, outcome if interrupted else None, "interrupted" if interrupted else "diverged",
                              epoch)
        if interrupted:
            stopped = Interrupted(f"interrupted by {error}; saved in {self.path}; resume with: "
                                  f"nnlab train --resume {shlex.quote(str(self.path))}", error.signum)
        else:
            files = f"{store.METRICS} and {store.SUMMARY}"
            kept = f"the last good checkpoint is kept in {self.path}, with {files}" \
                if (self.path / store.CHECKPOINT).exists() else \
                f"no checkpoint yet in {self.path} (it diverged before the first one), only {files}"
            where, advice = getattr(error, "where", str(error)), getattr(error, "advice", "")  # one line: what, saved, do
            stopped = DivergedError(f"{where}; {kept}" + (f"; {advice}" if advice else ""))
        stopped.summary = summary
        return stopped

    def interrupted_after_training(self, signum: int, summary: dict) -> Interrupted:
        """A signal that came after the last step (while scoring, fitting the baseline or saving): the run finished
        and is saved (its `summary`); the error to exit with (130 or 143)."""
        import signal

        stopped = Interrupted(f"interrupted by {signal.Signals(signum).name} after the last step; the finished run "
                              f"is saved in {self.path} (nnlab eval {shlex.quote(str(self.path))} shows its report)",
                              signum)
        stopped.summary = summary
        return stopped

    def summary(self, fit, outcome, status: str, epoch: int | None = None) -> dict:
        """summary.json: plain numbers only, named as README's "Names" says. `epoch`: epochs completed (all of them
        when finished; for a sub-run that stopped early and says nothing, its last logged epoch)."""
        cfg = self.cfg
        if epoch is None:  # an early stop finished at its stopped_epoch
            epoch = (fit.stopped_epoch or cfg.train.epochs) if status == "finished" else \
                (fit.history[-1]["epoch"] if fit.history else 0)
        per_class = outcome.per_class if outcome else {}
        return {"run_dir": str(self.path), "name": cfg.name, "task": cfg.task, "model": cfg.model.kind,
                "epochs": cfg.train.epochs, "epoch": epoch, "steps": fit.steps,
                "train_seconds": round(fit.seconds, 6), "metrics": outcome.metrics if outcome else {},
                **({"per_class": per_class} if per_class else {}), **(outcome.extras if outcome else {}),
                "seed": cfg.seed, "device": str(self.device), "threads": self.threads,
                **_stop_info(fit, status), "status": status}  # `nnlab runs` shows it

    def _payload(self, state: LoopState | None, finished: bool) -> dict:
        s = self.splits
        resumable = self.optimizer is not None and state is not None
        return store.checkpoint_payload(
            self.model, self.cfg, s.prep, s.columns, s.target_name, s.n_outputs, self.threads,
            train_state(state, self.optimizer, self.device, s.fingerprint(), finished) if resumable else None,
            train_rows=len(s.X_train))


def _stop_info(fit, status: str) -> dict:
    """stopped (early_stopping | epochs | interrupted | diverged | failed), stopped_epoch, best_epoch, monitor, best."""
    info = fit.stop_info()
    if status != "finished":
        info["stopped"] = status
    return info


def new_folder(parent: Path, name: str) -> Path:
    """A fresh folder parent/name-YYYYmmdd-HHMMSS[-N]; never reuses an existing one."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for n in range(1, 1000):
            path = parent / (f"{name}-{stamp}" + (f"-{n}" if n > 1 else ""))
            try:
                path.mkdir()  # atomic: two runs started in the same second get different folders
                return path
            except FileExistsError:
                continue
    except OSError as e:
        if (blocker := _file_in_the_way(parent)) is not None:
            raise UsageError(f"{blocker}: is a file, not a folder; pick another --out (nothing was changed)") from None
        raise UsageError(f"{parent}: cannot create a run directory there: {e.strerror}; pick another --out") from None
    raise UsageError(f"{parent}: too many runs named '{name}' this second")


def _file_in_the_way(path: Path) -> Path | None:
    """The nearest of `path` and its parents that exists, when it is not a folder (mkdir then says 'File exists')."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def claim_folder(path: Path) -> tuple[Path, FolderLock]:
    """`--run-dir`: this exact folder, created if needed, and its lock; a folder that holds anything is refused and
    never touched (a run another process is writing there now: RunInUse)."""
    if not (path.is_dir() and in_use(path)):  # a live run there: taking the lock below names its process
        _refuse_if_taken(path)
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        if (blocker := _file_in_the_way(path)) is not None:
            raise UsageError(f"{blocker}: is a file, not a folder; pick another --run-dir (nothing was changed)") \
                from None
        raise UsageError(f"{path}: cannot create the run directory: {e.strerror}; pick another --run-dir") from None
    lock = take_folder(path, created)
    try:
        _refuse_if_taken(path)  # filled between the first look and the lock, by a run that has ended since
    except UsageError:
        lock.release()
        raise
    return path, lock


def _refuse_if_taken(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path}: is a file, not a folder; pick another --run-dir (nothing was changed)")
    if path.is_dir() and any(p.name != LOCK for p in path.iterdir()):  # a lone lock file: RunInUse decides
        hint = f"continue that run with --resume {path}, or pick" if (path / store.CHECKPOINT).is_file() else "pick"
        raise UsageError(f"{path}: already exists and is not empty; {hint} another --run-dir (nothing was changed)")


def take_folder(folder: Path, created: bool) -> FolderLock:
    """Lock `folder` for this process (RunInUse if another has it); a folder that refuses the lock file is a
    CheckpointError (exit 4), and a folder this process just `created` is removed again."""
    try:
        with store.saving(folder):
            return lock_folder(folder)
    except BaseException:
        if created:
            try:
                folder.rmdir()  # only if empty: never another process's files
            except OSError:
                pass
        raise

