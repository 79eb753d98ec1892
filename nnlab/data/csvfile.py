"""Reading a CSV into float32 features and a raw target, with errors that name the column and row."""

import csv
import re
from pathlib import Path

import numpy as np

from nnlab.errors import DataError, did_you_mean
from nnlab.limits import MAX_COLUMNS

ENCODING = "utf-8-sig"  # UTF-8, with or without the byte-order mark spreadsheets write


def read_header(path: Path, sep: str, source: str = "data.path") -> list[str]:
    """The column names of a CSV, checked: the file exists and is a regular file (a FIFO would block), is UTF-8, has
    at most MAX_COLUMNS unique names. `source`: what named the file, for the messages (data.path, or --data)."""
    import stat

    try:
        mode = Path(path).stat().st_mode
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            raise DataError(f"{path}: not a regular file (a pipe or a device); give a CSV file")
        with open(path, encoding=ENCODING, newline="") as f:
            header = next(csv.reader(f, delimiter=sep), None)
    except FileNotFoundError:
        raise DataError(f"{path}: data file not found; check {source}") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder; {source} must name a CSV file") from None
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
                fix = f"set data.sep: '{shown}'" if source == "data.path" else \
                    f"the run reads {sep!r}-separated files (its data.sep): save this one with {sep!r}"
                raise DataError(f"{path}: only one column found with separator {sep!r}; the header "
                                f"looks {shown!r}-separated: {fix}")
    seen = set()
    for name in header:
        if name in seen:
            raise DataError(f"{path}: column '{name}' appears twice in the header; rename one")
        seen.add(name)
    return header


FLOAT32_MAX = float(np.finfo(np.float32).max)
MISSING_FIX = "fix them, fill them from the train rows with data.impute: mean (or median), or set data.dropna: true"


def read_csv(path: Path, target: str | None, features: list[str] | None, sep: str = ",",
             dropna: bool = False, categorical="auto", impute: bool = False, fix: str = MISSING_FIX,
             source: str = "data.path"):
    """X float32 (N, F), y as read (N,) or None when `target` is None, the feature names, and the categorical
    columns' text {column: object array (N,), None where missing} (their columns of X are NaN).

    `categorical`: "auto" (mostly non-numeric columns), a list of columns, or [] (every feature is a number).
    `impute`: missing feature values stay NaN (or None) to be filled later instead of being an error.
    `fix` ends the message about missing values (eval and predict cannot set data.dropna); `source` names what
    gave the path (data.path, or eval's and predict's --data).
    Linear in the number of columns (set lookups, one numpy pass for missing values): a wide file costs its parsing.
    A small file of plain numbers is read without pandas (see _read_plain); pandas reads every other one.
    """
    header = read_header(path, sep, source)
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
    auto = categorical == "auto"
    text = [] if auto else list(categorical)
    for name in text:
        if name not in features:
            raise DataError(f"{path}: data.categorical column '{name}' not found among the features"
                            f"{did_you_mean(name, features)}")
    plain = None if text else _read_plain(path, sep, header, features, target)
    if plain is not None:
        return plain
    import pandas as pd

    try:
        # No usecols: with it, pandas silently accepts rows with extra fields. No dtype per feature: pandas then
        # works column by column (minutes for 100,000 columns); numbers parse the same either way. Listed
        # categorical columns are read as text, so '007' stays '007'.
        frame = pd.read_csv(path, sep=sep, encoding=ENCODING, skipinitialspace=True,
                            dtype={name: object for name in text} or None)
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
    listed = set(text)
    other_text = [name for name in features if kinds[position[name]] not in "fiu" and name not in listed]
    if other_text:  # text in columns not listed as categorical: one-hot encode them (auto), or say which value
        found = _non_numeric(path, sep, other_text)
        if found and not (auto and all(mostly_text for _, mostly_text, _ in found.values())):
            raise DataError(_non_numeric_message(path, found, auto))
        text += [name for name in other_text if name in found]
        listed = set(text)
        for name in other_text:  # numbers and missing-value words ('none', 'n/a'): numbers, NaN where missing
            if name not in found:
                column = frame.iloc[:, position[name]].astype(str).str.strip()
                frame.isetitem(position[name], pd.to_numeric(column.where(~column.str.lower().isin(MISSING)),
                                                             errors="coerce"))
    numeric = [name for name in features if name not in listed]
    X64 = frame.iloc[:, [position[name] for name in numeric]].to_numpy(dtype=np.float64)
    beyond = np.isfinite(X64) & (np.abs(X64) > FLOAT32_MAX)
    if beyond.any():
        row, col = (int(i) for i in np.argwhere(beyond)[0])
        written = _cell(path, sep, row, position[numeric[col]]) or f"{X64[row, col]:g}"
        raise DataError(f"{path}: column '{numeric[col]}' line {row + 2}: {written} is beyond float32 range "
                        f"(largest ±{FLOAT32_MAX:.3g}); rescale the column (nnlab trains in float32)")
    X = np.full((len(frame), len(features)), np.nan, dtype=np.float32)
    numeric_at = [j for j, name in enumerate(features) if name not in listed]
    X[:, numeric_at] = X64
    cats = {name: np.array([None if v is None or v != v else str(v).strip()
                            for v in frame.iloc[:, position[name]].tolist()], dtype=object) for name in text}
    y = frame.iloc[:, position[target]].to_numpy() if target is not None else None
    missing_X = ~np.isfinite(X)  # NaN (missing, or a short row pandas padded) and infinity
    for j, name in enumerate(features):
        if name in listed:  # text: missing where None
            missing_X[:, j] = np.array([v is None for v in cats[name]])
    missing_y = np.zeros(len(X), dtype=bool) if y is None else \
        (pd.isna(y) | (np.isinf(y) if y.dtype.kind == "f" else False))
    if missing_X.any() or missing_y.any():
        short = _first_short_row(path, sep, len(header))
        if short:  # a ragged row is an error, dropna or not
            raise DataError(f"{path}: ragged row: line {short[0]} has {short[1]} values but the header has "
                            f"{len(header)}; every row needs as many values as the header")
        if impute:  # missing feature values are filled later from train statistics; infinities are not
            missing_X &= np.isinf(X)
        kept = _handle_missing(missing_X, missing_y, features, target, path, dropna, fix)
        if kept is not None:
            X, y = X[kept], (None if y is None else y[kept])
            cats = {name: values[kept] for name, values in cats.items()}
    if y is not None and y.dtype == object:
        y = np.array([str(v).strip() for v in y], dtype=object)
    return X, y, features, cats


