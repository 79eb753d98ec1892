"""Baselines against independent references: closed forms, torch's losses, scikit-learn."""

import warnings

import numpy as np
import pytest
import torch

from helpers import ROOT
from nnlab.config import load_config
from nnlab.data import load_data
from nnlab.scoring import baselines as baseline


@pytest.mark.parametrize("name", ["mse", "sse", "bce", "cross_entropy"])
def test_loss_value_matches_torch(name):
    from nnlab.training.setup import make_loss

    rng = np.random.default_rng(1)
    scores = rng.standard_normal((20, 3 if name == "cross_entropy" else 1))
    y = rng.integers(0, 3, 20) if name == "cross_entropy" else (rng.random((20, 1)) > 0.5).astype(np.float64)
    expected = make_loss(name)(torch.from_numpy(scores), torch.from_numpy(y)).item()
    assert baseline.loss_value(name, scores, y) == pytest.approx(expected, rel=1e-12)


def test_cubic_least_squares_is_the_known_optimum():
    cfg = load_config(ROOT / "configs" / "cubic_sine.yaml")
    splits = load_data(cfg)
    network = {"train": {"loss": 12.0}}
    compared = baseline.compare(cfg, splits, network)
    assert compared["baseline"]["train"]["loss"] == pytest.approx(8.817, abs=5e-4)
    b, d = compared["parameters"]["coefficients"][1], compared["parameters"]["coefficients"][3]
    assert b == pytest.approx(0.857, abs=1e-3) and d == pytest.approx(-0.0933, abs=1e-4)
    assert compared["network"] == network  # the network's own metrics, as its report has them


def test_linear_least_squares_matches_scikit_learn():
    from sklearn.linear_model import LinearRegression

    cfg = load_config(ROOT / "configs" / "linear_regression.yaml")
    splits = load_data(cfg)
    compared = baseline.compare(cfg, splits, {"train": {}, "test": {}})
    ref = LinearRegression().fit(splits.X_train, splits.y_train[:, 0])
    b, *w = compared["parameters"]["intercept_and_weights"]
    assert b == pytest.approx(ref.intercept_, abs=1e-5) and w == pytest.approx(ref.coef_.tolist(), abs=1e-5)
    assert compared["baseline"]["test"]["r2"] == pytest.approx(ref.score(splits.X_test, splits.y_test[:, 0]), abs=1e-6)


def test_logistic_baseline_is_scikit_learns_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    cfg = load_config(ROOT / "configs" / "logistic_neuron.yaml")
    splits = load_data(cfg)
    compared = baseline.compare(cfg, splits, {"train": {}, "test": {}})
    ref = LogisticRegression(max_iter=1000).fit(splits.X_train, splits.y_train[:, 0].astype(int))
    assert compared["baseline"]["test"]["accuracy"] == ref.score(splits.X_test, splits.y_test[:, 0].astype(int))
    p = ref.predict_proba(splits.X_train)[:, 1]
    y = splits.y_train[:, 0]
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert compared["baseline"]["train"]["loss"] == pytest.approx(expected, rel=1e-9)


def test_mlp_baseline_reports_non_convergence_as_data_not_a_warning(monkeypatch):
    monkeypatch.setattr(baseline, "SKLEARN_ITERATIONS", 3)
    cfg = load_config(ROOT / "configs" / "wine_mlp.yaml")
    splits = load_data(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning escaping compare() fails the test
        compared = baseline.compare(cfg, splits, {"train": {}, "test": {}})
    assert compared["note"] == "did not converge in 3 iterations" and "MLPClassifier(5, 5, 5)" in compared["method"]
    assert set(compared["baseline"]) == {"train", "test"}


@pytest.mark.slow
def test_cli_shows_network_vs_baseline(cli):
    cubic = cli.train_json(ROOT / "configs" / "cubic_sine.yaml")  # cheap: always fitted
    gap = cubic["baseline"]["network"]["train"]["loss"] - cubic["baseline"]["baseline"]["train"]["loss"]
    assert cubic["baseline"]["baseline"]["train"]["loss"] == pytest.approx(8.817, abs=5e-4) and 0 < gap < 10
    assert "baseline" not in cli.train_json(ROOT / "configs" / "wine_mlp.yaml", "train.epochs=5")
    out = cli("train", ROOT / "configs" / "wine_mlp.yaml", "train.epochs=5", "--baseline", "--out", cli.out).stdout
    assert "network vs baseline: scikit-learn MLPClassifier" in out and "test_accuracy" in out
    assert "ConvergenceWarning" not in out


def test_an_sse_baseline_loss_is_on_the_scale_of_one_training_step():
    cfg = load_config(ROOT / "configs" / "cubic_sine.yaml", ["data.test_size=0.25", "train.batch_size=100"])
    splits = load_data(cfg)
    compared = baseline.compare(cfg, splits, {"train": {}, "test": {}})
    train, test = compared["baseline"]["train"]["loss"], compared["baseline"]["test"]["loss"]
    # 1500 train rows in 15 steps of 100: each split's sum of squares per 100 rows, so the two compare
    assert train == pytest.approx(compared["baseline"]["train"]["mse"] * 100, rel=1e-9)
    assert test == pytest.approx(compared["baseline"]["test"]["mse"] * 100, rel=1e-9)
