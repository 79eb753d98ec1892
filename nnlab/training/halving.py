"""Successive halving inside a stack: at each rung, rank the grid points and keep the best 1/eta of them.

A point's seeds are replicates: they are ranked together by their mean score on the ranking split
(validation, else test, else train) and kept or dropped together. fit_stacked() calls the pruner at
each rung epoch and compacts the stack to the models it keeps; the dropped ones are copied
out first, so each keeps its numbers and weights from the epoch it stopped at. `Replay` drops exactly
what a receipt recorded, so `nnlab reproduce` trains a halved stack again step for step.
"""

import math

import numpy as np


def ranking_split(splits) -> str:
    """The split rungs (and searches) rank by: validation when the data has one, else test, else train."""
    for name in ("val", "test"):
        if len(getattr(splits, f"X_{name}", ())):
            return name
    return "train"


def make_pruner(spec: dict, setup, splits: list):
    """The pruner a group's halving spec asks for: Halving ({"points", "rungs", "eta"}) or Replay
    ({"rungs", "stopped_at"})."""
    if "stopped_at" in spec:
        return Replay(spec["rungs"], spec["stopped_at"])
    return Halving(spec["rungs"], spec["points"], spec["eta"], RankingData.of(setup, splits))


class _Pruner:
    """What both pruners share: the rungs, and each dropped model's weights and metrics, taken as it leaves."""

    def __init__(self, rungs: list[int]):
        self.epochs = list(rungs)
        self.dropped: dict = {}  # original index -> its nn.Module (a CPU copy) as it left the stack
        self.rung_scores: dict[int, list[dict]] = {}  # original index -> [{"epoch", "score", "loss"}] per rung

    def _keep(self, setup, members: list[int], kept: list[int]) -> list[int] | None:
        if len(kept) == len(members):
            return None
        leaving = [k for k, m in enumerate(members) if m not in set(kept)]
        for k in leaving:
            self.dropped[members[k]] = setup.stack.module(k)
        return kept


class Halving(_Pruner):
    """Rank points by the mean of their seeds' headline metric (accuracy or R²) on the ranking split; ties go
    to the lower mean train loss, as the sweep's table breaks them."""

    def __init__(self, rungs: list[int], points: list[int], eta: int, data: "RankingData"):
        super().__init__(rungs)
        self.points, self.eta, self.data = points, eta, data

    def __call__(self, epoch: int, setup, members: list[int]) -> list[int] | None:
        metric, loss = self.data.evaluate(setup, members)
        by_point: dict[int, list[int]] = {}
        for k, m in enumerate(members):
            self.rung_scores.setdefault(m, []).append({"epoch": epoch, "score": metric[k], "loss": loss[k]})
            by_point.setdefault(self.points[m], []).append(k)
        ranked = sorted(by_point, key=lambda p: (-_mean(metric, by_point[p], -math.inf),
                                                  _mean(loss, by_point[p], math.inf), p))
        best = set(ranked[:math.ceil(len(ranked) / self.eta)])
        return self._keep(setup, members, [m for m in members if self.points[m] in best])


class Replay(_Pruner):
    """Drop each model at the epoch a receipt recorded (None: it ran to the end)."""

    def __init__(self, rungs: list[int], stopped_at: list[int | None]):
        super().__init__(rungs)
        self.stopped_at = stopped_at

    def __call__(self, epoch: int, setup, members: list[int]) -> list[int] | None:
        return self._keep(setup, members, [m for m in members if (self.stopped_at[m] or math.inf) > epoch])


def _mean(values: list[float], positions: list[int], empty: float) -> float:
    """Mean over the finite values (diverged seeds left out, as the sweep's table leaves them out)."""
    finite = [values[k] for k in positions if math.isfinite(values[k])]
    return sum(finite) / len(finite) if finite else empty


class RankingData:
    """The ranking split's tensors for every model of the stack (as first built), and how to score on them."""

    def __init__(self, split: str, X, y, task: str, n_classes: int):
        self.split, self.X, self.y, self.task, self.n_classes = split, X, y, task, n_classes

    @classmethod
    def of(cls, setup, splits: list) -> "RankingData":
        split = ranking_split(splits[0])
        if split == "val":  # the validation split (issue 12's Splits.X_val/y_val), stacked per model
            import torch

            X, y = (torch.stack([torch.from_numpy(np.ascontiguousarray(getattr(s, name))) for s in splits])
                    .to(setup.device) for name in ("X_val", "y_val"))
        else:
            first = 0 if split == "train" else 2  # the tensors as built: compaction replaces the setup's, not these
            X, y = setup.tensors[first], setup.tensors[first + 1]
        return cls(split, X, y, setup.task, len(splits[0].prep.classes or []))

    def evaluate(self, setup, members: list[int]) -> tuple[list[float], list[float]]:
        """(headline metric on the ranking split, train loss) of each model in the stack now (`members`: their
        original indices, in stack order)."""
        import torch
        from torch.func import vmap

        from nnlab.scoring.stacked import stacked_metrics
        from nnlab.training.stacked import keep_data

        X, y = keep_data(self.X, members), keep_data(self.y, members)
        with torch.inference_mode():
            scores = setup.stack.forward(X)
            X_train, y_train = setup.tensors[:2]
            loss = vmap(setup.loss_fn)(setup.stack.forward(X_train), y_train).double().cpu().tolist()
        metrics = stacked_metrics(scores.double().cpu().numpy(), y.cpu().numpy(), self.task, self.n_classes,
                                  finite_only=False)
        name = "accuracy" if self.task == "classification" else "r2"
        return [m[name] if math.isfinite(v) else math.nan for m, v in zip(metrics, loss)], loss  # diverged: NaN
