"""Raw feature columns -> numbers, fitted on the train rows only: gaps filled (data.impute) and text columns
one-hot encoded (data.categorical), in the columns' own order.

The one-hot categories of a column are its distinct train values, sorted (scikit-learn's OneHotEncoder
order); a value the train rows never had is a DataError naming the column and the value.
"""

from dataclasses import dataclass, field

import numpy as np

from nnlab.errors import DataError


@dataclass
class Encoding:
    """What was fitted on the train rows: each text column's categories, and each column's fill value."""

    columns: list[str]  # the raw feature columns, in order
    categories: dict[str, list[str]] = field(default_factory=dict)  # one-hot columns -> sorted train categories
    fill: dict[str, float | str] = field(default_factory=dict)  # data.impute: the value a column's gaps get

    def names(self) -> list[str]:
        """The model's inputs: a numeric column's name, or `column=category` per one-hot column."""
        return [name for c in self.columns
                for name in ([f"{c}={v}" for v in self.categories[c]] if c in self.categories else [c])]

    def one_hot(self) -> np.ndarray:
        """(n_inputs,) bool: which model inputs are one-hot indicators (the scaler leaves them as they are)."""
        return np.array([c in self.categories for c in self.columns for _ in self.categories.get(c, [c])], dtype=bool)

    def transform(self, X: np.ndarray, text: dict[str, np.ndarray], where: str) -> np.ndarray:
        """float32 (N, n_inputs) from X float32 (N, n_columns) and the text columns {column: (N,) objects}."""
        blocks = []
        for j, name in enumerate(self.columns):
            if name not in self.categories:
                x = X[:, j]
                if name in self.fill:
                    x = np.where(np.isnan(x), np.float32(self.fill[name]), x)
                blocks.append(x[:, None])
                continue
            values = text[name]
            if name in self.fill:
                values = np.where(values == None, self.fill[name], values)  # noqa: E711 - elementwise
            blocks.append(_indicators(values, self.categories[name], name, where))
        return np.concatenate(blocks, axis=1).astype(np.float32, copy=False)

    def to_dict(self) -> dict:
        return {"columns": list(self.columns), "categories": {k: list(v) for k, v in self.categories.items()},
                "fill": dict(self.fill)}

    @classmethod
    def from_dict(cls, d: dict) -> "Encoding":
        return cls(list(d["columns"]), {k: list(v) for k, v in d["categories"].items()}, dict(d["fill"]))


MISSING = "\0missing"  # stands for a missing text value while looking categories up


def _indicators(values: np.ndarray, categories: list[str], name: str, where: str) -> np.ndarray:
    """(N, len(categories)) float32 one-hot rows; an unseen or missing value is a DataError."""
    position = {c: i for i, c in enumerate(categories)}
    keys = np.where(values == None, MISSING, values).astype(str)  # noqa: E711 - elementwise
    distinct, inverse = np.unique(keys, return_inverse=True)
    unknown = [v for v in distinct.tolist() if v not in position]
    if unknown:
        shown = ", ".join("a missing value" if v == MISSING else repr(v) for v in unknown[:3])
        rows = int(np.isin(inverse, [i for i, v in enumerate(distinct.tolist()) if v in unknown]).sum())
        known = ", ".join(map(repr, categories[:10])) + (", ..." if len(categories) > 10 else "")
        raise DataError(f"{where}: column '{name}' has {shown} ({rows} row{'s' * (rows != 1)}), not among the "
                        f"categories of the train rows the encoding was fitted on ({known}); fix or drop those "
                        "rows, merge the category into another, or drop the column from data.features")
    codes = np.array([position[v] for v in distinct.tolist()], dtype=np.int64)[inverse.reshape(-1)]
    out = np.zeros((len(values), len(categories)), dtype=np.float32)
    out[np.arange(len(values)), codes] = 1.0
    return out


def fit_encoding(X: np.ndarray, text: dict[str, np.ndarray], columns: list[str], impute: str | None,
                 where: str) -> Encoding:
    """Categories and fill values from the train rows: X float32 (N, n_columns), text {column: (N,) objects}."""
    encoding = Encoding(list(columns))
    for name, values in text.items():
        present = values[values != None]  # noqa: E711 - elementwise
        if len(present) == 0:
            raise DataError(f"{where}: column '{name}' has no values in the train split to encode; "
                            "drop it from data.features")
        distinct, counts = np.unique(present.astype(str), return_counts=True)
        encoding.categories[name] = distinct.tolist()
        if impute is not None:
            encoding.fill[name] = str(distinct[int(np.argmax(counts))])  # the most frequent (first when tied)
    if impute is not None:
        for j, name in enumerate(columns):
            if name in text:
                continue
            x = X[:, j].astype(np.float64)
            x = x[~np.isnan(x)]
            if len(x) == 0:
                raise DataError(f"{where}: column '{name}' has no values in the train split to impute from; "
                                "drop it from data.features")
            encoding.fill[name] = float(np.mean(x) if impute == "mean" else np.median(x))
    return encoding
