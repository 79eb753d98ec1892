"""Where rows come from: synthetic generators that follow their parameters, seeded from the config."""

import numpy as np
import pytest

from helpers import write_config
from nnlab.config import load_config
from nnlab.data import load_data
from nnlab.data.sources import describe_source, read_source


def test_the_same_seed_generates_the_same_rows_and_another_seed_others(tmp_path):
    text = "data: {source: linear, n_samples: 50, n_features: 3}\nmodel: {kind: linear}\n"
    a, b, c = (read_source(load_config(write_config(tmp_path, text), [f"seed={s}"]))[0] for s in (4, 4, 5))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_describe_source_names_the_file_or_the_generator(tmp_path):
    cfg = load_config(write_config(tmp_path, "data: {source: sine}\nmodel: {kind: polynomial}\n"))
    assert describe_source(cfg) == "data (source sine)"


def test_synthetic_linear_data_follows_its_weights(tmp_path):
    cfg = load_config(write_config(tmp_path, "data: {source: linear, n_samples: 500, weights: [2, -3.4], "
                                              "bias: 4.2, noise: 0.0, standardize: false}\nmodel: {kind: linear}"))
    splits = load_data(cfg)
    assert np.allclose(splits.X_train @ np.array([2, -3.4]) + 4.2, splits.y_train[:, 0], atol=1e-4)
    assert splits.truth == {"weights": [2.0, -3.4], "bias": 4.2}


def test_sine_source_is_the_notebook_grid(tmp_path):
    cfg = load_config(write_config(tmp_path, "data: {source: sine, test_size: 0, standardize: false}\n"
                                              "model: {kind: polynomial}"))
    splits = load_data(cfg)
    assert splits.X_train.shape == (2000, 1)
    assert splits.X_train[0, 0] == pytest.approx(-np.pi) and splits.X_train[-1, 0] == pytest.approx(np.pi)
    assert np.allclose(np.sin(splits.X_train), splits.y_train, atol=1e-6)
