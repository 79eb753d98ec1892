"""The CSV reader without pandas: a small file of plain numbers reads as pandas reads it; pandas reads the rest."""

import random

import numpy as np
import pytest

import nnlab.data.csvfile as csvfile
from helpers import WINE
from nnlab.data.csvfile import read_csv, read_header
from nnlab.errors import DataError


def both(path, target, features=None, sep=",", monkeypatch=None):
    """read_csv's outcome (its arrays, or its error message) as it is, and with pandas reading every file."""
    def outcome():
        try:
            return read_csv(path, target, features, sep)
        except DataError as e:
            return str(e)

    ours = outcome()
    monkeypatch.setattr(csvfile, "PLAIN_MAX_BYTES", -1)
    theirs = outcome()
    monkeypatch.undo()
    return ours, theirs


def assert_same(ours, theirs):
    """The same error, or the same arrays bit for bit (-0.0 too) with the same dtypes, names and text columns."""
    assert type(ours) is type(theirs), (ours, theirs)
    if isinstance(ours, str):
        assert ours == theirs
        return
    (X, y, features, text), (X2, y2, features2, text2) = ours, theirs
    assert X.dtype == X2.dtype and X.shape == X2.shape and X.tobytes() == X2.tobytes()
    assert (y is None) == (y2 is None) and features == features2 and text.keys() == text2.keys()
    if y is not None:
        assert y.dtype == y2.dtype and y.shape == y2.shape
        assert y.tobytes() == y2.tobytes() if y.dtype != object else y.tolist() == y2.tolist()


def plain(path, target, features=None, sep=","):
    header = read_header(path, sep)
    return csvfile._read_plain(path, sep, header, features or [c for c in header if c != target], target)


def test_the_bundled_wine_csv_reads_without_pandas_exactly_as_pandas_reads_it(monkeypatch):
    assert plain(WINE, "class") is not None
    ours, theirs = both(WINE, "class", monkeypatch=monkeypatch)
    assert_same(ours, theirs)
    assert ours[1].dtype == np.int64 and ours[0].shape == (178, 13)


def number(rng: random.Random) -> str:
    """A plain number the reader takes: at most 15 digits, a power of ten within ±22 (the edges included)."""
    sign = rng.choice(["", "", "-"])
    if rng.random() < 0.3:
        return sign + rng.choice("0123456789") * rng.randint(1, 3) + str(rng.randrange(10 ** rng.randint(1, 12)))
    n = rng.randint(1, 15)
    digits = "".join(rng.choice("0123456789") for _ in range(n))
    cut = rng.randint(1, n)
    whole, fraction = digits[:cut], digits[cut:]
    text = sign + whole + (f".{fraction}" if fraction else "")
    if rng.random() < 0.5:
        power = rng.choice([rng.randint(-22, 22), 22, -22]) + len(fraction)
        text += rng.choice("eE") + (str(power) if power < 0 else rng.choice(["", "+"]) + str(power))
    return text


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_plain_numbers_read_bit_for_bit_as_pandas_reads_them(tmp_path, monkeypatch, sep):
    rng = random.Random(sep)
    path = tmp_path / "d.csv"
    for _ in range(20):
        width = rng.randint(2, 5)
        integers = rng.randrange(width)  # one column of integers: int64, as in pandas
        rows = [[str(rng.randrange(-50, 50)) if j == integers else number(rng) for j in range(width)]
                for _ in range(rng.randint(1, 40))]
        path.write_text(sep.join(f"c {j}" for j in range(width)) + "\n"
                        + "\n".join(sep.join(row) for row in rows) + rng.choice(["", "\n"]))
        target = rng.choice([f"c {j}" for j in range(width)] + [None])
        assert plain(path, target, sep=sep) is not None
        assert_same(*both(path, target, sep=sep, monkeypatch=monkeypatch))


@pytest.mark.parametrize("body", [
    '1,"2",3\n',  # quotes
    "1,2,3\r\n4,5,6\r\n",  # carriage returns
    "1,2,3\n\n4,5,6\n",  # a blank line (pandas skips it)
    "1, 2,3\n",  # a space
    "1,2 ,3\n",
    "1,NA,3\n",  # a missing value
    "1,,3\n",
    "1,inf,3\n",
    "1,1234567890123456,3\n",  # 16 digits
    "1,1e23,3\n",  # a power of ten beyond 22
    "1,1.5e-22,3\n",  # 1.5e-22 is 15 times 10 to the -23
    "1,+2,3\n",  # a sign pandas reads and the reader leaves to it
    "1,2.,3\n",
    "1,.5,3\n",
    "1,2,x\n",  # a text label
    "1,2,True\n",
    "1,2\n",  # a short row
    "1,2,3,4\n",  # a long one
])
def test_anything_else_is_left_to_pandas_with_the_same_outcome(tmp_path, monkeypatch, body):
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n4,5,6\n" + body)
    assert plain(path, "label") is None
    assert_same(*both(path, "label", monkeypatch=monkeypatch))


def test_an_unused_column_may_hold_anything_but_quotes(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    path.write_text("id,a,label\nx 1,1,0\n,2,1\nNA,3,0\n")
    assert plain(path, "label", ["a"]) is not None
    assert_same(*both(path, "label", ["a"], monkeypatch=monkeypatch))


def test_no_rows_a_space_separator_listed_categorical_columns_and_big_files_go_to_pandas(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n")
    assert plain(path, "label") is None
    assert_same(*both(path, "label", monkeypatch=monkeypatch))
    path.write_text("a b label\n1 2 0\n3 4 1\n")
    assert plain(path, "label", sep=" ") is None
    path.write_text("a,b,label\n" + "1,2,0\n" * (csvfile.PLAIN_MAX_BYTES // 6))
    assert plain(path, "label") is None
    calls = []
    monkeypatch.setattr(csvfile, "_read_plain", lambda *a: calls.append(a))
    path.write_text("a,b,label\n1,2,0\n3,4,1\n")
    X, y, features, text = read_csv(path, "label", None, ",", categorical=["a"])
    assert not calls and list(text) == ["a"] and np.isnan(X[:, 0]).all()
