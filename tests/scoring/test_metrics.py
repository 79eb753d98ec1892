"""nnlab's numpy metrics against scikit-learn's own on many random label sets and targets (the independent reference)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlab.scoring.metrics import (
    averages,
    classification_metrics,
    loss_scale,
    regression_metrics,
    rows_per_step,
    split_metrics,
)


@st.composite
def label_sets(draw):
    """(y_true, y_pred, n_classes): classes that may be absent from either side, or from both."""
    k = draw(st.integers(2, 7))
    n = draw(st.integers(1, 60))
    labels = st.lists(st.integers(0, k - 1), min_size=n, max_size=n)
    return np.array(draw(labels)), np.array(draw(labels)), k


def _scores_for(y_pred: np.ndarray, k: int) -> np.ndarray:
    """Logits whose argmax is y_pred."""
    scores = np.zeros((len(y_pred), k))
    scores[np.arange(len(y_pred)), y_pred] = 1.0
    return scores


@settings(max_examples=200, deadline=None)
@given(label_sets())
def test_classification_report_equals_scikit_learns(case):
    from sklearn.metrics import accuracy_score, classification_report, f1_score

    y_true, y_pred, k = case
    classes = [f"c{i}" for i in range(k)]
    metrics, report = classification_metrics(_scores_for(y_pred, k), y_true, classes)
    expected = classification_report(y_true, y_pred, labels=list(range(k)), target_names=classes, output_dict=True,
                                     zero_division=0)
    for label in classes:
        row = expected[label]
        assert report[label] == {"precision": row["precision"], "recall": row["recall"], "f1": row["f1-score"],
                                 "support": int(row["support"])}
    for label, row in averages(report).items():
        theirs = expected[label]
        assert row == {"precision": theirs["precision"], "recall": theirs["recall"], "f1": theirs["f1-score"],
                       "support": int(theirs["support"])}
    assert metrics["accuracy"] == accuracy_score(y_true, y_pred)
    assert metrics["macro_f1"] == f1_score(y_true, y_pred, labels=list(range(k)), average="macro", zero_division=0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 1), min_size=1, max_size=40), st.lists(st.floats(-3, 3), min_size=40, max_size=40))
def test_one_logit_predicts_the_second_class_when_positive(y, logits):
    from sklearn.metrics import f1_score

    y = np.array(y)
    scores = np.array(logits[:len(y)])[:, None]
    metrics, _ = classification_metrics(scores, y, [0, 1])
    assert metrics["macro_f1"] == f1_score(y, (scores[:, 0] > 0).astype(int), labels=[0, 1], average="macro",
                                           zero_division=0)


@st.composite
def targets(draw):
    n = draw(st.integers(2, 40))
    k = draw(st.integers(1, 3))
    values = st.floats(-1e3, 1e3, allow_nan=False, width=32)
    y = np.array(draw(st.lists(values, min_size=n * k, max_size=n * k)), dtype=np.float32).reshape(n, k)
    if draw(st.booleans()):
        y[:, 0] = y[0, 0]  # a constant target: R² is 1 when predicted exactly, else 0
    scores = y.astype(np.float64) if draw(st.booleans()) else \
        np.array(draw(st.lists(values, min_size=n * k, max_size=n * k))).reshape(n, k)
    return y, scores


@settings(max_examples=200, deadline=None)
@given(targets())
def test_regression_metrics_equal_scikit_learns(case):
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y, scores = case
    ours = regression_metrics(scores, y)
    y64 = y.astype(np.float64)
    assert ours["mse"] == mean_squared_error(y64, scores)
    assert ours["mae"] == mean_absolute_error(y64, scores)
    assert ours["r2"] == r2_score(y64, scores)


def test_r2_of_a_single_row_is_nan():
    assert np.isnan(regression_metrics(np.array([[1.0]]), np.array([[2.0]]))["r2"])


def test_split_loss_is_the_loss_fit_logs_and_sse_is_per_training_step():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    X, y = torch.randn(50, 3), torch.randn(50, 1)
    mean, _ = split_metrics(model, X, y, "regression", None, torch.nn.MSELoss(), step_rows=10.0)
    with torch.no_grad():
        assert mean["loss"] == torch.nn.MSELoss()(model(X), y).item()
        total = torch.nn.MSELoss(reduction="sum")(model(X), y).item()
    summed, _ = split_metrics(model, X, y, "regression", None, torch.nn.MSELoss(reduction="sum"), step_rows=10.0)
    assert summed["loss"] == pytest.approx(total / 5, rel=1e-6)  # 50 rows reported per 10
    assert rows_per_step(100, None) == 100 and rows_per_step(100, 30) == 25.0 and rows_per_step(100, 500) == 100
    assert loss_scale(torch.nn.MSELoss(), 7, 3.0) == 1.0
