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
