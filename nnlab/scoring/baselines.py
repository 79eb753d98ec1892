"""The reference a skeptical user would check, fitted on the network's own split and preprocessing.

Linear and polynomial regression: the closed-form least-squares fit (the optimum gradient descent
approaches). Logistic neuron and softmax regression: scikit-learn's LogisticRegression. MLPs:
scikit-learn's MLPClassifier / MLPRegressor of the same shape.
"""

import warnings

import numpy as np

from nnlab.scoring.metrics import classification_metrics, regression_metrics, rows_per_step

SKLEARN_ITERATIONS = 300  # bounded: a baseline must not cost more than the run it checks
_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "sigmoid": "logistic", "leaky_relu": "relu"}


def is_cheap(cfg) -> bool:
    """Least squares is a few numpy operations: nnlab fits it on every run that has one."""
    return cfg.task == "regression" and cfg.model.kind in ("linear", "polynomial")


def for_run(cfg, splits, outcome, always: bool) -> dict | None:
    """compare() for a trained model's Outcome when the baseline is cheap or asked for (`always`); else None."""
    if not (always or is_cheap(cfg)):
        return None
    return compare(cfg, splits, outcome.metrics)


def compare(cfg, splits, network: dict) -> dict | None:
    """{"method", "note", "network", "baseline", ...}: loss and metrics per split for both (the network's are its
    Outcome's `metrics`, the baseline's computed the same way); None if no baseline fits."""
    fitted = _fit(cfg, splits)
    if fitted is None:
        return None
    method, note, predict, parameters = fitted
    out = {"method": method, "note": note, "network": {}, "baseline": {}}
    step_rows = rows_per_step(len(splits.X_train), cfg.train.batch_size)
    for split, X, y in (("train", splits.X_train, splits.y_train), ("test", splits.X_test, splits.y_test)):
        if len(X) == 0:
            continue
        out["network"][split] = network[split]
        out["baseline"][split] = _numbers(cfg, predict(X), y, splits.prep.classes, step_rows)
    if parameters is not None:
        out["parameters"] = parameters
    return out


def loss_value(name: str, scores: np.ndarray, y: np.ndarray, step_rows: float | None = None) -> float:
    """The config's loss in float64 numpy, as torch.nn computes it (mean over elements, or sum for sse; a sum
    rescaled to `step_rows` rows when given, as every reported sse loss is)."""
    s = scores.astype(np.float64)
    if name in ("mse", "sse"):
        squared = (s - y.astype(np.float64)) ** 2
        if name == "mse":
            return float(squared.mean())
        return float(squared.sum() * (step_rows / len(s) if step_rows else 1.0))
    if name == "bce":  # softplus(s) - y·s == -[y log σ(s) + (1 - y) log(1 - σ(s))]
        return float(np.mean(np.logaddexp(0, s) - y.astype(np.float64) * s))
    top = s.max(1, keepdims=True)  # cross-entropy: logsumexp(s) - s[y]
    log_norm = top[:, 0] + np.log(np.exp(s - top).sum(1))
    return float(np.mean(log_norm - s[np.arange(len(s)), y.reshape(-1)]))


def _numbers(cfg, scores, y, classes, step_rows: float) -> dict:
    if cfg.task == "classification":
        metrics, _ = classification_metrics(scores, y, classes)
    else:
        metrics = regression_metrics(scores, y)
    return {"loss": loss_value(cfg.loss, scores, y, step_rows), **metrics}


def _fit(cfg, splits):
    """(method, note, predict(X) -> scores in the network's convention, parameters) or None."""
    kind, X, y = cfg.model.kind, splits.X_train.astype(np.float64), splits.y_train
    if cfg.task == "regression" and kind in ("linear", "polynomial"):
        design = _design(cfg, X)
        coef, *_ = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)
        params = coef[:, 0].tolist() if coef.shape[1] == 1 else coef.T.tolist()
        return ("least squares (closed form)", None,
                lambda Xn: _design(cfg, Xn.astype(np.float64)) @ coef,
                {"coefficients" if kind == "polynomial" else "intercept_and_weights": params})
    if cfg.task == "classification" and kind in ("logistic", "linear"):
        from sklearn.linear_model import LogisticRegression

        estimator, method = LogisticRegression(max_iter=1000), "scikit-learn LogisticRegression (C=1)"
    elif kind == "mlp":
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        cls = MLPClassifier if cfg.task == "classification" else MLPRegressor
        estimator = cls(hidden_layer_sizes=tuple(cfg.model.hidden), activation=_ACTIVATIONS[cfg.model.activation],
                        max_iter=SKLEARN_ITERATIONS, random_state=cfg.seed % 2**32)
        method = f"scikit-learn {cls.__name__}{tuple(cfg.model.hidden)} {estimator.activation}, adam"
    else:
        return None
    note = _fit_quietly(estimator, X, _sklearn_target(cfg, y))
    if kind == "mlp" and cfg.model.activation == "leaky_relu":
        note = "; ".join(filter(None, ["scikit-learn has no leaky_relu: used relu", note]))
    return method, note, lambda Xn: _scores(cfg, estimator, Xn.astype(np.float64)), None


def least_squares_curve(cfg, compared: dict | None, X: np.ndarray) -> np.ndarray | None:
    """The closed-form fit's predictions (N,) at X, from compare()'s output; None without one (or with
    several outputs)."""
    parameters = (compared or {}).get("parameters") or {}
    coef = next(iter(parameters.values()), None)
    if coef is None or isinstance(coef[0], list):
        return None
    return _design(cfg, X.astype(np.float64)) @ np.asarray(coef)


def _design(cfg, X: np.ndarray) -> np.ndarray:
    """Columns the closed form fits: [1, x, x², ...] for a polynomial, [1, x1, x2, ...] for an affine map."""
    if cfg.model.kind == "polynomial":
        return X[:, :1] ** np.arange(cfg.model.degree + 1)
    return np.hstack([np.ones((len(X), 1)), X])


def _sklearn_target(cfg, y: np.ndarray) -> np.ndarray:
    if cfg.task == "classification":
        return y.reshape(-1).astype(np.int64)
    return y[:, 0] if y.shape[1] == 1 else y


def _fit_quietly(estimator, X, y) -> str | None:
    """Fit; a ConvergenceWarning becomes a note (data), not a warning printed on the terminal."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        estimator.fit(X, y)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        return f"did not converge in {estimator.max_iter} iterations"
    return None


def _scores(cfg, estimator, X) -> np.ndarray:
    """Baseline outputs in the network's convention: a logit for bce, log-probabilities for cross-entropy."""
    if cfg.task == "regression":
        return estimator.predict(X).reshape(len(X), -1)
    log_p = np.log(np.clip(estimator.predict_proba(X), 1e-300, None))
    if cfg.loss == "bce":
        return (log_p[:, 1] - log_p[:, 0])[:, None]
    return log_p
