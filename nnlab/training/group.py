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

    @property
    def metrics(self) -> dict:
        """{"train": {...}, "test": {...}}: empty splits when the run has no outcome."""
        return self.outcome.metrics if self.outcome else {"train": {}, "test": {}}


def train_group(cfg_dicts: list[dict], splits: list, vectorize: bool, stop=None) -> list[TrialResult]:
    """Train one group's runs (stacked when `vectorize`), score them; no files, no printing.

    `stop` (a StopFlag) ends training after the current step with Interrupted.
    """
    cfgs = [validate(d, "sweep") for d in cfg_dicts]
    if vectorize and len(cfgs) > 1:
        return _train_stacked(cfgs, splits, stop)
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


def _train_stacked(cfgs: list[RunConfig], splits: list, stop) -> list[TrialResult]:
    from nnlab.training.losses import make_loss
    from nnlab.training.stacked import fit_stacked, prepare_stacked

    setup = prepare_stacked(cfgs, splits)
    result = fit_stacked(setup, cfgs[0].train, stop)
    return [_scored(c, s, setup.stack.module(k).to(setup.device), fit,
                    "diverged" if result.diverged_at[k] else "finished", setup.threads, setup.device,
                    setup.member_tensors(k), make_loss(c.loss, s.class_weight).to(setup.device), setup.member_val(k))
            for k, (c, s, fit) in enumerate(zip(cfgs, splits, result.fits))]


def _scored(cfg: RunConfig, splits, model, fit: Fit, status: str, threads: int, device, tensors=None,
            loss_fn=None, val=None) -> TrialResult:
    """Final metrics, computed as train computes them (nothing for a diverged model); `tensors` and `val`: the
    splits already on the device."""
    from dataclasses import replace

    from nnlab.scoring.metrics import assess_splits

    outcome = None
    if status == "finished":
        outcome = assess_splits(model, cfg, splits, tensors, loss_fn, val=val)
    baseline = None
    if cfg.task == "classification":
        y = splits.y_test if len(splits.y_test) else splits.y_train
        baseline = float(np.bincount(y.reshape(-1).astype(np.int64)).max() / len(y))
    plain = replace(fit, state=None)  # the loop state stays behind: nothing resumes a sub-run
    return TrialResult(plain, outcome, status, threads, str(device), baseline, model.cpu())

