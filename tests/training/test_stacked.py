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


def assert_same_models(stacked, alone, rtol=1e-5, atol=1e-6):
    for s, a in zip(stacked, alone):
        assert s.status == a.status
        for s_w, a_w in zip(weights(s).values(), weights(a).values()):
            torch.testing.assert_close(s_w, a_w, rtol=rtol, atol=atol)
        for key in ("steps", "stopped", "stopped_epoch", "best_epoch", "monitor"):
            assert getattr(s.fit, key) == getattr(a.fit, key), key
        assert [r["epoch"] for r in s.fit.history] == [r["epoch"] for r in a.fit.history]
        assert s.fit.history[-1].keys() == a.fit.history[-1].keys()
        for split in s.metrics:
            assert s.metrics[split] == pytest.approx(a.metrics[split], rel=1e-5), split  # float rounding


@pytest.mark.parametrize("extra", [
    ["data.val_size=0.15", "train.early_stopping={patience: 4, min_delta: 0.002}", "train.epochs=300"],
    ["data.val_size=0.15", "train.early_stopping={patience: 4, min_delta: 0.002, restore_best: false}",
     "train.epochs=300"],
    ["data.val_size=0.1", "train.scheduler={name: plateau, patience: 3, factor: 0.7}", "optimizer.lr=0.5",
     "train.epochs=150"],  # one model's lr falls 11 times, the others' never: per-model lrs
    ["train.scheduler={name: cosine, t_max: 20}", "train.batch_size=32", "train.accumulate=2"],
    ["model.dropout=0.3", "train.batch_size=16", "train.class_weight=balanced"],
])
def test_each_model_of_a_stack_stops_schedules_and_drops_out_as_its_single_run(extra):
    """Per-model early stopping, best weights, plateau lr, accumulation, class weights and dropout masks.

    (Models that learn: on a flat curve, float rounding alone can move the best epoch.)"""
    cfgs = configs("wine_mlp.yaml", [1, 2, 6202], "train.epochs=40", "train.log_every=10", *extra)  # all learn
    stacked, alone = both_paths(cfgs)
    assert_same_models(stacked, alone)
    if "restore_best" in str(extra):
        assert len({r.fit.stopped_epoch for r in stacked}) > 1  # the models stopped at different epochs


def test_k_fold_splits_of_unequal_size_train_padded_in_one_stack():
    """wine's 5 folds have 142 or 143 train rows: padded, masked, each model as its single run."""
    cfgs = [load_config(ROOT / "configs" / "wine_mlp.yaml", ["train.epochs=40", "train.log_every=20", "data.folds=5",
                                                              f"data.fold={k}", "train.batch_size=16",
                                                              "data.val_size=0.1", "model.dropout=0.2"])
            for k in range(5)]
    splits = [load_data(c) for c in cfgs]
    assert {len(s.X_train) for s in splits} == {124, 125}
    dicts = [c.to_dict() for c in cfgs]
    stacked, alone = train_group(dicts, splits, vectorize=True), train_group(dicts, splits, vectorize=False)
    assert_same_models(stacked, alone)


def test_a_plateau_stack_needs_sgd():
    from nnlab.config.schema import AdamConfig
    from nnlab.training.stacked import make_stacked_optimizer

    params = [torch.zeros(2, 3, requires_grad=True)]
    with pytest.raises(ValueError, match="per-model lr schedules"):
        make_stacked_optimizer(params, [AdamConfig(name="adam")] * 2, per_model_lr=True)


def test_a_model_that_stopped_early_is_not_diverged_by_the_training_that_goes_on():
    """Model 0 (lr 1: its val_loss grows from epoch 2) stops at epoch 4; model 1 trains on, and model 0's copy in
    the stack with it, which overflows at epoch 6."""
    cfgs = [load_config(ROOT / "configs" / "linear_regression.yaml",
                        ["train.epochs=12", "seed=0", "data.val_size=0.1", f"optimizer.lr={lr}",
                         "train.early_stopping={patience: 3}"]) for lr in (1.0, 0.03)]
    stacked, alone = both_paths(cfgs)
    assert [r.status for r in stacked] == [r.status for r in alone] == ["finished", "finished"]
    assert stacked[0].fit.stopped == "early_stopping" and stacked[0].fit.stopped_epoch == 4
    assert stacked[1].fit.stopped_epoch >= 6  # the stack still trained at epoch 6
    for s_w, a_w in zip(weights(stacked[0]).values(), weights(alone[0]).values()):
        torch.testing.assert_close(s_w, a_w)


# ---------------------------------------------------------------- compaction (successive halving's mechanism)


