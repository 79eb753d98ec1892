"""One-hot encoding and imputation fitted on train rows, against scikit-learn's OneHotEncoder and SimpleImputer."""

import numpy as np
import pytest

from helpers import write_config
from nnlab.config import load_config
from nnlab.data import load_data
from nnlab.data.encoding import Encoding, fit_encoding
from nnlab.errors import DataError


def pets_csv(tmp_path, n=120, gaps=False):
    """A Titanic-like CSV: numeric columns, string columns, a string target."""
    rng = np.random.default_rng(3)
    colors, sizes = np.array(["red", "green", "blue"]), np.array(["S", "M", "L", "XL"])
    lines = ["age,color,weight,size,kind"]
    for i in range(n):
        age = "" if gaps and i % 11 == 0 else f"{rng.normal(5, 2):.2f}"
        color = "" if gaps and i % 13 == 0 else colors[rng.integers(3)]
        lines.append(f"{age},{color},{rng.normal(20, 5):.2f},{sizes[rng.integers(4)]},{'cat' if i % 3 else 'dog'}")
    (tmp_path / "pets.csv").write_text("\n".join(lines) + "\n")
    return tmp_path / "pets.csv"


def pets_config(tmp_path, *overrides, **kw):
    pets_csv(tmp_path, **kw)
    return load_config(write_config(tmp_path, "data: {source: csv, path: pets.csv, target: kind}\nmodel: {kind: mlp}\n"),
                       list(overrides))


def test_auto_one_hot_equals_scikit_learns_onehotencoder_fitted_on_the_train_rows(tmp_path):
    import pandas as pd
    from sklearn.preprocessing import OneHotEncoder

    cfg = pets_config(tmp_path, "data.val_size=0.1")
    splits = load_data(cfg)
    assert splits.columns == ["age", "color", "weight", "size"]
    assert splits.feature_names == ["age", "color=blue", "color=green", "color=red", "weight",
                                    "size=L", "size=M", "size=S", "size=XL"]
    frame = pd.read_csv(tmp_path / "pets.csv")
    train = frame.iloc[splits.rows["train"]]
    encoder = OneHotEncoder(sparse_output=False).fit(train[["color", "size"]])
    assert [list(c) for c in encoder.categories_] == list(splits.prep.encoding.categories.values())
    for name in ("train", "val", "test"):
        X = {"train": splits.X_train, "val": splits.X_val, "test": splits.X_test}[name]
        expected = encoder.transform(frame.iloc[splits.rows[name]][["color", "size"]])
        assert np.array_equal(X[:, [1, 2, 3, 5, 6, 7, 8]], expected.astype(np.float32))
    assert splits.prep.mean[1] == 0 and splits.prep.scale[1] == 1  # indicators are not standardized
    assert abs(splits.X_train[:, 0].mean()) < 1e-6  # numeric columns are


def test_a_listed_numeric_column_is_one_hot_encoded_and_an_empty_list_refuses_text(tmp_path):
    cfg = pets_config(tmp_path, "data.features=[age, size]", "data.categorical=[size]")
    assert load_data(cfg).feature_names == ["age", "size=L", "size=M", "size=S", "size=XL"]
    with pytest.raises(DataError, match=r"column 'color' line 2: '\w+' is not a number; fix the value, drop the "
                                        r"column from data.features, or list it in data.categorical"):
        load_data(pets_config(tmp_path, "data.categorical=[]"))


def test_a_typo_in_a_numeric_column_stays_an_error_under_auto(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20))
                                    .replace("\n7,1,", "\n7,1.x,", 1).replace("\n5,2,", "\n5,two,", 1))
    cfg = load_config(write_config(tmp_path, "data: {source: csv, path: d.csv, target: y}\nmodel: {kind: mlp}\n"))
    with pytest.raises(DataError, match="column 'b' line 7: 'two' is not a number; most of its values are numbers"):
        load_data(cfg)


def test_impute_fills_numeric_gaps_with_train_statistics_and_text_gaps_with_the_most_frequent(tmp_path):
    import pandas as pd
    from sklearn.impute import SimpleImputer

    with pytest.raises(DataError, match="missing or infinite values in 'age': 11, 'color': 10"):
        load_data(pets_config(tmp_path, gaps=True))
    for strategy in ("mean", "median"):
        splits = load_data(pets_config(tmp_path, f"data.impute={strategy}", "data.standardize=false", gaps=True))
        frame = pd.read_csv(tmp_path / "pets.csv")
        train = frame.iloc[splits.rows["train"]]
        imputer = SimpleImputer(strategy=strategy).fit(train[["age"]])
        expected = imputer.transform(frame.iloc[splits.rows["test"]][["age"]])[:, 0]
        assert np.allclose(splits.X_test[:, 0], expected, rtol=1e-6)
        frequent = SimpleImputer(strategy="most_frequent").fit(train[["color"]].astype(object)).statistics_[0]
        assert splits.prep.encoding.fill["color"] == frequent


def test_an_unseen_category_is_an_error_naming_the_column_and_value():
    enc = fit_encoding(np.full((4, 1), np.nan, np.float32), {"c": np.array(["a", "b", "a", "b"], dtype=object)},
                       ["c"], None, "train.csv")
    with pytest.raises(DataError, match=r"new.csv: column 'c' has 'z' \(1 row\), not among the categories of the "
                                        r"train rows the encoding was fitted on \('a', 'b'\)"):
        enc.transform(np.zeros((2, 1), np.float32), {"c": np.array(["a", "z"], dtype=object)}, "new.csv")
    with pytest.raises(DataError, match="has a missing value"):
        enc.transform(np.zeros((1, 1), np.float32), {"c": np.array([None], dtype=object)}, "new.csv")
    assert Encoding.from_dict(enc.to_dict()) == enc
