import numpy as np
import pytest

from helpers import WINE, write_config
from nnlab.config import load_config
from nnlab.data import load_data
from nnlab.data.preprocessing import fit_preprocessing
from nnlab.data.splits import split_indices
from nnlab.errors import ConfigError, DataError


def csv_config(tmp_path, csv_text: str, extra: str = "", target: str = "label"):
    (tmp_path / "d.csv").write_text(csv_text)
    return load_config(write_config(tmp_path, f"data: {{source: csv, path: d.csv, target: {target}}}\n"
                                               f"model: {{kind: mlp, hidden: [4]}}\n{extra}"))


def wine_cfg(tmp_path, *overrides):
    text = f"seed: 6202\ndata: {{source: csv, path: {WINE}, target: class}}\nmodel: {{kind: mlp}}\n"
    return load_config(write_config(tmp_path, text), list(overrides))


def test_wine_split_is_stratified_80_20_and_standardized_on_train(tmp_path):
    splits = load_data(wine_cfg(tmp_path))
    assert (len(splits.X_train), len(splits.X_test)) == (142, 36)
    assert splits.prep.classes == [1, 2, 3] and splits.n_outputs == 3
    assert np.bincount(splits.y_test).tolist() == [12, 14, 10]  # 59/71/48 rows: 20% of each
    assert np.allclose(splits.X_train.mean(0), 0, atol=1e-5) and np.allclose(splits.X_train.std(0), 1, atol=1e-4)
    assert not np.allclose(splits.X_test.mean(0), 0, atol=1e-3)  # the scaler never saw the test rows
    from sklearn.preprocessing import StandardScaler

    table = np.loadtxt(WINE, delimiter=",", skiprows=1)
    train_idx, _ = split_indices(table[:, 0].astype(int), len(table), 0.2, 6202)
    scaler = StandardScaler().fit(table[train_idx, 1:])
    assert np.allclose(splits.prep.mean, scaler.mean_) and np.allclose(splits.prep.scale, scaler.scale_)


def test_same_seed_same_split_other_seed_other_split(tmp_path):
    a, b = load_data(wine_cfg(tmp_path)), load_data(wine_cfg(tmp_path))
    c = load_data(wine_cfg(tmp_path, "seed=1"))
    assert np.array_equal(a.X_test, b.X_test) and not np.array_equal(a.X_test, c.X_test)


def test_test_size_zero_keeps_every_row(tmp_path):
    splits = load_data(wine_cfg(tmp_path, "data.test_size=0"))
    assert len(splits.X_train) == 178 and len(splits.X_test) == 0


def test_string_labels_are_encoded_and_kept(tmp_path):
    rows = "\n".join(f"{i},{i % 7},{'malignant' if i % 3 else 'benign'}" for i in range(30))
    splits = load_data(csv_config(tmp_path, "a,b,label\n" + rows))
    assert splits.prep.classes == ["benign", "malignant"]
    assert set(np.unique(splits.y_train)) == {0, 1}


def test_fit_preprocessing_constant_column_scale_is_one():
    prep = fit_preprocessing(np.array([[1.0, 2.0], [1.0, 4.0]], dtype=np.float32), None, True)
    assert prep.scale.tolist() == [1.0, 1.0] and prep.mean.tolist() == [1.0, 3.0]


