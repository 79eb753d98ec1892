"""The losses: the config's four, class-weighted cross-entropy and bce (train.class_weight), and the per-row
form a stack of models with splits of unequal sizes needs (rows past a model's own split masked out).
"""

import torch
import torch.nn.functional as F
from torch import nn

LOSSES = {
    "mse": lambda: nn.MSELoss(),
    "sse": lambda: nn.MSELoss(reduction="sum"),  # the notebooks' (y_pred - y).pow(2).sum()
    "bce": lambda: nn.BCEWithLogitsLoss(),  # sigmoid + BCE in one numerically stable op
    "cross_entropy": lambda: nn.CrossEntropyLoss(),  # softmax + NLL on logits
}
MEAN_REDUCED = ("mse", "bce", "cross_entropy")  # a batch's loss is a mean over its rows (sse sums them)


class ClassWeighted(nn.Module):
    """Weighted cross-entropy or bce: sum(w_i · loss_i) / sum(w_i) with w_i the weight of row i's class, as
    torch's CrossEntropyLoss(weight=...) reduces. `weight` may be passed per call (one per stacked model)."""

    def __init__(self, name: str, weight: torch.Tensor):
        super().__init__()
        self.name = name
        self.register_buffer("weight", weight)

    def forward(self, scores: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        w, losses = row_weights(self.name, self.weight if weight is None else weight, y), row_losses(self.name, scores, y)
        return (w * losses).sum() / w.sum()


def make_loss(name: str, class_weight=None) -> nn.Module:
    """The config's loss; with per-class weights (numpy or tensor), its class-weighted form."""
    if class_weight is None:
        return LOSSES[name]()
    return ClassWeighted(name, torch.as_tensor(class_weight, dtype=torch.float32))


def row_losses(name: str, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(..., N) one loss per row: scores (..., N, n_outputs), y (..., N) classes or (..., N, k) targets.

    mse averages a row's outputs, so that a mean over rows is nn.MSELoss's mean; sse sums them.
    """
    if name == "cross_entropy":  # classes moved to dim 1, torch's (N, C, d1) form: softmax along a long axis
        return F.cross_entropy(scores.movedim(-1, 1), y, reduction="none")
    if name == "bce":
        return F.binary_cross_entropy_with_logits(scores, y, reduction="none").mean(-1)
    squared = (scores - y).pow(2)
    return squared.mean(-1) if name == "mse" else squared.sum(-1)


def row_weights(name: str, weight: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each row's class weight: weight (C,) indexed by class, or for bce (N, 1) targets, weight[0] or weight[1]."""
    if name == "bce":
        return (weight[0] + (weight[1] - weight[0]) * y).mean(-1)
    return weight[y]


def stacked_losses(name: str, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(K,) each stacked model's loss over all N rows, as its own loss module reduces: scores (K, N, o)."""
    losses = row_losses(name, scores, y)  # (K, N)
    return losses.sum(1) if name == "sse" else losses.mean(1)


def masked_losses(name: str, scores: torch.Tensor, y: torch.Tensor, mask: torch.Tensor,
                  weight: torch.Tensor | None = None, rows: torch.Tensor | None = None) -> torch.Tensor:
    """(K,) the loss of each stacked model over its own rows: scores (K, N, o), mask (K, N) 1.0 for real rows.

    Means divide by the model's own row count (`rows`, mask.sum(1) when not given) or class-weight sum, as its
    single run's loss does.
    """
    if weight is not None:  # (K, C): each model's class weights
        w = torch.stack([row_weights(name, weight[k], y[k]) for k in range(len(weight))]) * mask
        return (w * row_losses(name, scores, y)).sum(1) / w.sum(1)
    total = (row_losses(name, scores, y) * mask).sum(1)
    return total if name == "sse" else total / (mask.sum(1) if rows is None else rows)
