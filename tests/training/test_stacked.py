"""Stacked training against the single-run path: same seed, same weights and numbers."""

import pytest
import torch

from helpers import ROOT
from nnlab.config import load_config
from nnlab.data import load_data
from nnlab.training.group import train_group


def configs(name, seeds, *overrides):
    return [load_config(ROOT / "configs" / name, [*overrides, f"seed={s}"]) for s in seeds]


def both_paths(cfgs):
    """(stacked results, one-at-a-time results) for the same configs."""
    splits = [load_data(c) for c in cfgs]
    dicts = [c.to_dict() for c in cfgs]
    return train_group(dicts, splits, vectorize=True), train_group(dicts, splits, vectorize=False)


def weights(result):
    return result.model.state_dict()


def test_wine_seeds_stacked_equal_single_runs_to_float_rounding():
    """Batched and single matrix products may sum in another order (MKL on AMD EPYC here): rounding, no more."""
    stacked, alone = both_paths(configs("wine_mlp.yaml", [0, 1, 6202], "train.epochs=40", "train.log_every=10"))
    for s, a in zip(stacked, alone):
        for s_w, a_w in zip(weights(s).values(), weights(a).values()):
            torch.testing.assert_close(s_w, a_w, rtol=1e-5, atol=1e-6)
        assert all(s.metrics[split] == pytest.approx(a.metrics[split], rel=1e-6) for split in ("train", "test"))
        assert s.fit.steps == a.fit.steps == 40
        assert [r["epoch"] for r in s.fit.history] == [r["epoch"] for r in a.fit.history] == [10, 20, 30, 40]
        for rs, ra in zip(s.fit.history, a.fit.history):
            assert rs["train_loss"] == pytest.approx(ra["train_loss"], rel=1e-6)
            assert rs["test_accuracy"] == ra["test_accuracy"]


def test_minibatches_shuffle_per_model_like_single_runs():
    """Linear data differs per seed (stacked splits); each model keeps its own shuffle order."""
    stacked, alone = both_paths(configs("linear_regression.yaml", [0, 3], "train.epochs=3", "train.batch_size=32"))
    for s, a in zip(stacked, alone):
        for s_w, a_w in zip(weights(s).values(), weights(a).values()):
            torch.testing.assert_close(s_w, a_w, rtol=1e-6, atol=1e-6)
        assert s.fit.steps == a.fit.steps == 3 * 25
        assert s.metrics["test"]["r2"] == pytest.approx(a.metrics["test"]["r2"], rel=1e-6)


def test_per_model_sgd_hyperparameters_match_single_runs():
    cfgs = [load_config(ROOT / "configs" / "wine_mlp.yaml", ["train.epochs=30", f"seed={seed}", *extra])
            for seed, extra in [(0, ["optimizer.lr=0.01"]), (1, ["optimizer.momentum=0.9"]),
                                (2, ["optimizer.weight_decay=0.01", "optimizer.momentum=0"]),
                                (3, ["optimizer.lr=0.2", "optimizer.momentum=0.5", "optimizer.weight_decay=0.001"])]]
    stacked, alone = both_paths(cfgs)
    for s, a in zip(stacked, alone):
        for s_w, a_w in zip(weights(s).values(), weights(a).values()):
            torch.testing.assert_close(s_w, a_w, rtol=1e-6, atol=1e-7)


def test_nesterov_and_adam_stacks_match_single_runs():
    for extra in (["optimizer.momentum=0.9", "optimizer.nesterov=true"], ["optimizer={name: adam, lr: 0.01}"]):
        stacked, alone = both_paths(configs("wine_mlp.yaml", [0, 1], "train.epochs=20", *extra))
        for s, a in zip(stacked, alone):
            for s_w, a_w in zip(weights(s).values(), weights(a).values()):
                torch.testing.assert_close(s_w, a_w, rtol=1e-6, atol=1e-7)


def test_polynomial_takes_the_vmap_path_and_matches():
    """The cubic is no Linear stack: it trains through torch.func.vmap over functional_call."""
    stacked, alone = both_paths(configs("cubic_sine.yaml", [0, 1], "train.epochs=50"))
    for s, a in zip(stacked, alone):
        torch.testing.assert_close(s.model.coefficients, a.model.coefficients, rtol=1e-6, atol=1e-7)
        assert s.outcome.extras["coefficients"] == pytest.approx(a.outcome.extras["coefficients"], rel=1e-6)


def test_a_diverging_model_does_not_disturb_the_others():
    cfgs = [load_config(ROOT / "configs" / "linear_regression.yaml", ["train.epochs=3", "seed=0", f"optimizer.lr={lr}"])
            for lr in (0.03, 1e4)]
    stacked, alone = both_paths(cfgs)
    assert [r.status for r in stacked] == [r.status for r in alone] == ["finished", "diverged"]
    for s_w, a_w in zip(weights(stacked[0]).values(), weights(alone[0]).values()):
        torch.testing.assert_close(s_w, a_w, rtol=1e-6, atol=1e-6)


@pytest.mark.slow
def test_a_diverged_run_reports_the_same_on_both_paths_and_stays_out_of_the_means():
    import math

    from nnlab.sweep.aggregate import flat_metrics

    cfgs = [load_config(ROOT / "configs" / "linear_regression.yaml",
                        ["train.epochs=60", "train.log_every=1", "seed=0", f"optimizer.lr={lr}"]) for lr in (0.03, 1.0)]
    stacked, alone = both_paths(cfgs)
    assert [r.status for r in stacked] == [r.status for r in alone] == ["finished", "diverged"]
    for results in (stacked, alone):
        assert math.isfinite(flat_metrics(results[0])["train_loss"])
        assert "train_loss" not in flat_metrics(results[1])  # no final numbers: not the last huge loss logged
    assert len(alone[1].fit.history) == len(stacked[1].fit.history) > 0  # both keep the rows logged before
