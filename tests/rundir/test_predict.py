"""nnlab predict: columns, probabilities, labels, where it writes, and what it refuses."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import ROOT, WINE


@pytest.fixture(scope="module")
def wine_run(tmp_path_factory):
    from helpers import Cli

    cli = Cli(tmp_path_factory.mktemp("runs"))
    return cli.train_json(ROOT / "configs" / "wine_mlp.yaml", "train.epochs=300")["run_dir"]


def test_predict_writes_inputs_plus_prediction_and_probabilities(cli, wine_run, tmp_path):
    out = tmp_path / "preds.csv"
    result = json.loads(cli("predict", wine_run, "--data", WINE, "--out", out, "--json").stdout)
    assert result == {"run_dir": wine_run, "data": str(WINE), "out": str(out), "rows": 178}
    frame, original = pd.read_csv(out), pd.read_csv(WINE)
    assert list(frame.columns) == list(original.columns) + ["prediction", "proba_1", "proba_2", "proba_3"]
    assert frame[original.columns].equals(original)
    proba = frame[["proba_1", "proba_2", "proba_3"]].to_numpy()
    assert np.allclose(proba.sum(1), 1) and (frame["prediction"] == proba.argmax(1) + 1).all()
    accuracy = json.loads(cli("eval", wine_run, "--data", WINE, "--json").stdout)["metrics"]["data"]["accuracy"]
    assert (frame["prediction"] == frame["class"]).mean() == pytest.approx(accuracy)  # same model, same numbers


def test_target_column_is_optional_and_default_output_never_overwrites(cli, wine_run, tmp_path):
    features_only = tmp_path / "new.csv"
    pd.read_csv(WINE).drop(columns="class").head(7).to_csv(features_only, index=False)
    first = cli("predict", wine_run, "--data", features_only)
    assert "predictions: first 7 of 7 rows" in first.stdout and "prediction" in first.stdout
    assert f"wrote {Path(wine_run) / 'predictions' / 'new.csv'} (7 rows)" in first.stdout.replace("\n", "")
    second = json.loads(cli("predict", wine_run, "--data", features_only, "--json").stdout)
    assert second["out"] == str(Path(wine_run) / "predictions" / "new-2.csv")
    assert len(pd.read_csv(second["out"])) == 7


def test_existing_out_is_refused_unless_force(cli, wine_run, tmp_path):
    out = tmp_path / "mine.csv"
    out.write_text("keep me\n")
    result = cli("predict", wine_run, "--data", WINE, "--out", out, code=2)
    assert "exists" in result.stderr and "--force" in result.stderr and out.read_text() == "keep me\n"
    cli("predict", wine_run, "--data", WINE, "--out", out, "--force", "--json")
    assert "prediction" in out.read_text()


def test_missing_feature_column_is_a_data_error(cli, wine_run, tmp_path):
    bad = tmp_path / "bad.csv"
    pd.read_csv(WINE).drop(columns="Hue").to_csv(bad, index=False)
    result = cli("predict", wine_run, "--data", bad, code=3)
    assert "feature column 'Hue' not found" in result.stderr


def test_string_labels_name_the_probability_columns(cli, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 2))
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "kind": np.where(X[:, 0] > 0, "red", "blue")})
    frame.to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "c.yaml").write_text("data: {source: csv, path: d.csv, target: kind}\nmodel: {kind: logistic}\n"
                                     "optimizer: {lr: 0.5}\ntrain: {epochs: 50}\n")
    run_dir = cli.train_json(tmp_path / "c.yaml")["run_dir"]
    cli("predict", run_dir, "--data", tmp_path / "d.csv", "--out", tmp_path / "p.csv", "--json")
    preds = pd.read_csv(tmp_path / "p.csv")
    assert {"proba_blue", "proba_red"} <= set(preds.columns) and set(preds["prediction"]) <= {"red", "blue"}
    assert (preds["prediction"] == preds["kind"]).mean() > 0.9
    assert np.allclose(preds["proba_red"], 1 - preds["proba_blue"])


def test_regression_prediction_is_the_fitted_polynomial(cli, tmp_path):
    summary = cli.train_json(ROOT / "configs" / "cubic_sine.yaml", "train.epochs=100")
    (tmp_path / "x.csv").write_text("x\n-1\n0\n0.5\n2\n")
    cli("predict", summary["run_dir"], "--data", tmp_path / "x.csv", "--out", tmp_path / "p.csv", "--json")
    preds = pd.read_csv(tmp_path / "p.csv")
    expected = np.polynomial.polynomial.polyval(preds["x"].to_numpy(), summary["coefficients"])
    assert preds["prediction"].to_numpy() == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_a_link_planted_at_the_temporary_is_not_followed_and_the_output_is_a_file(cli, wine_run, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    folder = Path(wine_run) / "predictions"
    folder.mkdir(exist_ok=True)
    link = folder / f".{WINE.name}.tmp"
    link.symlink_to(victim)
    out = Path(json.loads(cli("predict", wine_run, "--data", WINE, "--json").stdout)["out"])
    assert victim.read_text() == "precious" and not out.is_symlink() and out.read_text().startswith("class,")
    assert not link.is_symlink() and not link.exists()


def test_a_link_at_the_out_path_is_replaced_with_force_never_written_through(cli, wine_run, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "preds.csv").symlink_to(victim)
    cli("predict", wine_run, "--data", WINE, "--out", tmp_path / "preds.csv", "--force", "--json")
    assert victim.read_text() == "precious" and not (tmp_path / "preds.csv").is_symlink()


def test_a_killed_predicts_temporary_is_removed_by_the_next_write(cli, wine_run, tmp_path):
    stale = tmp_path / "out" / f".preds.csv.999999999-{'ab' * 4}.tmp"  # its writer (that pid) is gone
    stale.parent.mkdir()
    stale.write_bytes(b"\0" * 1_000_000)
    cli("predict", wine_run, "--data", WINE, "--out", tmp_path / "out" / "preds.csv", "--json")
    assert sorted(p.name for p in stale.parent.iterdir()) == ["preds.csv"]


def test_a_csv_with_text_columns_trains_unchanged_and_predict_encodes_new_rows(cli, tmp_path):
    """No config change: text columns are one-hot encoded, predict and eval --data apply the run's encoding, and a
    category the train rows never had is exit 3 naming the column and the value."""
    rng = np.random.default_rng(2)
    sex, port = rng.choice(["male", "female"], 200), rng.choice(["S", "C", "Q"], 200)
    age = rng.normal(30, 10, 200).round(1)
    survived = np.where((sex == "female") ^ (rng.random(200) < 0.15), "yes", "no")
    frame = pd.DataFrame({"age": age, "sex": sex, "port": port, "survived": survived})
    frame.to_csv(tmp_path / "titanic.csv", index=False)
    (tmp_path / "t.yaml").write_text("data: {source: csv, path: titanic.csv, target: survived}\nmodel: {kind: mlp}\n"
                                     "optimizer: {lr: 0.1}\ntrain: {epochs: 100}\n")
    run = cli.train_json(tmp_path / "t.yaml")
    assert run["metrics"]["test"]["accuracy"] > 0.75
    new = pd.DataFrame({"age": [22.0, 40.0], "sex": ["female", "male"], "port": ["S", "Q"]})
    new.to_csv(tmp_path / "new.csv", index=False)
    cli("predict", run["run_dir"], "--data", tmp_path / "new.csv", "--out", tmp_path / "p.csv")
    assert pd.read_csv(tmp_path / "p.csv")["prediction"].tolist() == ["yes", "no"]
    assert json.loads(cli("eval", run["run_dir"], "--data", tmp_path / "titanic.csv", "--json").stdout)["metrics"]
    new.assign(port=["S", "X"]).to_csv(tmp_path / "odd.csv", index=False)
    error = cli("predict", run["run_dir"], "--data", tmp_path / "odd.csv", "--out", tmp_path / "q.csv", code=3).stderr
    assert "odd.csv: column 'port' has 'X' (1 row), not among the categories of the train rows" in error
    assert not (tmp_path / "q.csv").exists()