@pytest.mark.parametrize("csv_text, extra, message", [
    ("a,b,label\n", "", "has a header but no data rows"),
    ("", "", "the file is empty"),
    ("a;b;label\n1;2;x\n", "", "set data.sep: ';'"),
    ("a,b,label\n1,oops,x\n2,3,y\n", "", "column 'b' line 2: 'oops' is not a number"),
    ("a,b,label\n1,,x\n2,3,y\n,4,x\n", "", "missing or infinite values in 'a': 1, 'b': 1"),
    ("a,b,label\n1,2,x\n2,3,y,4\n", "", "ragged row"),
    ("a,b,label\n1,2,x\n2,3\n3,4,y\n", "", "ragged row: line 3 has 2 values but the header has 3"),
    ("a,b,label\n1,inf,x\n2,3,y\n-inf,1,x\n4,1e400,y\n", "", "missing or infinite values in 'a': 1, 'b': 2"),
    ("a,a,label\n1,2,x\n", "", "column 'a' appears twice"),
    ("a,b,Label\n1,2,x\n", "", "target column 'label' not found (did you mean 'Label'?)"),
    ("a,b,label\n1,2,x\n3,4,x\n", "", "has a single class"),
    ("a,b,label\n" + "1,2,x\n" * 5 + "1,2,y\n" * 5 + "1,2,z\n", "data: {test_size: 0.1}", None),
])
def test_bad_csv_is_a_data_error_naming_file_and_column(tmp_path, csv_text, extra, message):
    if message is None:  # 2 test rows for 3 classes
        csv_text, extra, message = csv_text, "", "raise test_size so every class is held out"
        (tmp_path / "d.csv").write_text(csv_text)
        cfg = load_config(write_config(tmp_path, "data: {source: csv, path: d.csv, target: label, "
                                                  "test_size: 0.1}\nmodel: {kind: mlp}"))
        with pytest.raises(DataError, match=message):
            load_data(cfg)
        return
    with pytest.raises(DataError) as info:
        load_data(csv_config(tmp_path, csv_text, extra))
    assert "d.csv" in str(info.value) and message in str(info.value), str(info.value)


def test_non_utf8_file(tmp_path):
    (tmp_path / "d.csv").write_bytes("a,b,label\n1,2,caf\xe9\n".encode("latin-1"))
    cfg = load_config(write_config(tmp_path, "data: {source: csv, path: d.csv, target: label}\nmodel: {kind: mlp}"))
    with pytest.raises(DataError, match="not UTF-8"):
        load_data(cfg)


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    rows = "".join(f"{i},{i % 5},{'xy'[i % 2]}\n" for i in range(20))
    (tmp_path / "d.csv").write_bytes(("a,b,label\n" + rows).encode("utf-8-sig"))
    cfg = load_config(write_config(tmp_path, "data: {source: csv, path: d.csv, target: label}\nmodel: {kind: mlp}"))
    assert load_data(cfg).feature_names == ["a", "b"]


def test_dropna_drops_incomplete_rows(tmp_path):
    rows = "a,b,label\n" + "".join(f"{i},{i},{'xy'[i % 2]}\n" for i in range(20)) + "1,,x\n"
    (tmp_path / "d.csv").write_text(rows)
    cfg = load_config(write_config(tmp_path, "data: {source: csv, path: d.csv, target: label, dropna: true}\n"
                                             "model: {kind: mlp}"))
    splits = load_data(cfg)
    assert len(splits.X_train) + len(splits.X_test) == 20


def test_logistic_model_refuses_three_classes(tmp_path):
    with pytest.raises(ConfigError, match="handles 2 classes"):
        load_data(wine_cfg(tmp_path, "model.kind=logistic", "loss=bce"))


def test_bce_refuses_three_classes(tmp_path):
    with pytest.raises(ConfigError, match="bce needs 2 classes"):
        load_data(wine_cfg(tmp_path, "loss=bce"))


def test_polynomial_on_a_many_column_csv(tmp_path):
    with pytest.raises(ConfigError, match="takes 1 input feature"):
        load_data(wine_cfg(tmp_path, "model.kind=polynomial", "loss=mse"))


def test_label_encoding_is_vectorized_and_matches_a_per_row_reference():
    from nnlab.data.preprocessing import Preprocessing
    from nnlab.data.preprocessing import unique_inverse as _unique_inverse

    rng = np.random.default_rng(0)
    for labels in (rng.integers(1, 4, 1000), np.array(rng.choice(["b", "a", "c"], 1000), dtype=object)):
        distinct, inverse = _unique_inverse(labels)
        assert [distinct[i] for i in inverse] == labels.tolist()
        prep = fit_preprocessing(np.zeros((len(labels), 1), np.float32), labels, False)
        assert prep.classes == sorted(set(labels.tolist()))
        codes = prep.encode(labels, "here")
        assert codes.tolist() == [prep.classes.index(v) for v in labels.tolist()]
    with pytest.raises(DataError, match="labels 'z' were not among"):
        Preprocessing(classes=["a", "b"]).encode(np.array(["a", "z"], dtype=object), "here")


