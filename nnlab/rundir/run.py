"""One run's life in its folder: claimed, started (receipt, config), checkpointed, then finished or stopped.

`nnlab train` (fresh or `--resume`), every sub-run of a sweep or `--seeds`, all write their run
directory through a Run; the files themselves are rundir.store's.

    run = Run.claim(cfg, splits, setup.model, setup.device, setup.threads, setup.optimizer, parent=out)
    run.start(overrides)                 # receipt.json, config.yaml
    fit(..., checkpoint=run.checkpoint)  # checkpoint.pt + metrics.csv as training goes
    run.finish(result, outcome)          # the final checkpoint, metrics.csv, summary.json
    raise run.stop(error)                # interrupted or diverged: what there is, saved
"""

import time
from dataclasses import dataclass
from pathlib import Path

from nnlab.config import RunConfig
from nnlab.errors import CheckpointError, DivergedError, Interrupted, NnlabError, UsageError
from nnlab.rundir import receipt, store
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

    @classmethod
    def claim(cls, cfg: RunConfig, splits, model, device, threads: int, optimizer=None, *,
              parent: Path | None = None, path: Path | None = None) -> "Run":
        """A fresh folder `parent/NAME-YYYYmmdd-HHMMSS`, or exactly `path` (refused if it holds anything)."""
        folder = claim_folder(Path(path)) if path is not None else new_folder(Path(parent), cfg.name)
        return cls(folder, cfg, splits, model, device, threads, optimizer)

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

    def finish(self, fit, outcome, status: str = "finished", **extra) -> dict:
        """The final files; returns the summary (what `--json` prints).

        A finished, interrupted or pruned (stopped by successive halving) run keeps its weights; a diverged
        or failed one keeps no checkpoint (its weights are not finite, or there are none), and has no outcome.
        """
        summary = {**self.summary(fit, outcome, status), **extra}
        payload = self._payload(fit.state, finished=status == "finished") \
            if status in ("finished", "interrupted", "pruned") else None
        store.save_progress(self.path, fit.history, payload, summary)
        return summary

    def stop(self, error: NnlabError) -> NnlabError:
        """Save what an interrupted or diverged run has (never a non-finite checkpoint); the error to exit with."""
        interrupted = isinstance(error, Interrupted)
        self.finish(error.result, None, "interrupted" if interrupted else "diverged")
        if interrupted:
            return Interrupted(f"interrupted by {error}; saved in {self.path}; resume with: "
                               f"nnlab train --resume {self.path}", error.signum)
        kept = "the last good checkpoint is kept in" if (self.path / store.CHECKPOINT).exists() else \
            "no checkpoint yet in"
        return DivergedError(f"{error}\n{kept} {self.path}; metrics so far are in {self.path / store.METRICS}")

    def summary(self, fit, outcome, status: str) -> dict:
        """summary.json: plain numbers only; a run that did not finish has no outcome (metrics {})."""
        cfg = self.cfg
        return {"run_dir": str(self.path), "name": cfg.name, "task": cfg.task, "model": cfg.model.kind,
                "epochs": cfg.train.epochs, "steps": fit.steps, "train_seconds": round(fit.seconds, 6),
                "train_loss": fit.history[-1]["train_loss"] if fit.history else None,
                "metrics": outcome.metrics if outcome else {}, **(outcome.extras if outcome else {}),
                "seed": cfg.seed, "device": str(self.device), "threads": self.threads,
                "status": status}  # `nnlab runs` shows it

    def _payload(self, state: LoopState | None, finished: bool) -> dict:
        s = self.splits
        resumable = self.optimizer is not None and state is not None
        return store.checkpoint_payload(
            self.model, self.cfg, s.prep, s.feature_names, s.target_name, s.n_outputs, self.threads,
            train_state(state, self.optimizer, self.device, s.fingerprint(), finished) if resumable else None)


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
        raise UsageError(f"{parent}: cannot create a run directory there: {e.strerror}; pick another --out") from None
    raise UsageError(f"{parent}: too many runs named '{name}' this second")


def claim_folder(path: Path) -> Path:
    """`--run-dir`: use this exact folder, created if needed; an existing run in it is refused, never touched."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UsageError(f"{path}: already exists and is not empty; continue that run with --resume {path}, "
                         "or pick another --run-dir (nothing was changed)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"{path}: cannot create the run directory: {e.strerror}; pick another --run-dir") from None
    return path

