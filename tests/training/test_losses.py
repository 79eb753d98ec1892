"""Class-weighted losses against torch's own weighted forms; per-row losses of ragged stacks against the plain ones."""

import pytest
import torch
from torch import nn

from nnlab.training.losses import ClassWeighted, make_loss, masked_losses


def test_weighted_cross_entropy_is_torchs_crossentropyloss_with_weight():
    scores, y = torch.randn(50, 3), torch.randint(0, 3, (50,))
    w = torch.tensor([0.5, 2.0, 1.5])
    assert make_loss("cross_entropy", w)(scores, y).item() == pytest.approx(nn.CrossEntropyLoss(weight=w)(scores, y).item(),
                                                                           rel=1e-6)
    assert isinstance(make_loss("cross_entropy"), nn.CrossEntropyLoss)  # unweighted: torch's own, as before


def test_weighted_bce_weighs_each_row_by_its_class():
    scores, y = torch.randn(40, 1), torch.randint(0, 2, (40, 1)).float()
    w = torch.tensor([0.3, 3.0])
    row_w = torch.where(y > 0.5, w[1], w[0])
    expected = (nn.BCEWithLogitsLoss(weight=row_w, reduction="sum")(scores, y) / row_w.sum()).item()
    assert ClassWeighted("bce", w)(scores, y).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("name", ["mse", "sse", "bce", "cross_entropy"])
def test_masked_losses_equal_each_models_loss_over_its_own_rows(name):
    K, N = 3, 10
    n = [10, 7, 9]
    mask = (torch.arange(N)[None] < torch.tensor(n)[:, None]).float()
    if name == "cross_entropy":
        scores, y = torch.randn(K, N, 4), torch.randint(0, 4, (K, N))
    elif name == "bce":
        scores, y = torch.randn(K, N, 1), torch.randint(0, 2, (K, N, 1)).float()
    else:
        scores, y = torch.randn(K, N, 2), torch.randn(K, N, 2)
    got = masked_losses(name, scores, y, mask)
    for k in range(K):
        assert got[k].item() == pytest.approx(make_loss(name)(scores[k, :n[k]], y[k, :n[k]]).item(), rel=1e-6)
    if name in ("cross_entropy", "bce"):
        w = torch.rand(K, 4 if name == "cross_entropy" else 2) + 0.5
        got = masked_losses(name, scores, y, mask, w)
        for k in range(K):
            alone = make_loss(name, w[k])(scores[k, :n[k]], y[k, :n[k]])
            assert got[k].item() == pytest.approx(alone.item(), rel=1e-6)
