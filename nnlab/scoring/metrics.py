"""Final metrics of a trained model on a split, computed the same way by train and eval."""

from dataclasses import dataclass, field

import numpy as np


def predict_scores(model, X) -> np.ndarray:
    """Raw model outputs (logits or values) for X, as float64 numpy (N, n_outputs)."""
    import torch

    with torch.inference_mode():
        model.eval()
        return model(X).double().cpu().numpy()


def predicted_classes(scores: np.ndarray) -> np.ndarray:
    return scores.argmax(1) if scores.shape[1] > 1 else (scores[:, 0] > 0).astype(np.int64)


def classification_metrics(scores: np.ndarray, y: np.ndarray, classes: list,
                           with_report: bool = True) -> tuple[dict, dict | None]:
    """({accuracy, macro_f1}, scikit-learn's classification_report as a dict, or None) for one split."""
    from sklearn.metrics import accuracy_score, classification_report, f1_score

    y_true = y.reshape(-1).astype(np.int64)
    y_pred = predicted_classes(scores)
    labels = list(range(len(classes)))
    report = classification_report(y_true, y_pred, labels=labels, target_names=[str(c) for c in classes],
                                   output_dict=True, zero_division=0) if with_report else None  # 3/4 of the cost
    metrics = {"accuracy": float(accuracy_score(y_true, y_pred)),
               "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))}
    return metrics, report


def regression_metrics(scores: np.ndarray, y: np.ndarray) -> dict:
    """MSE, MAE and R² (averaged over outputs, as scikit-learn does)."""
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y = y.astype(np.float64)
    return {"mse": float(mean_squared_error(y, scores)), "mae": float(mean_absolute_error(y, scores)),
            "r2": float(r2_score(y, scores)) if len(y) > 1 else float("nan")}


def split_metrics(model, X, y, task: str, classes: list | None, with_report: bool = True) -> tuple[dict, dict | None]:
    """(metrics, classification report or None) for one split; ({}, None) when it is empty."""
    if len(X) == 0:
        return {}, None
    scores = predict_scores(model, X)
    y = y.cpu().numpy()
    if task == "classification":
        return classification_metrics(scores, y, classes, with_report)
    if not np.isfinite(scores).all():
        from nnlab.errors import DivergedError

        raise DivergedError("the model's outputs are not finite numbers (weights too large: the run diverged); "
                            "retrain with a smaller optimizer.lr")
    return regression_metrics(scores, y), None


@dataclass
class Outcome:
    """The final numbers of a trained model: per-split metrics and reports, and what it learned."""

    metrics: dict  # {"train": {...}, "test": {...}}: plain floats
    reports: dict  # classification reports per split (None for regression)
    description: str | None = None  # e.g. the fitted polynomial
    extras: dict = field(default_factory=dict)  # kind-specific numbers, e.g. coefficients
    parameters: dict | None = None  # learned vs generating weights, for synthetic data


def assess(model, cfg, named: dict, classes, feature_names, truth=None, prep=None, with_reports=True) -> Outcome:
    """Metrics on each named (X, y) split, plus the model's own description of itself."""
    metrics, reports = {}, {}
    for split, (X, y) in named.items():
        metrics[split], reports[split] = split_metrics(model, X, y, cfg.task, classes, with_reports)
    parameters = _learned_vs_true(model, truth, prep) if truth else None
    return Outcome(metrics, reports, cfg.model.describe(model, feature_names), cfg.model.extras(model), parameters)


def assess_splits(model, cfg, splits, tensors, with_reports=True, val=None) -> Outcome:
    """assess() on a training run's own train, validation (when it has one) and test tensors; `val` is
    (X_val, y_val) already on the device, or None to move splits' own."""
    X, y, X_test, y_test = tensors
    named = {"train": (X, y)}
    if len(splits.X_val):
        named["val"] = val if val is not None else splits.val_tensors(X.device)
    named["test"] = (X_test, y_test)
    return assess(model, cfg, named, splits.prep.classes, splits.feature_names, splits.truth, splits.prep,
                  with_reports)


def _learned_vs_true(model, truth: dict, prep) -> dict | None:
    """A one-output affine model's weights in the data's original units, beside the generating ones."""
    weight, bias = getattr(model, "weight", None), getattr(model, "bias", None)
    if weight is None or bias is None or weight.shape[0] != 1 or weight.shape[1] != len(truth["weights"]):
        return None
    w = weight.detach().double().cpu().numpy()[0]
    b = float(bias.detach().double().cpu().numpy()[0])
    if prep is not None and prep.mean is not None:  # undo the standardization: w·(x - m)/s + b
        w, b = w / prep.scale, b - float(np.sum(w * prep.mean / prep.scale))
    return {"learned": {"weights": w.tolist(), "bias": b}, "true": truth}