class KeepAt:
    """A pruner that keeps `members` (original indices) at `epoch`: what fit_stacked's hook is given."""

    def __init__(self, epoch, members):
        self.epochs, self.members, self.calls = {epoch}, members, []

    def __call__(self, epoch, setup, members):
        self.calls.append((epoch, list(members), setup.stack.k))
        return self.members


def stacked_fit(cfgs, prune=None):
    from nnlab.data import load_many
    from nnlab.training.stacked import fit_stacked, prepare_stacked

    setup = prepare_stacked(cfgs, load_many(cfgs))
    return setup, fit_stacked(setup, cfgs[0].train, prune=prune)


COMPACTION_CASES = {
    "sgd per-model lr and momentum, per-seed wine splits": (
        "wine_mlp.yaml", ["train.epochs=30"], [["optimizer.lr=0.01"], ["optimizer.momentum=0.9"], [], [],
                                                ["optimizer.lr=0.2", "optimizer.weight_decay=0.01"], []]),
    "adam, minibatches (per-model shuffles)": (
        "wine_mlp.yaml", ["train.epochs=6", "optimizer={name: adam, lr: 0.01}", "train.batch_size=32"],
        [[]] * 6),
    "sgd momentum, one shared data copy": (
        "cubic_sine.yaml", ["train.epochs=40", "optimizer.momentum=0.5"], [[]] * 6),
    "validation split, early-stopping watch, dropout streams, class weights, per-model plateau lrs": (
        "wine_mlp.yaml", ["train.epochs=20", "data.val_size=0.15", "train.early_stopping={patience: 50}",
                          "model.dropout=0.2", "train.class_weight=balanced", "optimizer.lr=0.3",
                          "train.scheduler={name: plateau, patience: 1, factor: 0.5}", "train.batch_size=32"],
        [[]] * 6),
    "k-fold splits of unequal size (padded, masked)": (
        "wine_mlp.yaml", ["train.epochs=12", "train.batch_size=16"],
        [["data.folds=3", f"data.fold={k % 3}"] for k in range(6)]),
}


@pytest.mark.parametrize("case", COMPACTION_CASES)
def test_compacting_the_stack_leaves_the_kept_models_training_as_before(case):
    """Keeping members drops their rows of every parameter, optimizer state (per-model lr/momentum tensors,
    momentum buffers, Adam moments), data tensor and shuffle stream: the survivors end where the full stack
    ends them (bit for bit when they keep their places, to float rounding when they move up)."""
    name, common, extras = COMPACTION_CASES[case]
    cfgs = [load_config(ROOT / "configs" / name, [*common, *extra, f"seed={k}"]) for k, extra in enumerate(extras)]
    full_setup, full = stacked_fit(cfgs)
    for kept, exact in (([0, 1, 2], True), ([5, 1, 3], False)):
        prune = KeepAt(3, kept)
        setup, pruned = stacked_fit(cfgs, prune)
        assert prune.calls == [(3, [0, 1, 2, 3, 4, 5], 6)] and setup.stack.k == 3 and setup.seeds == kept
        assert setup.tensors[0].shape[0] == 3 and len(setup.optimizer.params) == len(setup.stack.params)
        for position, k in enumerate(kept):
            for p, q in zip(setup.stack.module(position).state_dict().values(),
                            full_setup.stack.module(k).state_dict().values()):
                if exact:
                    assert torch.equal(p, q)
                else:
                    torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
            assert pruned.stopped_at[k] is None and pruned.fits[k].steps == full.fits[k].steps
        dropped = sorted(set(range(6)) - set(kept))
        assert [pruned.stopped_at[k] for k in dropped] == [3, 3, 3]
        per_epoch = full.fits[0].steps // cfgs[0].train.epochs
        assert all(pruned.fits[k].steps == 3 * per_epoch and pruned.fits[k].history[-1]["epoch"] == 3 for k in dropped)


def test_keep_data_keeps_a_shared_copy_shared():
    from nnlab.training.stacked import keep_data

    shared = torch.arange(6.0).reshape(1, 2, 3).expand(4, 2, 3)
    kept = keep_data(shared, [3, 0])
    assert kept.shape == (2, 2, 3) and kept.stride(0) == 0 and torch.equal(kept[1], shared[0])
    own = torch.arange(24.0).reshape(4, 2, 3)
    assert torch.equal(keep_data(own, [3, 0]), own[[3, 0]])


def test_a_rung_epoch_is_logged_for_every_model():
    cfgs = configs("wine_mlp.yaml", range(3), "train.epochs=20", "train.log_every=10")
    _, result = stacked_fit(cfgs, KeepAt(7, [0, 2]))
    assert [r["epoch"] for r in result.fits[1].history] == [7]  # dropped at its rung, logged there
    assert [r["epoch"] for r in result.fits[0].history] == [7, 10, 20]
