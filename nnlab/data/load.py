"""Data: a config's source -> Splits (train/validation/test arrays plus the preprocessing fitted on train).

numpy and pandas only: `nnlab check` reads data without importing torch.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnlab.config import RunConfig
from nnlab.data.encoding import fit_encoding
from nnlab.data.preprocessing import Preprocessing, check_labels, class_weights, fit_preprocessing
from nnlab.data.sources import describe_source, read_source
from nnlab.data.splits import carve_validation, fold_indices, split_indices
from nnlab.errors import DataError


@dataclass
class Splits:
    """Train, validation and test arrays, preprocessed: X float32 (N, n_features); y int64 classes or float32 (N, k).

    The validation arrays have 0 rows when data.val_size is 0. `feature_names` are the model's inputs
    (`column=category` for one-hot columns); `columns` the raw feature columns a CSV must have.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    target_name: str
    prep: Preprocessing
    n_outputs: int
    truth: dict = field(default_factory=dict)  # generating parameters of synthetic data
    X_val: np.ndarray | None = None  # None: set to 0 rows of the train arrays' shape
    y_val: np.ndarray | None = None
    columns: list[str] | None = None  # None: the same as feature_names
    rows: dict = field(default_factory=dict)  # split -> row indices into the source's rows
    class_weight: np.ndarray | None = None  # train.class_weight per class, fitted on the train rows

    def __post_init__(self):
        if self.X_val is None:
            self.X_val, self.y_val = self.X_train[:0], self.y_train[:0]
        if self.columns is None:
            self.columns = list(self.feature_names)

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    def tensors(self, device):
        """(X_train, y_train, X_test, y_test) as torch tensors on `device`."""
        return _on(device, self.arrays())

    def val_tensors(self, device):
        """(X_val, y_val) as torch tensors on `device` (0 rows without a validation split)."""
        return _on(device, (self.X_val, self.y_val))

    def arrays(self) -> tuple:
        return self.X_train, self.y_train, self.X_test, self.y_test

    def all_arrays(self) -> tuple:
        """arrays() and, when there is a validation split, X_val and y_val."""
        return self.arrays() + ((self.X_val, self.y_val) if len(self.X_val) else ())

    def same_arrays(self, other: "Splits") -> bool:
        """The same train, validation and test numbers (a sweep's runs can then share one copy on the device)."""
        ours, theirs = self.all_arrays(), other.all_arrays()
        return len(ours) == len(theirs) and all(np.array_equal(a, b) for a, b in zip(ours, theirs))

    def fingerprint(self) -> str:
        """sha256 of the preprocessed arrays: a resumed run must see the same numbers."""
        import hashlib

        digest = hashlib.sha256()
        for a in self.all_arrays():
            a = np.ascontiguousarray(a)
            digest.update(f"{a.dtype.str}{a.shape}".encode())
            digest.update(a.tobytes())
        return digest.hexdigest()


def _on(device, arrays) -> tuple:
    import torch

    return tuple(torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in arrays)


def load_data(cfg: RunConfig, prep: Preprocessing | None = None) -> Splits:
    """Read or generate the data, split it, and fit preprocessing on train (or apply `prep`)."""
    X, y, columns, target_name, truth, text = read_source(cfg)
    classification = cfg.task == "classification"
    where = describe_source(cfg)
    classes = codes = None
    if classification:  # one pass over the labels: the sorted classes and each row's class
        y, classes, codes = check_labels(y, cfg, target_name, where)
    rows = split_rows(cfg, codes, len(X))
    train_idx = rows["train"]
    if prep is None:
        prep = fit_prep(cfg, X, text, columns, train_idx, where)
        prep.classes = classes
    X = prep.transform(X, text, where)
    if classification:
        y = codes if prep.classes == classes else prep.encode(y, where)
        if cfg.loss == "bce":
            y = y.astype(np.float32)[:, None]  # (N, 1) of 0.0 / 1.0: the second class is positive
    n_outputs = (len(prep.classes) if cfg.loss == "cross_entropy" else 1) if classification else y.shape[1]
    weights = class_weights(cfg.train.class_weight, y[train_idx], prep.classes, where) if classification else None
    val_idx, test_idx = rows["val"], rows["test"]
    return Splits(X[train_idx], y[train_idx], X[test_idx], y[test_idx], prep.input_names(columns), target_name,
                  prep, n_outputs, truth, X[val_idx], y[val_idx], list(columns), rows, weights)