@pytest.mark.parametrize("dropna", [False, True])
def test_a_short_row_is_ragged_even_with_dropna(tmp_path, dropna):
    from nnlab.data.csvfile import read_csv

    (tmp_path / "d.csv").write_text("a,b,label\n1,2,x\n2,3\n3,4,y\n")
    with pytest.raises(DataError, match="ragged row: line 3 has 2 values"):
        read_csv(tmp_path / "d.csv", "label", None, ",", dropna=dropna)


def test_load_many_reads_once_per_data_and_seed_and_matches_load_data(tmp_path, monkeypatch):
    import nnlab.data.csvfile
    from nnlab.data import load_many

    calls = []
    real = nnlab.data.csvfile.read_csv
    monkeypatch.setattr(nnlab.data.csvfile, "read_csv", lambda *a, **k: calls.append(a) or real(*a, **k))
    cfgs = [wine_cfg(tmp_path, f"seed={seed}", f"optimizer.lr={lr}") for lr in (0.01, 0.1) for seed in (1, 2)]
    loaded = load_many(cfgs)
    assert len(calls) == 2  # two seeds, two splits; the grid points share them
    assert loaded[0] is loaded[2] and loaded[0] is not loaded[1]
    for cfg, splits in zip(cfgs, loaded):
        alone = load_data(cfg)
        assert np.array_equal(splits.X_train, alone.X_train) and np.array_equal(splits.y_test, alone.y_test)


@pytest.mark.parametrize("csv_text, loss, message", [
    ("a,b,label\n1,2,3\n4,1e39,6\n7,8,9\n1,2,3\n4,5,6\n", "mse", "column 'b' line 3: 1e39 is beyond float32 range"),
    ("a,b,label\n1,2,3\n4,5,-1e39\n7,8,9\n1,2,3\n4,5,6\n", "mse", "target 'label' holds -1e\\+39, beyond float32"),
    ("a,b,label\n1,2,3\n4,5,1e39\n7,8,3\n1,2,3\n4,5,6\n", "cross_entropy", "holds real numbers, not class labels"),
])
def test_a_value_beyond_float32_range_is_a_data_error_without_warnings(tmp_path, csv_text, loss, message):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning printed ahead of the error line fails the test
        with pytest.raises(DataError, match=message):
            load_data(csv_config(tmp_path, csv_text, f"loss: {loss}\n"))


def test_a_target_beyond_float32_is_exit_3_with_one_line_not_divergence(cli, tmp_path):
    (tmp_path / "d.csv").write_text("a,b,y\n" + "1,2,3\n4,5,6\n7,8,9\n" * 3 + "1,2,1e39\n")
    config = write_config(tmp_path, "data: {source: csv, path: d.csv, target: y}\nmodel: {kind: linear}\n"
                                    "loss: mse\ntrain: {epochs: 3}\n")
    result = cli("train", config, "--out", cli.out, code=3)
    assert result.stderr.count("\n") == 1 and "beyond float32 range" in result.stderr
    assert "Warning" not in result.stderr and "smaller optimizer.lr" not in result.stderr


def test_a_class_with_one_row_is_refused_in_a_stratified_split(tmp_path):
    text = "a,b,label\n" + "1,2,x\n3,4,y\n" * 10 + "5,6,lonely\n"
    with pytest.raises(DataError, match="has a single row of class 'lonely'; a stratified split needs two rows"):
        load_data(csv_config(tmp_path, text))
    (tmp_path / "d.csv").write_text(text)
    splits = load_data(load_config(write_config(tmp_path, "data: {source: csv, path: d.csv, target: label, "
                                                          "test_size: 0}\nmodel: {kind: mlp}")))  # nothing held out
    assert splits.prep.classes == ["lonely", "x", "y"]


