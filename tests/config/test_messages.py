"""Validation errors in the user's words: file, dotted key, what was found, the near match."""

import pytest

from helpers import WINE_YAML, error_of, write_config
from nnlab.config import load_config
from nnlab.config.messages import describe_error


def test_an_unknown_key_names_its_section_and_the_near_match():
    err = {"type": "extra_forbidden", "loc": ("optimizer", "sgd", "momentun"), "msg": "Extra inputs are not permitted",
           "input": 0.9}
    assert describe_error(err, {"optimizer": {"name": "sgd"}}) == \
        "optimizer.momentun: unknown key (did you mean 'momentum'?)"


@pytest.mark.parametrize("text, overrides, expected", [
    (WINE_YAML, ["optimizer.lrr=0.1"], "optimizer.lrr: unknown key (did you mean 'lr'?)"),
    (WINE_YAML, ["trian.epochs=3"], "trian: unknown key (did you mean 'train'?)"),
    (WINE_YAML, ["optimizer.lr=0"], "optimizer.lr: input should be greater than 0"),
    (WINE_YAML, ["optimizer.lr=-1"], "optimizer.lr"),
    (WINE_YAML, ["data.test_size=1"], "data.test_size: input should be less than 1"),
    (WINE_YAML, ["data.test_size=-0.1"], "data.test_size"),
    (WINE_YAML, ["model.hidden=[]"], "model.hidden"),
    (WINE_YAML, ["model.hidden=[5,0]"], "model.hidden.1"),
    (WINE_YAML, ["model.hidden=[5,-2]"], "model.hidden.1"),
    (WINE_YAML, ["model.kind=mlpp"], "model: unknown kind 'mlpp' (did you mean 'mlp'?)"),
    (WINE_YAML, ["train.epochs=true"], "train.epochs: expected a number, got a boolean"),
    (WINE_YAML, ["train.epochs=ten"], "train.epochs"),
    (WINE_YAML, ["optimizer.lr=.nan"], "optimizer.lr: input should be a finite number"),
    (WINE_YAML, ["optimizer.lr=.inf"], "optimizer.lr: input should be a finite number"),
    (WINE_YAML, ["device=gpu"], "device: 'gpu' is not a device"),
    (WINE_YAML, ["loss=bce", "model.kind=polynomial", "model.hidden=null"], "model.hidden: unknown key"),
    (WINE_YAML, ["optimizer.nesterov=true", "optimizer.momentum=0"], "optimizer: nesterov needs momentum > 0"),
    ("data: {source: csv}\nmodel: {kind: mlp}", [], "data.path: required key is missing"),
    ("data: {source: csv, path: x.csv}\nmodel: {kind: mlp}", [], "data.target: required key is missing"),
    ("data: {source: sine}\nmodel: {kind: polynomial}\nloss: bce", [], "loss: model kind 'polynomial' trains with"),
    ("data: {source: sine}\nmodel: {kind: mlp}\nloss: cross_entropy", [], "needs class labels"),
    ("data: {source: linear, n_features: 3}\nmodel: {kind: polynomial}", [], "takes 1 input feature"),
    ("data: {source: logistic}\nmodel: {kind: logistic}\nloss: mse", [], "trains with bce"),
    ("data: {source: linear}\nmodel: {kind: linear}", [], None),
], ids=lambda v: v if isinstance(v, str) and len(v) < 40 and "\n" not in v else None)
def test_invalid_configs_name_file_and_key(tmp_path, text, overrides, expected):
    if expected is None:
        load_config(write_config(tmp_path, text), overrides)
        return
    message = error_of(tmp_path, text, overrides)
    assert message.startswith(str(tmp_path / "config.yaml")), message
    assert expected in message, message


def test_every_error_is_listed_once_per_line(tmp_path):
    message = error_of(tmp_path, WINE_YAML, ["optimizer.lr=0", "train.epochs=0", "seed=-1"])
    assert len(message.splitlines()) == 3


@pytest.mark.parametrize("overrides, expected", [
    (["train.early_stopping={patience: 5}"], "train.early_stopping.monitor: val_loss needs a validation split, but "
                                             "data.val_size is 0; set data.val_size (e.g. 0.1)"),
    (["data.val_size=0.1", "train.early_stopping={monitor: val_r2}"],
     "train.early_stopping.monitor: val_r2 is not logged by a classification run; use val_loss or val_accuracy"),
    (["train.early_stopping={monitr: val_loss}"], "train.early_stopping.monitr: unknown key (did you mean 'monitor'?)"),
    (["train.scheduler={name: cosin}"], "train.scheduler: unknown name 'cosin' (did you mean 'cosine'?)"),
    (["train.scheduler={name: step}"], "train.scheduler.step_size: required key is missing"),
    (["train.scheduler={name: step, step_size: 3, gama: 0.5}"], "train.scheduler.gama: unknown key (did you mean "
                                                               "'gamma'?)"),
    (["train.scheduler={name: plateau}"], "train.scheduler.monitor: val_loss needs a validation split, but "
                                          "data.val_size is 0; set data.val_size (e.g. 0.1) or monitor: train_loss"),
    (["train.accumulate=4"], "train.accumulate: needs minibatches: set train.batch_size"),
    (["train.class_weight=balanced", "loss=mse"], "train.class_weight: weights classes, but loss mse is a regression"),
    (["train.class_weight=heavy"], "train.class_weight"),
    (["data.val_size=0.85"], "data.val_size: 0.85 + test_size (0.2) leaves no train rows; lower val_size"),
    (["data.fold=1"], "data.fold: goes with data.folds"),
    (["data.folds=3", "data.fold=3"], "data.fold: 3 but data.folds is 3; folds are numbered 0 to 2"),
    (["data.categorical=[Hue, Hue]"], "data.categorical: lists a column twice"),
    (["data.impute=zero"], "data.impute"),
    (["model.dropout=1"], "model.dropout: input should be less than 1"),
])
def test_the_training_keys_are_checked_with_one_line_each(tmp_path, overrides, expected):
    message = error_of(tmp_path, WINE_YAML, overrides)
    assert expected in message and len(message.splitlines()) == 1, message
