"""Data: a config's source -> Splits (train/test arrays plus the preprocessing fitted on train).

numpy and pandas only: `nnlab check` reads data without importing torch.
"""

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnlab.config import RunConfig
from nnlab.errors import ConfigError, DataError, did_you_mean


@dataclass
class Preprocessing:
    """What was fitted on the train split: scaler statistics and the class labels."""

    mean: np.ndarray | None = None  # (n_features,), None when not standardized
    scale: np.ndarray | None = None
    classes: list | None = None  # original labels; position = encoded class

    def transform(self, X: np.ndarray) -> np.ndarray:
        if self.mean is None:
            return X
        return ((X - self.mean) / self.scale).astype(np.float32)

    def encode(self, labels: np.ndarray, where: str) -> np.ndarray:
        """Original labels -> class indices; a label the model never saw is a DataError."""
        index = {label: i for i, label in enumerate(self.classes)}
        distinct, inverse = _unique_inverse(labels)
        unknown = sorted(set(distinct) - set(index), key=str)
        if unknown:
            raise DataError(f"{where}: labels {', '.join(map(repr, unknown[:5]))} were not among the "
                            f"classes the model was trained on ({', '.join(map(repr, self.classes))})")
        return np.array([index[v] for v in distinct], dtype=np.int64)[inverse]

    def to_dict(self) -> dict:
        """Plain lists, safe for a weights_only checkpoint."""
        return {"mean": None if self.mean is None else self.mean.tolist(),
                "scale": None if self.scale is None else self.scale.tolist(),
                "classes": self.classes}

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocessing":
        as_array = lambda v: None if v is None else np.asarray(v, dtype=np.float32)  # noqa: E731
        return cls(as_array(d.get("mean")), as_array(d.get("scale")), d.get("classes"))


@dataclass
class Splits:
    """Train and test arrays, preprocessed: X float32 (N, n_features); y int64 classes or float32 (N, k)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    target_name: str
    prep: Preprocessing
    n_outputs: int
    truth: dict = field(default_factory=dict)  # generating parameters of synthetic data

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    def tensors(self, device):
        """(X_train, y_train, X_test, y_test) as torch tensors on `device`."""
        import torch

        return tuple(torch.from_numpy(np.ascontiguousarray(a)).to(device)
                     for a in (self.X_train, self.y_train, self.X_test, self.y_test))


def load_data(cfg: RunConfig, prep: Preprocessing | None = None) -> Splits:
    """Read or generate the data, split it, and fit preprocessing on train (or apply `prep`)."""
    X, y, feature_names, target_name, truth = _read_source(cfg)
    classification = cfg.task == "classification"
    classes = codes = None
    if classification:  # one pass over the labels: the sorted classes and each row's class
        y, classes, codes = _check_labels(y, cfg, target_name)
    train_idx, test_idx = split_indices(codes, len(X), cfg.data.test_size, cfg.seed)
    if prep is None:
        prep = fit_preprocessing(X[train_idx], None, cfg.data.standardize)
        prep.classes = classes
    X = prep.transform(X)
    if classification:
        y = codes if prep.classes == classes else prep.encode(y, _where(cfg))
        if cfg.loss == "bce":
            y = y.astype(np.float32)[:, None]  # (N, 1) of 0.0 / 1.0: the second class is positive
    n_outputs = (len(prep.classes) if cfg.loss == "cross_entropy" else 1) if classification else y.shape[1]
    return Splits(X[train_idx], y[train_idx], X[test_idx], y[test_idx], feature_names, target_name,
                  prep, n_outputs, truth)


def load_many(cfgs: list[RunConfig]) -> list[Splits]:
    """load_data() for each config, read once per distinct (data, seed, loss, model kind): a sweep's grid
    points share their seeds' splits. The Splits are shared, so callers must not change them."""
    import json

    def key(cfg: RunConfig) -> tuple:  # everything load_data reads from a config
        return json.dumps(cfg.data.model_dump(mode="json"), sort_keys=True), cfg.seed, cfg.loss, cfg.model.kind

    loaded = {}
    for cfg in cfgs:
        if key(cfg) not in loaded:
            loaded[key(cfg)] = load_data(cfg)
    return [loaded[key(cfg)] for cfg in cfgs]