PLAIN_MAX_BYTES = 1 << 18  # one chunk of pandas' reader (no mixed-type warnings); parsed here in 0.1 s at most
_PLAIN_SEPS = (",", ";", "\t", "|")  # not " ": skipinitialspace would merge runs of spaces
_INTEGER = re.compile(r"-?[0-9]{1,15}")
_DECIMAL = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?(?:[eE]([-+]?[0-9]{1,3}))?")


def _read_plain(path: Path, sep: str, header: list[str], features: list[str], target: str | None):
    """read_csv's result for a small file whose feature and target columns hold only plain numbers, as pandas would
    read it, without importing pandas (~0.2 s, most of `nnlab check`); None for any other file, which pandas reads.

    Refused: quotes, carriage returns, NUL, a blank or ragged line, an empty, missing, spaced or non-numeric value,
    a number of more than 15 digits or with a power of ten beyond ±22. The numbers left parse to the same values
    as in pandas: its parser reads the digits as an exact integer (< 2**53) and multiplies or divides once by an
    exact power of ten, one correctly rounded step, as Python's float() rounds; a column of integers is int64.
    """
    try:
        if sep not in _PLAIN_SEPS or Path(path).stat().st_size > PLAIN_MAX_BYTES:
            return None
        text = Path(path).read_bytes().decode(ENCODING)
    except (OSError, UnicodeDecodeError):
        return None
    if '"' in text or "\r" in text or "\0" in text:
        return None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    rows = [line.split(sep) for line in lines[1:]]
    if not rows or len(lines[0].split(sep)) != len(header) or any(len(row) != len(header) for row in rows):
        return None
    columns = list(zip(*rows))
    position = {name: i for i, name in enumerate(header)}
    X64 = [_plain_numbers(columns[position[name]]) for name in features]
    y = _plain_numbers(columns[position[target]]) if target is not None else None
    if any(column is None for column in X64) or (target is not None and y is None):
        return None
    X = np.column_stack([column.astype(np.float64) for column in X64]).astype(np.float32)  # |x| < 1e38: finite
    return X, y, features, {}


def _plain_numbers(cells: tuple[str, ...]) -> np.ndarray | None:
    """A column as pandas reads it: int64 when every value is an integer, else float64; None unless every value
    is a plain number (see _read_plain)."""
    if all(map(_INTEGER.fullmatch, cells)):
        return np.array([int(cell) for cell in cells], dtype=np.int64)
    for cell in cells:
        match = _DECIMAL.fullmatch(cell)
        if match is None:
            return None
        whole, fraction, power = match.group(1), match.group(2) or "", match.group(3) or "0"
        if len(whole) + len(fraction) > 15 or abs(int(power) - len(fraction)) > 22:
            return None
    return np.array([float(cell) for cell in cells], dtype=np.float64)


def _listed(names: list[str], limit: int = 30) -> str:
    return ", ".join(names[:limit]) + (f", ... ({len(names):,} columns)" if len(names) > limit else "")


def _handle_missing(missing_X, missing_y, features, target, path: Path, dropna: bool, fix: str):
    """The rows to keep when data.dropna drops those with a missing or infinite value; otherwise a DataError naming
    the columns (and first lines) that have them. None: nothing is missing."""
    bad_rows = missing_X.any(axis=1) | missing_y
    if not bad_rows.any():
        return None
    if dropna:
        kept = ~bad_rows
        if not kept.any():
            raise DataError(f"{path}: every row has a missing or infinite value")
        return kept
    per_column = missing_X.sum(axis=0)
    counts = [(features[i], int(per_column[i])) for i in np.flatnonzero(per_column)]
    if missing_y.any():
        counts.append((target, int(missing_y.sum())))
    shown = ", ".join(f"'{c}': {n}" for c, n in counts[:10]) + (f", ... ({len(counts):,} columns)"
                                                                if len(counts) > 10 else "")
    lines = ", ".join(str(i + 2) for i in np.flatnonzero(bad_rows)[:5])
    raise DataError(f"{path}: missing or infinite values in {shown} (first at line {lines}); {fix}")


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


def _cell(path: Path, sep: str, row: int, column: int) -> str | None:
    """The text of data row `row` (0-based), column `column`, as the file has it (for a message)."""
    with open(path, encoding=ENCODING, newline="") as f:
        for i, values in enumerate(csv.reader(f, delimiter=sep), start=-1):  # i: the data row (-1 is the header)
            if i == row:
                return values[column].strip() if column < len(values) else None
    return None


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
