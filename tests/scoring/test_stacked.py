"""Metrics of a whole stack at once: equal (==, not approx) to scikit-learn's per model, and to assess_splits."""

import numpy as np
import pytest

from helpers import ROOT
from nnlab.config import load_config
from nnlab.data import load_many
from nnlab.scoring.metrics import assess_splits, classification_metrics, regression_metrics
from nnlab.scoring.stacked import stacked_metrics


@pytest.mark.parametrize("n_rows", [1, 2, 7, 36, 1001])
@pytest.mark.parametrize("n_outputs", [1, 2, 3, 5])
def test_classification_equals_scikit_learn_model_by_model(n_rows, n_outputs):
    rng = np.random.default_rng(n_rows * 10 + n_outputs)
    n_classes = max(2, n_outputs)
    scores = rng.normal(size=(6, n_rows, n_outputs))
    y = rng.integers(0, n_classes - 1 if n_rows > 5 else n_classes, size=(6, n_rows))  # a class never seen
    if n_outputs == 1:  # bce: (K, N, 1) of 0.0 / 1.0
        y = y.astype(np.float32)[:, :, None]
    got = stacked_metrics(scores, y, "classification", n_classes)
    for k in range(6):
        expected, _ = classification_metrics(scores[k], y[k], list(range(n_classes)))
        assert got[k] == expected


@pytest.mark.parametrize("n_rows", [1, 2, 7, 400, 1001])
@pytest.mark.parametrize("n_outputs", [1, 3, 10])
def test_regression_equals_scikit_learn_model_by_model(n_rows, n_outputs):
    rng = np.random.default_rng(n_rows * 10 + n_outputs)
    y = rng.normal(size=(5, n_rows, n_outputs)).astype(np.float32)
    scores = y + rng.normal(scale=0.1, size=y.shape)
    scores[0] = y[0]  # a perfect fit: R² is 1
    y[1] = 2.5  # a constant target: R² is 0 (scikit-learn's force_finite)
    got = stacked_metrics(scores, y, "regression", 0)
    for k in range(5):
        expected = regression_metrics(scores[k], y[k])
        assert got[k].keys() == expected.keys()
        for name in expected:
            assert got[k][name] == expected[name] or (np.isnan(got[k][name]) and np.isnan(expected[name])), name


def test_an_empty_split_has_no_metrics_and_non_finite_regression_outputs_are_divergence():
    from nnlab.errors import DivergedError

    assert stacked_metrics(np.zeros((3, 0, 2)), np.zeros((3, 0), dtype=np.int64), "classification", 2) == [{}] * 3
    with pytest.raises(DivergedError, match="not finite"):
        stacked_metrics(np.full((2, 4, 1), np.inf), np.zeros((2, 4, 1)), "regression", 0)
    assert np.isnan(stacked_metrics(np.full((2, 4, 1), np.nan), np.zeros((2, 4, 1)), "regression", 0,
                                    finite_only=False)[0]["mse"])


@pytest.mark.parametrize("config, overrides", [
    ("wine_mlp.yaml", ["train.epochs=30"]),
    ("logistic_neuron.yaml", ["train.epochs=30"]),
    ("linear_regression.yaml", ["train.epochs=2"]),
    ("cubic_sine.yaml", ["train.epochs=50"]),  # no test split; the vmap path; coefficients
    ("random_mlp.yaml", ["train.epochs=3", "model.hidden=[16]"]),  # ten outputs
])
def test_a_stack_is_scored_as_assess_splits_scores_each_model(config, overrides):
    """train_group scores a stack's models on the stack: the Outcome's numbers are assess_splits'."""
    from nnlab.training.group import train_group
    from nnlab.training.losses import make_loss

    cfgs = [load_config(ROOT / "configs" / config, [*overrides, f"seed={s}"]) for s in range(4)]
    splits = load_many(cfgs)
    results = train_group([c.to_dict() for c in cfgs], splits, vectorize=True)
    for cfg, s, result in zip(cfgs, splits, results):
        alone = assess_splits(result.model, cfg, s, s.tensors("cpu"), make_loss(cfg.loss, s.class_weight))
        assert result.outcome.metrics == alone.metrics
        assert (result.outcome.description, result.outcome.extras, result.outcome.parameters) == \
            (alone.description, alone.extras, alone.parameters)
