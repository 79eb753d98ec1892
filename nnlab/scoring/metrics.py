"""Final metrics of a trained model on a split, computed the same way by train, eval, sweeps and reproduce.

numpy only (scikit-learn's formulas, tested equal to its classification_report and regression metrics):
importing scikit-learn would cost every command more than a second.
"""

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


def rows_per_step(train_rows: int, batch_size: int | None) -> float:
    """Rows in an average optimizer step: what a sum-reduced loss (sse) is reported per."""
    batch = min(batch_size or train_rows, train_rows) or 1
    return train_rows / -(-train_rows // batch) if train_rows else 1.0


def loss_scale(loss_fn, n_rows: int, step_rows: float) -> float:
    """A sum-reduced loss over `n_rows` rescaled to `step_rows` rows, so the train loss (the mean of the
    epoch's step sums) and every split's loss are on one scale; 1 for mean-reduced losses."""
    return step_rows / n_rows if getattr(loss_fn, "reduction", "mean") == "sum" and n_rows else 1.0


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts: true class down, predicted class across."""
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator as float64, 0 where the denominator is 0 (scikit-learn's zero_division=0)."""
    return np.divide(numerator, denominator, out=np.zeros(len(numerator)), where=denominator != 0,
                     dtype=np.float64)


def per_class(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support of every class (arrays of n_classes), as scikit-learn computes them."""
    counts = confusion_counts(y_true, y_pred, n_classes)
    tp, support, predicted = np.diag(counts).astype(np.float64), counts.sum(1), counts.sum(0)
    return {"precision": _divide(tp, predicted.astype(np.float64)), "recall": _divide(tp, support.astype(np.float64)),
            "f1": _divide(2 * tp, (support + predicted).astype(np.float64)), "support": support}


def averages(report: dict) -> dict[str, dict]:
    """The classification report's `macro avg` and `weighted avg` rows (weighted by support) from its per-class
    rows {label: {precision, recall, f1, support}}."""
    support = np.array([row["support"] for row in report.values()])
    total = int(support.sum())
    rows = {}
    for label, weights in (("macro avg", None), ("weighted avg", support if total else None)):
        rows[label] = {name: float(np.average([row[name] for row in report.values()], weights=weights))
                       for name in ("precision", "recall", "f1")}
        rows[label]["support"] = total
    return rows


def classification_metrics(scores: np.ndarray, y: np.ndarray, classes: list) -> tuple[dict, dict]:
    """({accuracy, macro_f1}, {label: {precision, recall, f1, support}}) for one split."""
    y_true = y.reshape(-1).astype(np.int64)
    y_pred = predicted_classes(scores)
    figures = per_class(y_true, y_pred, len(classes))
    report = {str(label): {"precision": float(figures["precision"][i]), "recall": float(figures["recall"][i]),
                           "f1": float(figures["f1"][i]), "support": int(figures["support"][i])}
              for i, label in enumerate(classes)}
    metrics = {"accuracy": float(np.average(y_true == y_pred)), "macro_f1": float(np.mean(figures["f1"]))}
    return metrics, report


def regression_metrics(scores: np.ndarray, y: np.ndarray) -> dict:
    """MSE, MAE and R² (averaged over outputs; an output with constant targets scores R² 1 if predicted
    exactly, else 0), as scikit-learn computes them."""
    y = y.astype(np.float64)
    mse = float(np.average(np.average((y - scores) ** 2, axis=0)))
    mae = float(np.average(np.average(np.abs(scores - y), axis=0)))
    if len(y) < 2:
        return {"mse": mse, "mae": mae, "r2": float("nan")}
    residual = ((y - scores) ** 2).sum(axis=0)
    total = ((y - np.average(y, axis=0)) ** 2).sum(axis=0)
    r2 = np.ones(y.shape[1])
    valid = (total != 0) & (residual != 0)
    r2[valid] = 1 - residual[valid] / total[valid]
    r2[(residual != 0) & (total == 0)] = 0.0
    return {"mse": mse, "mae": mae, "r2": float(np.average(r2))}


def split_metrics(model, X, y, task: str, classes: list | None, loss_fn, step_rows: float) -> tuple[dict, dict | None]:
    """({loss, metrics...}, per-class report or None) for one split of tensors; ({}, None) when it is empty.

    The loss is `loss_fn` on the model's outputs, computed exactly as fit() logs it.
    """
    import torch

    if len(X) == 0:
        return {}, None
    with torch.inference_mode():
        model.eval()
        outputs = model(X)
        loss = float(loss_fn(outputs, y) * loss_scale(loss_fn, len(X), step_rows))
        scores = outputs.double().cpu().numpy()
    y = y.cpu().numpy()
    if task == "classification":
        metrics, report = classification_metrics(scores, y, classes)
        return {"loss": loss, **metrics}, report
    if not np.isfinite(scores).all():
        from nnlab.errors import DivergedError

        raise DivergedError("the model's outputs are not finite numbers (weights too large: the run diverged); "
                            "retrain with a smaller optimizer.lr")
    return {"loss": loss, **regression_metrics(scores, y)}, None


@dataclass
class Outcome:
    """The final numbers of a trained model: per-split metrics and per-class reports, and what it learned."""

    metrics: dict  # {"train": {"loss": ..., ...}, "test": {...}}: plain floats, the vocabulary's names
    reports: dict  # {split: {label: {precision, recall, f1, support}}} (classification; None per split otherwise)
    description: str | None = None  # e.g. the fitted polynomial
    extras: dict = field(default_factory=dict)  # kind-specific numbers, e.g. coefficients
    parameters: dict | None = None  # learned vs generating weights, for synthetic data

    @property
    def per_class(self) -> dict:
        """The reports of the splits that have one: `per_class` in --json and summary.json."""
        return {split: report for split, report in self.reports.items() if report}


def assess(model, cfg, named: dict, loss_fn, step_rows: float, classes, feature_names, truth=None,
           prep=None) -> Outcome:
    """Metrics on each named (X, y) split, plus the model's own description of itself."""
    metrics, reports = {}, {}
    for split, (X, y) in named.items():
        metrics[split], reports[split] = split_metrics(model, X, y, cfg.task, classes, loss_fn, step_rows)
    parameters = _learned_vs_true(model, truth, prep) if truth else None
    return Outcome(metrics, reports, cfg.model.describe(model, feature_names), cfg.model.extras(model), parameters)


def assess_splits(model, cfg, splits, tensors, loss_fn, val=None) -> Outcome:
    """assess() on a training run's own train, validation (when it has one) and test tensors; `val` is
    (X_val, y_val) already on the device, or None to move splits' own."""
    X, y, X_test, y_test = tensors
    named = {"train": (X, y)}
    if len(splits.X_val):
        named["val"] = val if val is not None else splits.val_tensors(X.device)
    named["test"] = (X_test, y_test)
    return assess(model, cfg, named, loss_fn, rows_per_step(len(X), cfg.train.batch_size), splits.prep.classes,
                  splits.feature_names, splits.truth, splits.prep)


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
