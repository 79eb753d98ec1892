"""Data: a config's source -> Splits (train/test arrays plus the preprocessing fitted on train).

numpy and pandas only: `nnlab check` reads data without importing torch.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnlab.config import RunConfig
from nnlab.data.preprocessing import Preprocessing, check_labels, fit_preprocessing
from nnlab.data.sources import describe_source, read_source
from nnlab.data.splits import split_indices
from nnlab.errors import DataError


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

        return tuple(torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in self.arrays())

    def arrays(self) -> tuple:
        return self.X_train, self.y_train, self.X_test, self.y_test

    def same_arrays(self, other: "Splits") -> bool:
        """The same train and test numbers (a sweep's runs can then share one copy on the device)."""
        return all(np.array_equal(a, b) for a, b in zip(self.arrays(), other.arrays()))

    def fingerprint(self) -> str:
        """sha256 of the preprocessed train and test arrays: a resumed run must see the same numbers."""
        import hashlib

        digest = hashlib.sha256()
        for a in self.arrays():
            a = np.ascontiguousarray(a)
            digest.update(f"{a.dtype.str}{a.shape}".encode())
            digest.update(a.tobytes())
        return digest.hexdigest()


def load_data(cfg: RunConfig, prep: Preprocessing | None = None) -> Splits:
    """Read or generate the data, split it, and fit preprocessing on train (or apply `prep`)."""
    X, y, feature_names, target_name, truth = read_source(cfg)
    classification = cfg.task == "classification"
    classes = codes = None
    if classification:  # one pass over the labels: the sorted classes and each row's class
        y, classes, codes = check_labels(y, cfg, target_name, describe_source(cfg))
    train_idx, test_idx = split_indices(codes, len(X), cfg.data.test_size, cfg.seed)
    if prep is None:
        prep = fit_preprocessing(X[train_idx], None, cfg.data.standardize)
        prep.classes = classes
    X = prep.transform(X)
    if classification:
        y = codes if prep.classes == classes else prep.encode(y, describe_source(cfg))
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


def other_csv_sep(cfg: RunConfig) -> str:
    """The separator of another CSV given to a trained run (eval --data, predict): the run's own, or ',' for a run
    on synthetic data."""
    return cfg.data.sep if cfg.data.source == "csv" else ","


def load_labelled_csv(path: Path, cfg: RunConfig, prep: Preprocessing, feature_names: list[str],
                      target: str, n_outputs: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) from another CSV with a trained run's columns, preprocessed as that run was."""
    from nnlab.data.csvfile import read_csv, read_header, regression_target

    if cfg.task == "regression" and n_outputs > 1:
        raise DataError(f"{path}: the run predicts {n_outputs} outputs, and a CSV has one target column "
                        f"('{target}'), so eval --data cannot score it; nnlab predict writes its predictions")
    sep = other_csv_sep(cfg)
    if target not in read_header(Path(path), sep):
        raise DataError(f"{path}: target column '{target}' not found; eval needs it to score the model")
    dropna = cfg.data.dropna if cfg.data.source == "csv" else False
    X, y, _ = read_csv(Path(path), target, feature_names, sep, dropna, fix="fix or remove those rows")
    X = np.require(prep.transform(X), requirements="W")  # pandas hands out read-only arrays; torch warns on them
    if cfg.task == "regression":
        return X, regression_target(y, Path(path), target)
    if y.dtype.kind == "f" and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    y = prep.encode(y, str(path))
    return X, (y.astype(np.float32)[:, None] if cfg.loss == "bce" else y)