def test_missing_values_in_eval_and_predict_data_name_no_training_key(cli, tmp_path):
    from helpers import ROOT

    run_dir = cli.train_json(ROOT / "configs" / "wine_mlp.yaml", "train.epochs=2")["run_dir"]
    lines = WINE.read_text().splitlines()
    hole = ",".join(["1", "", *lines[2].split(",")[2:]])  # the first feature left empty
    (tmp_path / "holes.csv").write_text("\n".join([lines[0], lines[1], hole]) + "\n")
    for command in ("predict", "eval"):
        stderr = cli(command, run_dir, "--data", tmp_path / "holes.csv", code=3).stderr
        assert "missing or infinite values" in stderr and "data.dropna" not in stderr, stderr


def test_the_validation_split_is_stratified_carved_from_train_and_leaves_the_test_split_alone(tmp_path):
    plain, carved = load_data(wine_cfg(tmp_path)), load_data(wine_cfg(tmp_path, "data.val_size=0.15"))
    assert (len(carved.X_train), len(carved.X_val), len(carved.X_test)) == (115, 27, 36)  # ceil(0.15 · 178) = 27
    assert np.array_equal(carved.rows["test"], plain.rows["test"])  # the test split is the same as without
    assert set(carved.rows["val"]) | set(carved.rows["train"]) == set(plain.rows["train"])
    assert not set(carved.rows["val"]) & set(carved.rows["train"])
    assert np.bincount(carved.y_val).tolist() == [9, 11, 7]  # 27 rows in proportion to 47/57/38 train rows
    assert carved.prep.mean.tolist() != plain.prep.mean.tolist()  # the scaler is fitted on the 115 rows only
    assert plain.X_val.shape == (0, 13) and plain.y_val.shape == (0,)
    assert plain.fingerprint() == load_data(wine_cfg(tmp_path)).fingerprint() != carved.fingerprint()


def test_k_fold_puts_every_row_in_one_test_fold_stratified(tmp_path):
    folds = [load_data(wine_cfg(tmp_path, "data.folds=5", f"data.fold={k}")) for k in range(5)]
    tests = [set(f.rows["test"].tolist()) for f in folds]
    assert sorted(set().union(*tests)) == list(range(178)) and sum(map(len, tests)) == 178
    assert [len(t) for t in tests] == [36, 36, 36, 35, 35]
    for f in folds:
        counts = np.bincount(f.y_test, minlength=3)
        assert all(abs(c - n / 5) < 1 for c, n in zip(counts, (59, 71, 48))), counts  # StratifiedKFold's spread
        assert not set(f.rows["train"].tolist()) & set(f.rows["test"].tolist())
    other_seed = load_data(wine_cfg(tmp_path, "data.folds=5", "data.fold=0", "seed=1"))
    assert set(other_seed.rows["test"].tolist()) != tests[0]
    with_val = load_data(wine_cfg(tmp_path, "data.folds=5", "data.fold=0", "data.val_size=0.1"))
    assert len(with_val.X_val) == 18 and set(with_val.rows["test"].tolist()) == tests[0]


def test_balanced_class_weights_are_scikit_learns_and_labels_are_checked(tmp_path):
    from sklearn.utils.class_weight import compute_class_weight

    splits = load_data(wine_cfg(tmp_path, "train.class_weight=balanced"))
    expected = compute_class_weight("balanced", classes=np.arange(3), y=splits.y_train)
    assert np.allclose(splits.class_weight, expected, rtol=1e-6)
    assert load_data(wine_cfg(tmp_path, "train.class_weight={1: 2.5, '3': 0.5}")).class_weight.tolist() == [2.5, 1, 0.5]
    with pytest.raises(ConfigError, match="train.class_weight: label 4 is not a class of"):
        load_data(wine_cfg(tmp_path, "train.class_weight={4: 2}"))
    assert load_data(wine_cfg(tmp_path)).class_weight is None