def split_rows(cfg: RunConfig, codes: np.ndarray | None, n: int) -> dict:
    """{"train", "val", "test"}: sorted row indices; the test split is a fold with data.folds."""
    d = cfg.data
    if d.folds:
        train, test = fold_indices(codes, n, d.folds, d.fold, cfg.seed)
    else:
        train, test = split_indices(codes, n, d.test_size, cfg.seed)
    train, val = carve_validation(codes, train, n, d.val_size, cfg.seed)
    return {"train": train, "val": val, "test": test}


def fit_prep(cfg: RunConfig, X: np.ndarray, text: dict, columns: list[str], train_idx: np.ndarray,
             where: str) -> Preprocessing:
    """The encoding (impute, one-hot: only when the data needs one) and the scaler, fitted on the train rows."""
    impute = getattr(cfg.data, "impute", None)
    encoding = None
    if text or impute:
        encoding = fit_encoding(X[train_idx], {k: v[train_idx] for k, v in text.items()}, columns, impute, where)
        X_train = encoding.transform(X[train_idx], {k: v[train_idx] for k, v in text.items()}, where)
    else:
        X_train = X[train_idx]
    prep = fit_preprocessing(X_train, None, cfg.data.standardize, encoding.one_hot() if encoding else None)
    prep.encoding = encoding
    return prep


def load_many(cfgs: list[RunConfig]) -> list[Splits]:
    """load_data() for each config, read once per distinct (data, seed, loss, model kind): a sweep's grid
    points share their seeds' splits. The Splits are shared, so callers must not change them."""
    import json

    def key(cfg: RunConfig) -> tuple:  # everything load_data reads from a config
        return (json.dumps(cfg.data.model_dump(mode="json"), sort_keys=True), cfg.seed, cfg.loss, cfg.model.kind,
                json.dumps(cfg.train.class_weight, sort_keys=True, default=str))

    loaded = {}
    for cfg in cfgs:
        if key(cfg) not in loaded:
            loaded[key(cfg)] = load_data(cfg)
    return [loaded[key(cfg)] for cfg in cfgs]


def other_csv_sep(cfg: RunConfig) -> str:
    """The separator of another CSV given to a trained run (eval --data, predict): the run's own, or ',' for a run
    on synthetic data."""
    return cfg.data.sep if cfg.data.source == "csv" else ","


def read_labelled(path: Path, cfg: RunConfig, prep: Preprocessing, columns: list[str], target: str | None,
                  fix: str = "fix or remove those rows"):
    """(X preprocessed, raw y or None) from another CSV with a trained run's input columns (eval's or predict's
    --data)."""
    from nnlab.data.csvfile import read_csv

    d = cfg.data
    categorical = list(prep.encoding.categories) if prep.encoding is not None else []
    impute = prep.encoding is not None and bool(prep.encoding.fill)
    dropna = d.dropna if d.source == "csv" else False
    X, y, _, text = read_csv(Path(path), target, columns, other_csv_sep(cfg), dropna, categorical, impute, fix=fix,
                            source="--data")
    X = np.require(prep.transform(X, text, str(path)), requirements="W")  # pandas hands out read-only arrays
    return X, y


def load_labelled_csv(path: Path, cfg: RunConfig, prep: Preprocessing, feature_names: list[str],
                      target: str, n_outputs: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) from another CSV with a trained run's columns, preprocessed as that run was."""
    from nnlab.data.csvfile import read_header, regression_target

    if cfg.task == "regression" and n_outputs > 1:
        raise DataError(f"{path}: the run predicts {n_outputs} outputs, and a CSV has one target column "
                        f"('{target}'), so eval --data cannot score it; nnlab predict writes its predictions")
    if target not in read_header(Path(path), other_csv_sep(cfg), "--data"):
        raise DataError(f"{path}: target column '{target}' not found; eval needs it to score the model")
    X, y = read_labelled(path, cfg, prep, feature_names, target)
    if cfg.task == "regression":
        return X, regression_target(y, Path(path), target)
    if y.dtype.kind == "f" and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    y = prep.encode(y, str(path))
    return X, (y.astype(np.float32)[:, None] if cfg.loss == "bce" else y)
