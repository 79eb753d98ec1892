"""Successive halving inside a stack: points ranked by their seeds' mean at each rung, kept or dropped whole."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from helpers import ROOT
from nnlab.config import load_config
from nnlab.data import load_many
from nnlab.training.group import train_group
from nnlab.training.halving import RankingData, ranking_split

WINE_CFG = ROOT / "configs" / "wine_mlp.yaml"
LRS = ["0.001", "0.3", "0.02"]  # three points x two seeds; lr 0.3 learns fastest in 12 epochs


def wine_points(epochs=12):
    cfgs = [load_config(WINE_CFG, [f"train.epochs={epochs}", "train.log_every=4", f"optimizer.lr={lr}",
                                   f"seed={seed}"]) for lr in LRS for seed in (0, 1)]
    return cfgs, load_many(cfgs)


def test_ranking_split_prefers_validation_then_test_then_train():
    rows = lambda n: np.zeros((n, 3), np.float32)  # noqa: E731
    assert ranking_split(SimpleNamespace(X_val=rows(5), X_test=rows(4))) == "val"
    assert ranking_split(SimpleNamespace(X_val=rows(0), X_test=rows(4))) == "test"  # data.val_size 0
    assert ranking_split(SimpleNamespace(X_test=rows(4))) == "test"  # Splits before the validation split existed
    assert ranking_split(SimpleNamespace(X_val=rows(0), X_test=rows(0))) == "train"


def test_a_rung_keeps_the_best_third_of_the_points_with_all_their_seeds():
    cfgs, splits = wine_points()
    spec = {"points": [0, 0, 1, 1, 2, 2], "rungs": [4], "eta": 3}
    results = train_group([c.to_dict() for c in cfgs], splits, vectorize=True, halving=spec)
    assert [r.status for r in results] == ["pruned", "pruned", "finished", "finished", "pruned", "pruned"]
    assert [r.stopped_at for r in results] == [4, 4, None, None, 4, 4]
    assert all(len(r.rungs) == 1 and r.rungs[0]["epoch"] == 4 for r in results)
    means = [np.mean([results[k].rungs[0]["score"] for k in (2 * p, 2 * p + 1)]) for p in range(3)]
    assert means[1] == max(means)
    assert [row["epoch"] for row in results[0].fit.history] == [4] and results[0].fit.steps == 4
    assert [row["epoch"] for row in results[2].fit.history] == [4, 8, 12] and results[2].fit.steps == 12
    # a dropped model keeps the numbers and weights of the epoch it left at: those of a 4-epoch stack
    short = train_group([c.model_copy(update={"train": c.train.model_copy(update={"epochs": 4})}).to_dict()
                         for c in cfgs], splits, vectorize=True)
    for k in (0, 1, 4, 5):
        assert results[k].metrics == short[k].metrics
        assert all(torch.equal(a, b) for a, b in zip(results[k].model.state_dict().values(),
                                                     short[k].model.state_dict().values()))


def test_replay_drops_what_was_recorded_and_gives_the_same_numbers():
    cfgs, splits = wine_points()
    dicts = [c.to_dict() for c in cfgs]
    halved = train_group(dicts, splits, vectorize=True, halving={"points": [0, 0, 1, 1, 2, 2], "rungs": [4, 8],
                                                                  "eta": 3})
    replayed = train_group(dicts, splits, vectorize=True,
                           halving={"rungs": [4, 8], "stopped_at": [r.stopped_at for r in halved]})
    untimed = lambda r: [{k: v for k, v in row.items() if k != "seconds"} for row in r.fit.history]  # noqa: E731
    for a, b in zip(halved, replayed):
        assert (a.status, a.stopped_at, a.metrics, untimed(a)) == (b.status, b.stopped_at, b.metrics, untimed(b))


def test_a_diverged_seed_counts_as_nothing_and_its_run_stays_diverged():
    cfgs = [load_config(ROOT / "configs" / "cubic_sine.yaml", ["train.epochs=12", f"optimizer.lr={lr}", f"seed={seed}"])
            for lr, seed in (("1", 0), ("1e-6", 1), ("1e-9", 0), ("1e-9", 1))]
    results = train_group([c.to_dict() for c in cfgs], load_many(cfgs), vectorize=True,
                          halving={"points": [0, 0, 1, 1], "rungs": [6], "eta": 2})
    assert results[0].status == "diverged" and results[0].outcome is None
    assert [r.status for r in results[1:]] == ["finished", "pruned", "pruned"]  # point 0 ranked by seed 1 alone


def test_ranking_data_uses_the_validation_split_when_there_is_one():
    from nnlab.training.stacked import prepare_stacked

    cfgs, splits = wine_points()
    for s in splits:  # what issue 12's Splits carries: X_val/y_val (here: the first 10 test rows; fresh Splits)
        s.X_val, s.y_val = s.X_test[:10], s.y_test[:10]
    data = RankingData.of(prepare_stacked(cfgs, splits), splits)
    assert data.split == "val" and tuple(data.X.shape) == (6, 10, 13) and tuple(data.y.shape) == (6, 10)
    results = train_group([c.to_dict() for c in cfgs], splits, vectorize=True,
                          halving={"points": [0, 0, 1, 1, 2, 2], "rungs": [4], "eta": 3})
    assert sum(r.status == "finished" for r in results) == 2


@pytest.mark.parametrize("eta, kept", [(2, 2), (3, 1), (4, 1)])
def test_eta_sets_how_many_points_stay(eta, kept):
    cfgs, splits = wine_points(epochs=6)
    results = train_group([c.to_dict() for c in cfgs], splits, vectorize=True,
                          halving={"points": [0, 0, 1, 1, 2, 2], "rungs": [3], "eta": eta})
    assert sum(r.status == "finished" for r in results) == 2 * kept