def load_labelled_csv(path: Path, cfg: RunConfig, prep: Preprocessing, feature_names: list[str],
                      target: str) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) from another CSV with a trained run's columns, preprocessed as that run was."""
    from nnlab.csvdata import read_csv, read_header

    if target not in read_header(Path(path), cfg.data.sep):
        raise DataError(f"{path}: target column '{target}' not found; eval needs it to score the model")
    X, y, _ = read_csv(Path(path), target, feature_names, cfg.data.sep, cfg.data.dropna)
    X = prep.transform(X)
    if cfg.task == "regression":
        try:
            return X, y.astype(np.float32)[:, None]
        except (TypeError, ValueError):
            raise DataError(f"{path}: target '{target}' is not numeric") from None
    if y.dtype.kind == "f" and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    y = prep.encode(y, str(path))
    return X, (y.astype(np.float32)[:, None] if cfg.loss == "bce" else y)


def fit_preprocessing(X_train: np.ndarray, labels: np.ndarray | None, standardize: bool) -> Preprocessing:
    """StandardScaler statistics from the train rows (std 0 -> 1, as scikit-learn does) and the classes."""
    prep = Preprocessing()
    if standardize:
        X64 = X_train.astype(np.float64)
        prep.mean = X64.mean(axis=0).astype(np.float32)
        std = X64.std(axis=0)
        prep.scale = np.where(std > 0, std, 1.0).astype(np.float32)
    if labels is not None:
        prep.classes = sorted(_unique_inverse(labels)[0], key=_label_order)
    return prep


def split_indices(labels: np.ndarray | None, n: int, test_size: float, seed: int):
    """Sorted train and test row indices; stratified by `labels` (or their class indices) when given."""
    rng = np.random.default_rng([seed, 1])
    if test_size == 0:
        return np.arange(n), np.arange(0)
    n_test = math.ceil(test_size * n)
    if n - n_test < 1:
        raise DataError(f"data.test_size {test_size} leaves no training rows out of {n}; lower it")
    if labels is None:
        test = rng.permutation(n)[:n_test]
    else:
        _, group_of = np.unique(labels, return_inverse=True)
        groups = [np.flatnonzero(group_of == g) for g in range(group_of.max() + 1)]
        quota = _allocate(n_test, [len(g) for g in groups])
        test = np.concatenate([rng.permutation(g)[:q] for g, q in zip(groups, quota)])
    mask = np.zeros(n, dtype=bool)
    mask[test] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def _allocate(total: int, sizes: list[int]) -> list[int]:
    """Split `total` test rows across classes in proportion to their sizes (largest remainder)."""
    exact = [total * s / sum(sizes) for s in sizes]
    quota = [math.floor(e) for e in exact]
    by_remainder = sorted(range(len(sizes)), key=lambda i: exact[i] - quota[i], reverse=True)
    for i in by_remainder[:total - sum(quota)]:
        quota[i] += 1
    return [min(q, s - 1) if s > 1 else q for q, s in zip(quota, sizes)]


def _check_labels(y: np.ndarray, cfg: RunConfig, target_name: str) -> tuple[np.ndarray, list, np.ndarray]:
    """(labels, their sorted distinct classes, each row's class index): checked to make a classifier."""
    where = _where(cfg)
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise DataError(f"{where}: target '{target_name}' holds real numbers, not class labels; "
                            "for regression set loss: mse")
        y = y.astype(np.int64)
    y = y.reshape(-1)
    distinct, inverse = _unique_inverse(y)
    classes = sorted(distinct, key=_label_order)
    position = {label: i for i, label in enumerate(classes)}
    codes = np.array([position[label] for label in distinct], dtype=np.int64)[inverse]
    if len(classes) < 2:
        raise DataError(f"{where}: target '{target_name}' has a single class ({classes[0]!r}); "
                        "a classifier needs at least two")
    limit = cfg.model.max_classes
    if limit and len(classes) > limit:
        raise ConfigError(f"model.kind: '{cfg.model.kind}' handles {limit} classes, but target "
                          f"'{target_name}' has {len(classes)}; use kind linear or mlp with cross_entropy")
    if cfg.loss == "bce" and len(classes) > 2:
        raise ConfigError(f"loss: bce needs 2 classes, but target '{target_name}' has {len(classes)}; "
                          "use loss: cross_entropy")
    n_test = math.ceil(cfg.data.test_size * len(y)) if cfg.data.test_size else None
    if n_test is not None and n_test < len(classes):
        raise DataError(f"{where}: data.test_size {cfg.data.test_size} gives {n_test} test rows for "
                        f"{len(classes)} classes; raise test_size so every class is held out")
    return y, classes, codes


