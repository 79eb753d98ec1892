"""The watch behind early stopping: Keras' improvement rule, patience, and the best weights kept and restored."""

import math

import torch

from nnlab.config.schema import EarlyStopping, TrainConfig
from nnlab.training.monitor import Watch, make_watch


def test_patience_counts_epochs_without_an_improvement_beyond_min_delta():
    watch = Watch("val_loss", patience=3, min_delta=0.1)
    values = [1.0, 0.95, 0.85, 0.84, 0.83, 0.80]  # 0.95 is within min_delta of 1.0; 0.85 beats it by 0.15
    stops = [watch.update(e, v, []) for e, v in enumerate(values, start=1)]
    assert watch.best_epoch == 3 and watch.best_value == 0.85  # 0.84, 0.83, 0.80: within min_delta of 0.85
    assert stops == [False, False, False, False, False, True] and watch.wait == 3


def test_maximized_monitors_and_nan():
    watch = Watch("val_accuracy", patience=2)
    assert [watch.update(e, v, []) for e, v in enumerate([0.5, 0.7, math.nan, 0.7], start=1)] == [False, False,
                                                                                                   False, True]
    assert watch.best_epoch == 2 and watch.best_value == 0.7


def test_best_weights_are_kept_restored_and_survive_a_state_round_trip():
    p = torch.zeros(3, requires_grad=True)
    watch = Watch("val_loss", patience=5, keep_best=True)
    for epoch, value in enumerate([3.0, 1.0, 2.0], start=1):
        with torch.no_grad():
            p.fill_(epoch)
        watch.update(epoch, value, [p])
    again = Watch("val_loss", patience=5, keep_best=True)
    again.load_state_dict(watch.state_dict(), "cpu")
    watch.restore([p])
    assert p.tolist() == [2.0, 2.0, 2.0] and watch.last_state[0].tolist() == [3.0, 3.0, 3.0]
    assert again.best_epoch == 2 and again.best_state[0].tolist() == [2.0, 2.0, 2.0] and again.wait == 1
    other = Watch("val_r2", patience=5, keep_best=True)
    other.load_state_dict(watch.state_dict(), "cpu")  # another monitor (a --force resume): starts afresh
    assert other.best_epoch is None


def test_without_early_stopping_a_validation_split_still_has_its_best_epoch():
    assert make_watch(TrainConfig(), has_val=False) is None
    plain = make_watch(TrainConfig(), has_val=True)
    assert plain.monitor == "val_loss" and plain.patience is None and not plain.keep_best
    stopping = make_watch(TrainConfig(early_stopping=EarlyStopping(monitor="val_r2", patience=7)), has_val=True)
    assert (stopping.monitor, stopping.patience, stopping.keep_best) == ("val_r2", 7, True)
