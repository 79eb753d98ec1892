"""Reading a CSV into float32 features and a raw target, with errors that name the column and row."""

import csv
from pathlib import Path

import numpy as np

from nnlab.errors import DataError, did_you_mean
from nnlab.limits import MAX_COLUMNS

ENCODING = "utf-8-sig"  # UTF-8, with or without the byte-order mark spreadsheets write


def read_header(path: Path, sep: str) -> list[str]:
    """The column names of a CSV, checked: the file exists and is a regular file (a FIFO would block), is UTF-8, has
    at most MAX_COLUMNS unique names."""
    import stat

    try:
        mode = Path(path).stat().st_mode
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            raise DataError(f"{path}: not a regular file (a pipe or a device); give a CSV file")
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
    if len(header) > MAX_COLUMNS:
        raise DataError(f"{path}: {len(header):,} columns, more than the {MAX_COLUMNS:,} nnlab reads; keep the columns "
                        "you train on in a file of their own (e.g. with cut or pandas)")
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


def read_csv(path: Path, target: str | None, features: list[str] | None, sep: str = ",",
             dropna: bool = False):
    """X float32 (N, F), y as read (N,) or None when `target` is None, and the feature names.

    Linear in the number of columns (set lookups, one numpy pass for missing values): a wide file costs its parsing.
    """
    import pandas as pd

    header = read_header(path, sep)
    known = set(header)
    if target is not None and target not in known:
        raise DataError(f"{path}: target column '{target}' not found{did_you_mean(target, header)}; "
                        f"columns are: {_listed(header)}")
    if features is None:
        features = [c for c in header if c != target]
    for name in features:
        if name not in known:
            raise DataError(f"{path}: feature column '{name}' not found{did_you_mean(name, header)}; "
                            f"columns are: {_listed(header)}")
        if name == target:
            raise DataError(f"{path}: column '{name}' is both the target and a feature; "
                            "remove it from data.features")
    if not features:
        raise DataError(f"{path}: no feature columns besides the target '{target}'")
    try:
        # No usecols: with it, pandas silently accepts rows with extra fields. No dtype per feature: pandas then
        # works column by column (minutes for 100,000 columns); numbers parse the same either way.
        frame = pd.read_csv(path, sep=sep, encoding=ENCODING, skipinitialspace=True)
    except pd.errors.ParserError as e:
        raise DataError(f"{path}: {_parser_message(e)}") from None
    except ValueError as e:
        raise DataError(f"{path}: {e}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; re-save the file as UTF-8") from None
    if len(frame) == 0:
        raise DataError(f"{path}: has a header but no data rows")
    position = {name: i for i, name in enumerate(header)}
    kinds = [dtype.kind for dtype in frame.dtypes]
    text = [name for name in features if kinds[position[name]] not in "fiu"]
    if text:
        raise DataError(_find_non_numeric(path, sep, text) or f"{path}: column '{text[0]}' is not numeric")
    X = frame.iloc[:, [position[name] for name in features]].to_numpy(dtype=np.float32)
    y = frame.iloc[:, position[target]].to_numpy() if target is not None else None
    missing_X = ~np.isfinite(X)  # NaN (missing, or a short row pandas padded) and infinity
    missing_y = np.zeros(len(X), dtype=bool) if y is None else \
        (pd.isna(y) | (np.isinf(y) if y.dtype.kind == "f" else False))
    if missing_X.any() or missing_y.any():
        short = _first_short_row(path, sep, len(header))
        if short:  # a ragged row is an error, dropna or not
            raise DataError(f"{path}: ragged row: line {short[0]} has {short[1]} values but the header has "
                            f"{len(header)}; every row needs as many values as the header")
        X, y = _handle_missing(X, y, missing_X, missing_y, features, target, path, dropna)
    if y is not None and y.dtype == object:
        y = np.array([str(v).strip() for v in y], dtype=object)
    return X, y, features


def _listed(names: list[str], limit: int = 30) -> str:
    return ", ".join(names[:limit]) + (f", ... ({len(names):,} columns)" if len(names) > limit else "")


def _handle_missing(X, y, missing_X, missing_y, features, target, path: Path, dropna: bool):
    """Drop rows with NaN/inf when asked; otherwise name the columns (and first rows) that have them."""
    bad_rows = missing_X.any(axis=1) | missing_y
    if dropna:
        kept = ~bad_rows
        if not kept.any():
            raise DataError(f"{path}: every row has a missing or infinite value")
        return X[kept], (None if y is None else y[kept])
    per_column = missing_X.sum(axis=0)
    counts = [(features[i], int(per_column[i])) for i in np.flatnonzero(per_column)]
    if missing_y.any():
        counts.append((target, int(missing_y.sum())))
    shown = ", ".join(f"'{c}': {n}" for c, n in counts[:10]) + (f", ... ({len(counts):,} columns)"
                                                                if len(counts) > 10 else "")
    lines = ", ".join(str(i + 2) for i in np.flatnonzero(bad_rows)[:5])
    raise DataError(f"{path}: missing or infinite values in {shown} (first at line {lines}); "
                    "fix them or set data.dropna: true")


def _first_short_row(path: Path, sep: str, n_columns: int) -> tuple[int, int] | None:
    """(line, number of values) of the first row with fewer values than the header (pandas pads those)."""
    with open(path, encoding=ENCODING, newline="") as f:
        for line, row in enumerate(csv.reader(f, delimiter=sep), start=1):
            if line > 1 and row and len(row) < n_columns:
                return line, len(row)
    return None


def _find_non_numeric(path: Path, sep: str, features: list[str]) -> str | None:
    """The first feature value that is not a number, named by column, line and value."""
    import pandas as pd

    frame = pd.read_csv(path, sep=sep, dtype=str, encoding=ENCODING, keep_default_na=False,
                        skipinitialspace=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    for name in features:
        text = frame[name].str.strip()
        numbers = pd.to_numeric(text.where(text != "", "nan"), errors="coerce")
        bad = numbers.isna() & ~text.str.lower().isin(["", "nan", "na", "n/a", "null", "none"])
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            return (f"{path}: column '{name}' line {row + 2}: {text.iloc[row]!r} is not a number; "
                    "features must be numeric (drop the column from data.features or fix the value)")
    return None


def _parser_message(error) -> str:
    text = str(error).strip()
    if "Expected" in text and "fields" in text:
        return f"ragged row: {text.split('error: ')[-1]}; every row needs as many values as the header"
    return text.splitlines()[-1]