def _unique_inverse(labels: np.ndarray) -> tuple[list, np.ndarray]:
    """Distinct labels as plain Python values, and each row's position among them (no per-row Python
    for numeric labels; object arrays of strings take one dict pass)."""
    labels = np.asarray(labels).reshape(-1)
    if labels.dtype == object:
        index: dict = {}
        codes = np.fromiter((index.setdefault(_plain(v), len(index)) for v in labels.tolist()),
                            dtype=np.int64, count=len(labels))
        return list(index), codes
    distinct, inverse = np.unique(labels, return_inverse=True)
    return distinct.tolist(), inverse.reshape(-1)


def _plain(value):
    """numpy scalar -> Python scalar, so labels compare, sort and serialize plainly."""
    return value.item() if isinstance(value, np.generic) else value


def _label_order(label):
    return (0, label, "") if isinstance(label, (int, float)) else (1, 0, str(label))


def _where(cfg: RunConfig) -> str:
    return cfg.data.path if cfg.data.source == "csv" else f"data (source {cfg.data.source})"


# ---------------------------------------------------------------- sources


def _read_source(cfg: RunConfig):
    """X float32 (N, F), raw y, feature names, target name, generating parameters."""
    d = cfg.data
    if d.source == "csv":
        from nnlab.csvdata import read_csv

        X, y, features = read_csv(Path(d.path), d.target, d.features, d.sep, d.dropna)
        if cfg.model.max_features and len(features) > cfg.model.max_features:
            raise ConfigError(f"model.kind: '{cfg.model.kind}' takes {cfg.model.max_features} input feature, "
                              f"but {d.path} gives {len(features)}; list one in data.features")
        if cfg.task == "regression":
            try:
                y = y.astype(np.float32)[:, None]
            except (TypeError, ValueError):
                raise DataError(f"{d.path}: target '{d.target}' is not numeric, so it cannot be regressed; "
                                "for class labels use loss: cross_entropy") from None
        return X, y, features, d.target, {}
    rng = np.random.default_rng([cfg.seed, 0])
    if d.source in ("linear", "logistic"):
        w = np.asarray(d.weights if d.weights is not None else rng.standard_normal(d.width), dtype=np.float64)
        X = rng.standard_normal((d.n_samples, len(w)))
        z = X @ w + d.bias
        if d.source == "linear":
            y = (z + d.noise * rng.standard_normal(d.n_samples))[:, None].astype(np.float32)
        else:
            y = (rng.random(d.n_samples) < 1 / (1 + np.exp(-z))).astype(np.int64)
        names = [f"x{i + 1}" for i in range(len(w))]
        return X.astype(np.float32), y, names, "y", {"weights": w.tolist(), "bias": float(d.bias)}
    if d.source == "sine":
        x = np.linspace(d.low, d.high, d.n_samples)
        y = np.sin(x) + d.noise * rng.standard_normal(d.n_samples)
        return x[:, None].astype(np.float32), y[:, None].astype(np.float32), ["x"], "y", {}
    if d.source == "random":
        X = rng.standard_normal((d.n_samples, d.n_features), dtype=np.float32)
        y = rng.standard_normal((d.n_samples, d.n_outputs), dtype=np.float32)
        return X, y, [f"x{i + 1}" for i in range(d.n_features)], "y", {}
    raise ConfigError(f"data.source: unknown source '{d.source}'{did_you_mean(d.source, ['csv'])}")
