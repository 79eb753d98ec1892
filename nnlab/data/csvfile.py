"""Reading a CSV into float32 features and a raw target, with errors that name the column and row."""

import csv
from pathlib import Path

import numpy as np

from nnlab.errors import DataError, did_you_mean

ENCODING = "utf-8-sig"  # UTF-8, with or without the byte-order mark spreadsheets write


def read_header(path: Path, sep: str) -> list[str]:
    """The column names of a CSV, checked: the file exists, is UTF-8, has unique names."""
    try:
        with open(path, encoding=ENCODING, newline="") as f:
            header = next(csv.reader(f, delimiter=sep), None)
    except FileNotFoundError:
        raise DataError(f"{path}: data file not found; check data.path") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder; data.path must name a CSV file") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; re-save the file as UTF-8") from None
    except (OSError, csv.Error) as e:
        raise DataError(f"{path}: cannot read: {e}") from None
    if not header or header == [""]:
        raise DataError(f"{path}: the file is empty; it needs a header row and data rows")
    header = [name.strip() for name in header]
    if len(header) == 1:
        for other in (";", "\t", ",", "|"):
            if other != sep and other in header[0]:
                shown = "\\t" if other == "\t" else other
                raise DataError(f"{path}: only one column found with separator {sep!r}; the header "
                                f"looks {shown!r}-separated: set data.sep: '{shown}'")
    seen = set()
    for name in header:
        if name in seen:
            raise DataError(f"{path}: column '{name}' appears twice in the header; rename one")
        seen.add(name)
    return header


FLOAT32_MAX = float(np.finfo(np.float32).max)
MISSING_FIX = "fix them, fill them from the train rows with data.impute: mean (or median), or set data.dropna: true"


def read_csv(path: Path, target: str | None, features: list[str] | None, sep: str = ",",
             dropna: bool = False, categorical="auto", impute: bool = False, fix: str = MISSING_FIX):
    """X float32 (N, F), y as read (N,) or None when `target` is None, the feature names, and the categorical
    columns' text {column: object array (N,), None where missing} (their columns of X are NaN).

    `categorical`: "auto" (mostly non-numeric columns), a list of columns, or [] (every feature is a number).
    `impute`: missing feature values stay NaN (or None) to be filled later instead of being an error.
    `fix` ends the message about missing values (eval and predict cannot set data.dropna).
    """
    import pandas as pd

    header = read_header(path, sep)
    if target is not None and target not in header:
        raise DataError(f"{path}: target column '{target}' not found{did_you_mean(target, header)}; "
                        f"columns are: {', '.join(header)}")
    if features is None:
        features = [c for c in header if c != target]
    for name in features:
        if name not in header:
            raise DataError(f"{path}: feature column '{name}' not found{did_you_mean(name, header)}; "
                            f"columns are: {', '.join(header)}")
        if name == target:
            raise DataError(f"{path}: column '{name}' is both the target and a feature; "
                            "remove it from data.features")
    if not features:
        raise DataError(f"{path}: no feature columns besides the target '{target}'")
    auto = categorical == "auto"
    text = [] if auto else list(categorical)
    for name in text:
        if name not in features:
            raise DataError(f"{path}: data.categorical column '{name}' not found among the features"
                            f"{did_you_mean(name, features)}")
    columns = features + ([target] if target is not None else [])
    try:
        frame = _read_frame(path, sep, features, text)
    except ValueError as e:
        if isinstance(e, pd.errors.ParserError):
            raise DataError(f"{path}: {_parser_message(e)}") from None
        found = _non_numeric(path, sep, [c for c in features if c not in text])
        if auto and found and all(categorical_like for _, categorical_like, _ in found.values()):
            text = [c for c in features if c in found or c in text]
            frame = _read_frame(path, sep, features, text)
        else:
            raise DataError(_non_numeric_message(path, found, auto) or f"{path}: {e}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; re-save the file as UTF-8") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) == 0:
        raise DataError(f"{path}: has a header but no data rows")
    if frame.isna().to_numpy().any():  # pandas pads a short row with NaN: name it, dropna or not
        short = _first_short_row(path, sep, len(header))
        if short:
            raise DataError(f"{path}: ragged row: line {short[0]} has {short[1]} values but the header has "
                            f"{len(header)}; every row needs as many values as the header")
    frame = _handle_missing(frame[columns], columns, path, dropna, sep, fix, features if impute else [])
    if text:
        X = np.full((len(frame), len(features)), np.nan, dtype=np.float32)
        for j, name in enumerate(features):
            if name not in text:
                X[:, j] = frame[name].to_numpy(dtype=np.float32)
    else:
        X = frame[features].to_numpy(dtype=np.float32)
    cats = {name: np.array([None if v is None or v != v else str(v).strip() for v in frame[name].tolist()],
                           dtype=object) for name in text}
    y = frame[target].to_numpy() if target is not None else None
    if y is not None and y.dtype == object:
        y = np.array([str(v).strip() for v in y], dtype=object)
    return X, y, features, cats


def _read_frame(path: Path, sep: str, features: list[str], text: list[str]):
    """The CSV as a frame: numeric features parsed to float32, `text` columns kept as strings."""
    import warnings

    import pandas as pd

    dtype = {c: (object if c in text else np.float32) for c in features}
    with warnings.catch_warnings():  # a value beyond float32 becomes inf with a RuntimeWarning: named below
        warnings.simplefilter("ignore", RuntimeWarning)
        # No usecols: with it, pandas silently accepts rows with extra fields.
        return pd.read_csv(path, sep=sep, dtype=dtype, encoding=ENCODING, skipinitialspace=True)


