"""What is fitted on the train split and applied everywhere after: scaler statistics and class labels."""

import math
from dataclasses import dataclass

import numpy as np

from nnlab.config import RunConfig
from nnlab.data.encoding import Encoding
from nnlab.errors import ConfigError, DataError


@dataclass
class Preprocessing:
    """What was fitted on the train split: the encoding of raw columns, scaler statistics and the class labels."""

    mean: np.ndarray | None = None  # (n_features,), None when not standardized
    scale: np.ndarray | None = None
    classes: list | None = None  # original labels; position = encoded class
    encoding: Encoding | None = None  # impute and one-hot; None when every column is a number used as it is

    def transform(self, X: np.ndarray, text: dict | None = None, where: str = "data") -> np.ndarray:
        """Model inputs from raw columns: encoded (when fitted with an encoding), then standardized."""
        if self.encoding is not None:
            X = self.encoding.transform(X, text or {}, where)
        if self.mean is None:
            return X
        return ((X - self.mean) / self.scale).astype(np.float32)

    def input_names(self, columns: list[str]) -> list[str]:
        """The model's input names for these raw columns (one-hot columns become `column=category`)."""
        return self.encoding.names() if self.encoding is not None else list(columns)

    def encode(self, labels: np.ndarray, where: str) -> np.ndarray:
        """Original labels -> class indices; a label the model never saw is a DataError."""
        index = {label: i for i, label in enumerate(self.classes)}
        distinct, inverse = unique_inverse(labels)
        unknown = sorted(set(distinct) - set(index), key=str)
        if unknown:
            raise DataError(f"{where}: labels {', '.join(map(repr, unknown[:5]))} were not among the "
                            f"classes the model was trained on ({', '.join(map(repr, self.classes))})")
        return np.array([index[v] for v in distinct], dtype=np.int64)[inverse]

    def to_dict(self) -> dict:
        """Plain lists, safe for a weights_only checkpoint."""
        return {"mean": None if self.mean is None else self.mean.tolist(),
                "scale": None if self.scale is None else self.scale.tolist(),
                "classes": self.classes, "encoding": None if self.encoding is None else self.encoding.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocessing":
        as_array = lambda v: None if v is None else np.asarray(v, dtype=np.float32)  # noqa: E731
        encoding = Encoding.from_dict(d["encoding"]) if d.get("encoding") else None
        return cls(as_array(d.get("mean")), as_array(d.get("scale")), d.get("classes"), encoding)



def fit_preprocessing(X_train: np.ndarray, labels: np.ndarray | None, standardize: bool,
                      one_hot: np.ndarray | None = None) -> Preprocessing:
    """StandardScaler statistics from the train rows (std 0 -> 1, as scikit-learn does) and the classes;
    `one_hot` marks indicator columns, which keep mean 0 and scale 1 (as a ColumnTransformer leaves them)."""
    prep = Preprocessing()
    if standardize:
        X64 = X_train.astype(np.float64)
        prep.mean = X64.mean(axis=0).astype(np.float32)
        std = X64.std(axis=0)
        prep.scale = np.where(std > 0, std, 1.0).astype(np.float32)
        if one_hot is not None and one_hot.any():
            prep.mean[one_hot], prep.scale[one_hot] = 0.0, 1.0
    if labels is not None:
        prep.classes = sorted(unique_inverse(labels)[0], key=label_order)
    return prep



def check_labels(y: np.ndarray, cfg: RunConfig, target_name: str, where: str) -> tuple[np.ndarray, list, np.ndarray]:
    """(labels, their sorted distinct classes, each row's class index): checked to make a classifier;
    `where` names the data in messages."""
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)) or not np.all(np.abs(y) < 2.0 ** 53):
            raise DataError(f"{where}: target '{target_name}' holds real numbers, not class labels; "
                            "for regression set loss: mse")
        y = y.astype(np.int64)
    y = y.reshape(-1)
    distinct, inverse = unique_inverse(y)
    classes = sorted(distinct, key=label_order)
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
    n_test = math.ceil(cfg.data.test_size * len(y)) if cfg.data.test_size and not cfg.data.folds else None
    if n_test is not None and n_test < len(classes):
        raise DataError(f"{where}: data.test_size {cfg.data.test_size} gives {n_test} test rows for "
                        f"{len(classes)} classes; raise test_size so every class is held out")
    if n_test is not None:
        alone = [classes[i] for i in np.flatnonzero(np.bincount(codes, minlength=len(classes)) == 1)]
        if alone:  # the stratified split would keep it in train only: a class the test split never shows
            raise DataError(f"{where}: target '{target_name}' has a single row of class "
                            f"{', '.join(map(repr, alone[:5]))}{' (and more)' if len(alone) > 5 else ''}; "
                            "a stratified split needs two rows of every class (one to train on, one to test); "
                            "add rows, drop that class, or set data.test_size: 0")
    return y, classes, codes


def unique_inverse(labels: np.ndarray) -> tuple[list, np.ndarray]:
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


def label_order(label):
    return (0, label, "") if isinstance(label, (int, float)) else (1, 0, str(label))


def class_weights(spec, codes: np.ndarray, classes: list, where: str) -> np.ndarray | None:
    """train.class_weight as one weight per class (float32), from the train rows' class indices `codes`.

    balanced: n_rows / (n_classes · rows of the class), scikit-learn's compute_class_weight; a mapping
    {label: weight} names original labels (a class it leaves out weighs 1).
    """
    if spec is None:
        return None
    counts = np.bincount(codes.reshape(-1).astype(np.int64), minlength=len(classes))
    if spec == "balanced":
        with np.errstate(divide="ignore"):
            return np.where(counts > 0, counts.sum() / (len(classes) * counts), 1.0).astype(np.float32)
    by_name = {str(label): i for i, label in enumerate(classes)}
    weights = np.ones(len(classes), dtype=np.float32)
    for label, weight in spec.items():
        if str(label) not in by_name:
            raise ConfigError(f"train.class_weight: label {label!r} is not a class of {where} (classes: "
                              f"{', '.join(map(repr, classes))})")
        weights[by_name[str(label)]] = weight
    return weights

