"""Final metrics of K stacked models at once: for each model, the numbers assess_splits(with_reports=False) gives.

scikit-learn costs about 30 ms of input checks per model and split; here every model of a stack is scored
in a few numpy operations on (K, N, n_outputs) arrays. Each formula is scikit-learn's (accuracy_score,
f1_score(average="macro", zero_division=0), mean_squared_error, mean_absolute_error, r2_score), evaluated
in the same order, so the numbers are equal to its, not just close (tests/scoring/test_stacked.py).
"""

import numpy as np


def stacked_metrics(scores: np.ndarray, y: np.ndarray, task: str, n_classes: int,
                    finite_only: bool = True) -> list[dict]:
    """One split's metrics per model: scores (K, N, n_outputs) float64; y (K, N) class codes, (K, N, 1) 0/1
    for bce, or (K, N, n_outputs) values. [{}] * K for an empty split. A regression whose outputs are not
    finite is a DivergedError, as in assess(), unless `finite_only` is off (its numbers are then NaN)."""
    K, N = scores.shape[:2]
    if N == 0:
        return [{} for _ in range(K)]
    if task == "classification":
        return classification(scores, y.reshape(K, N).astype(np.int64), n_classes)
    if finite_only and not np.isfinite(scores).all():
        from nnlab.errors import DivergedError

        raise DivergedError("the model's outputs are not finite numbers (weights too large: the run diverged); "
                            "retrain with a smaller optimizer.lr")
    return regression(scores, y.reshape(scores.shape).astype(np.float64))


def classification(scores: np.ndarray, y_true: np.ndarray, n_classes: int) -> list[dict]:
    """Accuracy and macro F1 over the labels 0..n_classes-1 (a class never seen nor predicted scores 0)."""
    y_pred = scores.argmax(2) if scores.shape[2] > 1 else (scores[:, :, 0] > 0).astype(np.int64)  # (K, N)
    accuracy = (y_true == y_pred).astype(np.float64).mean(axis=1)
    labels = np.arange(n_classes)
    true_c, pred_c = y_true[:, :, None] == labels, y_pred[:, :, None] == labels  # (K, N, C)
    tp, true_sum, pred_sum = (true_c & pred_c).sum(1), true_c.sum(1), pred_c.sum(1)  # (K, C) counts
    denominator = 1.0 * true_sum.astype(np.float64) + pred_sum  # scikit-learn's beta² · true + pred
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(denominator == 0, 0.0, 2.0 * tp.astype(np.float64) / denominator)
    macro_f1 = f1.mean(axis=1)
    return [{"accuracy": float(a), "macro_f1": float(f)} for a, f in zip(accuracy, macro_f1)]


def regression(scores: np.ndarray, y: np.ndarray) -> list[dict]:
    """MSE, MAE and R² (each averaged over the outputs); R² is NaN with fewer than two rows."""
    mse = ((y - scores) ** 2).mean(axis=1).mean(axis=1)
    mae = np.abs(scores - y).mean(axis=1).mean(axis=1)
    numerator = (1.0 * (y - scores) ** 2).sum(axis=1)  # (K, n_outputs)
    denominator = (1.0 * (y - y.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    r2 = np.ones_like(numerator)  # scikit-learn's force_finite: a perfect fit is 1, a constant target 0
    valid = (numerator != 0) & (denominator != 0)
    r2[valid] = 1 - numerator[valid] / denominator[valid]
    r2[(numerator != 0) & (denominator == 0)] = 0.0
    n_rows = y.shape[1]
    r2 = r2.mean(axis=1) if n_rows > 1 else np.full(len(y), np.nan)
    return [{"mse": float(a), "mae": float(b), "r2": float(c)} for a, b, c in zip(mse, mae, r2)]