def _handle_missing(frame, columns: list[str], path: Path, dropna: bool, sep: str, fix: str, imputed=()):
    """Drop rows with NaN/inf when asked; otherwise name the columns and rows that have them. Missing values
    of the `imputed` columns are kept (data.impute fills them); their infinite values are not. A number too
    large for float32 (read as inf) is always an error, named with its line."""
    import pandas as pd

    bad = pd.DataFrame({c: (frame[c].isna() if c not in imputed else False) |
                        (np.isinf(frame[c]) if frame[c].dtype.kind == "f" else False) for c in columns})
    bad_rows = bad.any(axis=1)
    if not bad_rows.any():
        return frame
    too_large = _beyond_float32(path, sep, bad)
    if too_large:
        raise DataError(too_large)
    if dropna:
        kept = frame[~bad_rows].reset_index(drop=True)
        if len(kept) == 0:
            raise DataError(f"{path}: every row has a missing or infinite value")
        return kept
    counts = ", ".join(f"'{c}': {int(n)}" for c, n in bad.sum().items() if n)
    lines = ", ".join(str(i + 2) for i in np.flatnonzero(bad_rows.to_numpy())[:5])
    raise DataError(f"{path}: missing or infinite values in {counts} (first at line {lines}); {fix}")


def _beyond_float32(path: Path, sep: str, bad) -> str | None:
    """The first cell that reads as a finite number too large for float32, named by column and line; None if none."""
    header = [name.strip() for name in read_header(path, sep)]
    cells = [(int(row), column) for column in bad.columns for row in np.flatnonzero(bad[column].to_numpy())[:20]]
    wanted = {row for row, _ in cells}
    found = {}
    with open(path, encoding=ENCODING, newline="") as f:
        for i, values in enumerate(csv.reader(f, delimiter=sep), start=-1):  # i: the data row (-1 is the header)
            if i in wanted:
                found[i] = values
            if i >= max(wanted):
                break
    for row, column in sorted(cells):
        values = found.get(row, [])
        text = values[header.index(column)].strip() if header.index(column) < len(values) else ""
        if _finite_beyond_float32(text):
            return (f"{path}: column '{column}' line {row + 2}: {text} is beyond float32 range (largest "
                    f"±{FLOAT32_MAX:.3g}); rescale the column (nnlab trains in float32)")
    return None


def _finite_beyond_float32(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return np.isfinite(value) and abs(value) > FLOAT32_MAX


def regression_target(y: np.ndarray, path: Path, target: str, hint: str = "") -> np.ndarray:
    """The raw target as float32 (N, 1); text, or a number beyond float32 range, is a DataError naming it."""
    try:
        y64 = y.astype(np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{path}: target '{target}' is not numeric{hint}") from None
    with np.errstate(over="ignore"):
        y32 = y64.astype(np.float32)
    overflow = np.flatnonzero(np.isinf(y32) & np.isfinite(y64))
    if len(overflow):
        many = f" (and {len(overflow) - 1} more)" if len(overflow) > 1 else ""
        raise DataError(f"{path}: target '{target}' holds {y64[overflow[0]]:g}{many}, beyond float32 range "
                        f"(largest ±{FLOAT32_MAX:.3g}); rescale the target (nnlab trains in float32)")
    return y32[:, None]


def _first_short_row(path: Path, sep: str, n_columns: int) -> tuple[int, int] | None:
    """(line, number of values) of the first row with fewer values than the header (pandas pads those)."""
    with open(path, encoding=ENCODING, newline="") as f:
        for line, row in enumerate(csv.reader(f, delimiter=sep), start=1):
            if line > 1 and row and len(row) < n_columns:
                return line, len(row)
    return None


def _non_numeric(path: Path, sep: str, features: list[str]) -> dict[str, tuple[int, bool, str]]:
    """{column: (first line, mostly text?, first value)} for the features holding values that are not numbers.

    A column is *mostly text* (one-hot encoded by data.categorical: auto) when more than half of its
    non-missing values are not numbers; fewer look like typos in a numeric column, which stay an error.
    """
    import pandas as pd

    frame = pd.read_csv(path, sep=sep, dtype=str, encoding=ENCODING, keep_default_na=False,
                        skipinitialspace=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    found = {}
    for name in features:
        text = frame[name].str.strip()
        missing = text.str.lower().isin(MISSING)
        numbers = pd.to_numeric(text.where(~missing, "nan"), errors="coerce")
        bad = numbers.isna() & ~missing
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            found[name] = (row + 2, int(bad.sum()) * 2 > int((~missing).sum()), text.iloc[row])
    return found


MISSING = ["", "nan", "na", "n/a", "null", "none"]  # read as missing, not as text


def _non_numeric_message(path: Path, found: dict, auto: bool) -> str | None:
    """The first non-numeric value of a column that must be numeric, named by column, line and value."""
    for name, (line, mostly_text, value) in found.items():
        if auto and mostly_text:
            continue
        why = "most of its values are numbers, so this looks like a typo; " if auto else ""
        return (f"{path}: column '{name}' line {line}: {value!r} is not a number; {why}fix the value, drop the "
                "column from data.features, or list it in data.categorical to one-hot encode it")
    return None


def _parser_message(error) -> str:
    text = str(error).strip()
    if "Expected" in text and "fields" in text:
        return f"ragged row: {text.split('error: ')[-1]}; every row needs as many values as the header"
    return text.splitlines()[-1]
