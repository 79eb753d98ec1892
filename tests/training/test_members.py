"""What each stacked model keeps to itself: shared, stacked or padded rows, its own minibatches, its masks."""

import pytest
import torch

from helpers import ROOT
from nnlab.config import load_config
from nnlab.data import load_data
from nnlab.training.members import MemberBatches, row_mask, stack_splits
from nnlab.training.stacked import prepare_stacked

WINE_CFG = ROOT / "configs" / "wine_mlp.yaml"


def splits_for(*overrides_per_model):
    cfgs = [load_config(WINE_CFG, list(o)) for o in overrides_per_model]
    return cfgs, [load_data(c) for c in cfgs]


def test_one_copy_when_equal_stacked_when_same_shape_padded_otherwise():
    _, same = splits_for([], [])
    tensors, val, rows = stack_splits(same, "cpu")
    assert rows is None and tensors[0].shape == (2, 142, 13) and tensors[0].stride(0) == 0  # an expanded view
    _, seeds = splits_for(["seed=1"], ["seed=2"])
    tensors, _, rows = stack_splits(seeds, "cpu")
    assert rows is None and tensors[0].stride(0) != 0
    _, folds = splits_for(["data.folds=5", "data.fold=0", "data.val_size=0.1"],
                          ["data.folds=5", "data.fold=4", "data.val_size=0.1"])
    tensors, val, rows = stack_splits(folds, "cpu")
    assert rows == {"train": [124, 125], "test": [36, 35], "val": [18, 18]}
    assert tensors[0].shape == (2, 125, 13) and torch.equal(tensors[0][0, 124], torch.zeros(13))  # padding
    assert torch.equal(tensors[2][1, :35], torch.from_numpy(folds[1].X_test))
    assert row_mask(rows, "test", 36, "cpu").sum(1).tolist() == [36, 35] and row_mask(None, "test", 36, "cpu") is None


def test_each_model_shuffles_its_own_rows_in_slices_with_its_accumulation_weights():
    cfgs, splits = splits_for(*[["data.folds=5", f"data.fold={k}", "train.batch_size=40", "train.accumulate=2"]
                                for k in (0, 4)])
    setup = prepare_stacked(cfgs, splits)
    batches = MemberBatches(setup, 40, accumulate=2)
    slices = list(batches.epoch())
    assert batches.n_batches == 4 and [batches.step_due(j) for j in range(4)] == [False, True, False, True]
    assert [s[4] for s in slices] == [[40, 40], [40, 40], [40, 40], [22, 23]]  # 142 and 143 train rows
    assert slices[3][2].sum(1).tolist() == [22, 23] and slices[3][0].shape == (2, 23, 13)
    assert [w.tolist() for w in (slices[0][3], slices[3][3])] == [[0.5, 0.5], pytest.approx([22 / 62, 23 / 63])]
    order = torch.randperm(142, generator=torch.Generator().manual_seed(cfgs[0].seed))
    assert torch.equal(slices[0][0][0], setup.tensors[0][0][order[:40]])  # model 0's own single-run shuffle


def test_unequal_minibatch_counts_cannot_share_a_stack():
    cfgs, splits = splits_for(*[["data.folds=5", f"data.fold={k}", "train.batch_size=71"] for k in (0, 4)])
    with pytest.raises(ValueError, match="same number of minibatches"):
        MemberBatches(prepare_stacked(cfgs, splits), 71, 1)  # 142 rows: 2 batches, 143: 3
