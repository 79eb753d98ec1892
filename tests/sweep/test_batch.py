"""Batches of points: expanded, loaded and grouped at once; joined into one sweep with its groups renumbered."""

from helpers import ROOT
from nnlab.sweep.batch import join, prepare_batch

WINE_CFG = ROOT / "configs" / "wine_mlp.yaml"


def test_a_batch_numbers_its_points_from_first_and_joins_with_the_others():
    a = prepare_batch(WINE_CFG, ["train.epochs=2"], [{"optimizer.lr": "0.1"}, {"optimizer.lr": "0.2"}], [0, 1])
    b = prepare_batch(WINE_CFG, ["train.epochs=2"], [{"optimizer.lr": "0.3"}], [0, 1], first=2)
    assert [t.point for t in a.trials] == [0, 0, 1, 1] and [t.point for t in b.trials] == [2, 2]
    assert a.planned == 4 and [g.trials for g in a.groups] == [[0, 1, 2, 3]] and b.groups[0].trials == [0, 1]
    a.results, b.results, a.seconds, b.seconds = ["r"] * 4, ["s"] * 2, 1.0, 2.0
    joined = join([a, b])
    assert [g.trials for g in joined.groups] == [[0, 1, 2, 3], [4, 5]] and joined.results == ["r"] * 4 + ["s"] * 2
    assert (joined.n_points, joined.seconds, joined.planned, len(joined.splits)) == (3, 3.0, 6, 6)
    assert b.trials[0].args == ["train.epochs=2", "optimizer.lr=0.3", "seed=0"]


def test_halving_sets_the_rungs_of_each_stack():
    b = prepare_batch(WINE_CFG, ["train.epochs=90"], [{"optimizer.lr": v} for v in ("0.1", "0.2", "0.3")], [0],
                      halving=(3, None))
    assert b.groups[0].halving == {"points": [0, 1, 2], "rungs": [30], "eta": 3}
