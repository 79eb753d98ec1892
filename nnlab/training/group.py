"""Training a group of runs: stacked, or one after another, each scored as `nnlab train` scores it.

`train_group(cfg_dicts, splits)` is a pure function of plain data (resolved config dicts and numpy
splits) that returns plain results and CPU modules, so a caller can run groups anywhere (in this
process, or as Dask tasks) and write the run directories itself.
"""

from dataclasses import dataclass, field

import numpy as np

from nnlab.config import RunConfig, validate
from nnlab.scoring.metrics import Outcome
from nnlab.training.loop import Fit


@dataclass
class TrialResult:
    """What one trained model leaves: its Fit and final Outcome (plain numbers), and the module for its checkpoint."""

    fit: Fit  # history, steps, loop seconds (no loop state: sub-runs are not resumed)
    outcome: Outcome | None  # None when the run did not finish
    status: str  # finished | diverged | failed
    threads: int
    device: str
    baseline: float | None  # majority-class rate of the scored split (classification)
    model: object = field(repr=False, default=None)  # nn.Module on the CPU
    error: str | None = None  # why a "failed" run has no numbers (e.g. its cluster worker kept dying)
    stopped_at: int | None = None  # successive halving dropped it at this epoch (status "pruned")
    rungs: list = field(default_factory=list)  # its {"epoch", "score", "loss"} at each rung it reached

    @property
    def metrics(self) -> dict:
        """{"train": {...}, "test": {...}}: empty splits when the run has no outcome."""
        return self.outcome.metrics if self.outcome else {"train": {}, "test": {}}


def train_group(cfg_dicts: list[dict], splits: list, vectorize: bool, stop=None,
                halving: dict | None = None) -> list[TrialResult]:
    """Train one group's runs (stacked when `vectorize`), score them; no files, no printing.

    `stop` (a StopFlag) ends training after the current step with Interrupted. `halving` (plain data, see
    training.halving.make_pruner) drops points of a stack at its rungs.
    """
    cfgs = [validate(d, "sweep") for d in cfg_dicts]
    if vectorize and len(cfgs) > 1:
        return _train_stacked(cfgs, splits, stop, halving)
    return [_train_alone(cfg, s, stop) for cfg, s in zip(cfgs, splits)]


def _train_alone(cfg: RunConfig, splits, stop) -> TrialResult:
    """Exactly `nnlab train`: prepare() and fit()."""
    from nnlab.errors import DivergedError
    from nnlab.training.loop import fit
    from nnlab.training.setup import prepare

    setup = prepare(cfg, splits)
    try:
        result = fit(setup, cfg.train, stop=stop)
    except DivergedError as e:  # keep what was logged before, as the stacked path does
        return _scored(cfg, splits, setup.model, e.result, "diverged", setup.threads, setup.device)
    return _scored(cfg, splits, setup.model, result, "finished", setup.threads, setup.device, setup.tensors,
                   setup.loss_fn, setup.val)


def _train_stacked(cfgs: list[RunConfig], splits: list, stop, halving: dict | None = None) -> list[TrialResult]:
    """fit_stacked(), then every model scored on its own rows as `nnlab train` scores it (a dropped one as it
    left the stack)."""
    from nnlab.training.halving import make_pruner
    from nnlab.training.losses import make_loss
    from nnlab.training.stacked import fit_stacked, prepare_stacked

    setup = prepare_stacked(cfgs, splits)
    prune = make_pruner(halving, setup, splits) if halving else None
    result = fit_stacked(setup, cfgs[0].train, stop, prune)
    stopped = result.stopped_at or [None] * len(cfgs)
    at_end = [k for k in range(len(cfgs)) if stopped[k] is None]  # position p of the stack now: model at_end[p]
    results = []
    for k, (c, s, fit) in enumerate(zip(cfgs, splits, result.fits)):
        status = "diverged" if result.diverged_at[k] else "pruned" if stopped[k] else "finished"
        model = prune.dropped[k] if stopped[k] else setup.stack.module(at_end.index(k))
        results.append(_scored(c, s, model.to(setup.device), fit, status, setup.threads, setup.device,
                               s.tensors(setup.device), make_loss(c.loss, s.class_weight).to(setup.device),
                               s.val_tensors(setup.device)))
        if prune is not None:
            results[-1].stopped_at, results[-1].rungs = stopped[k], prune.rung_scores.get(k, [])
    return results


def _scored(cfg: RunConfig, splits, model, fit: Fit, status: str, threads: int, device, tensors=None,
            loss_fn=None, val=None) -> TrialResult:
    """Final metrics, computed as train computes them, numpy only (nothing for a diverged model); `tensors` and
    `val`: the splits already on the device."""
    from dataclasses import replace

    from nnlab.scoring.metrics import assess_splits

    outcome = None
    if status in ("finished", "pruned"):  # a pruned model: its numbers as it left the stack
        outcome = assess_splits(model, cfg, splits, tensors, loss_fn, val=val)
    baseline = None
    if cfg.task == "classification":
        y = splits.y_test if len(splits.y_test) else splits.y_train
        baseline = float(np.bincount(y.reshape(-1).astype(np.int64)).max() / len(y))
    plain = replace(fit, state=None)  # the loop state stays behind: nothing resumes a sub-run
    return TrialResult(plain, outcome, status, threads, str(device), baseline, model.cpu())
