"""nnlab export: each format reloaded by its own runtime equals nnlab's outputs; a mismatch is exit 6; no extra, exit 2."""

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import ROOT, write_config
from nnlab.rundir.export import preprocess, safetensors_metadata

pytest.importorskip("onnxruntime", reason="needs the export extra: pip install -e '.[export]'")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A wine run, and a run on a CSV with text columns and gaps (one-hot and impute in the sidecar)."""
    from helpers import Cli

    folder = tmp_path_factory.mktemp("export")
    cli = Cli(folder / "runs")
    rng = np.random.default_rng(0)
    lines = ["age,color,size,y"] + [f"{'' if i % 9 == 0 else round(rng.normal(30, 9), 1)},{rng.choice(['red', 'blue'])},"
                                    f"{rng.choice(['S', 'M', 'L'])},{round(rng.normal(), 3)}" for i in range(120)]
    (folder / "d.csv").write_text("\n".join(lines) + "\n")
    config = write_config(folder, "data: {source: csv, path: d.csv, target: y, impute: mean}\nmodel: {kind: mlp, "
                                  "hidden: [8], dropout: 0.1}\nloss: mse\ntrain: {epochs: 30}\n")
    return {"wine": cli.train_json(ROOT / "configs" / "wine_mlp.yaml", "train.epochs=50")["run_dir"],
            "text": cli.train_json(config)["run_dir"],
            "cubic": cli.train_json(ROOT / "configs" / "cubic_sine.yaml", "train.epochs=20")["run_dir"]}


@pytest.mark.parametrize("fmt", ["onnx", "torchscript", "safetensors"])
@pytest.mark.parametrize("which", ["wine", "text", "cubic"])
def test_each_format_reloads_and_matches_nnlabs_outputs(cli, runs, tmp_path, fmt, which):
    out = tmp_path / f"model.{fmt}"
    done = json.loads(cli("export", runs[which], "--format", fmt, "--out", out, "--json").stdout)
    assert done["out"] == str(out) and done["max_abs_diff"] <= 1e-5 and done["preprocessing_max_abs_diff"] <= 1e-5
    assert done["split"] == ("train" if which == "cubic" else "test") and done["rows"] > 0
    sidecar = json.loads(Path(done["sidecar"]).read_text())
    assert sidecar["model_format"] == fmt and sidecar["check"]["max_abs_diff"] == done["max_abs_diff"]
    if fmt == "safetensors":
        meta = json.loads(safetensors_metadata(out.read_bytes())["nnlab"])
        assert meta["architecture"]["kind"] == {"wine": "mlp", "text": "mlp", "cubic": "polynomial"}[which]
    if which == "text":
        kinds = [(c["column"], c["kind"]) for c in sidecar["input"]["columns"]]
        assert kinds == [("age", "number"), ("color", "one_hot"), ("size", "one_hot")]
        assert sidecar["input"]["n_features"] == 6 and sidecar["input"]["columns"][0]["fill"] is not None


def test_the_onnx_graph_run_by_onnxruntime_on_raw_rows_through_the_sidecar(cli, runs, tmp_path):
    """What a consumer does: the sidecar's recipe on raw CSV values, then onnxruntime, then softmax."""
    import onnxruntime
    import pandas as pd

    out = tmp_path / "wine.onnx"
    cli("export", runs["wine"], "--format", "onnx", "--out", out)
    sidecar = json.loads(Path(f"{out}.json").read_text())
    frame = pd.read_csv(ROOT / "data" / "wine.csv").head(20)
    X = preprocess(sidecar, {c: frame[c].to_numpy() for c in frame.columns if c != "class"})
    scores = onnxruntime.InferenceSession(str(out)).run(["scores"], {"input": X})[0]
    predicted = [sidecar["output"]["classes"][i] for i in scores.argmax(1)]
    preds = tmp_path / "p.csv"
    frame.to_csv(tmp_path / "rows.csv", index=False)
    cli("predict", runs["wine"], "--data", tmp_path / "rows.csv", "--out", preds)
    assert predicted == pd.read_csv(preds)["prediction"].tolist()


def test_a_mismatch_is_exit_6_and_writes_nothing(cli, runs, tmp_path, monkeypatch):
    import nnlab.rundir.export as export

    real = export._run
    monkeypatch.setattr(export, "_run", lambda *a: real(*a) + 1e-4)
    out = tmp_path / "model.onnx"
    result = cli("export", runs["wine"], "--format", "onnx", "--out", out, code=6)
    assert "onnxruntime's outputs differ from nnlab's by up to 0.0001" in result.stderr
    assert "nothing was written" in result.stderr and not out.exists() and not Path(f"{out}.json").exists()


def test_without_the_extra_it_is_exit_2_with_the_install_line(cli, runs, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    result = cli("export", runs["wine"], "--format", "onnx", code=2)
    assert "--format onnx: needs onnxruntime (not installed)" in result.stderr
    assert "pip install 'nnlab[export]'" in result.stderr
    assert "is not a format; use onnx, torchscript or safetensors" in cli("export", runs["wine"], "--format", "tflite",
                                                                          code=2).stderr
    cli("export", runs["wine"], "--format", "torchscript", "--out", tmp_path / "m.pt")  # needs no extra
    assert "exists; nnlab does not overwrite" in cli("export", runs["wine"], "--format", "torchscript", "--out",
                                                     tmp_path / "m.pt", code=2).stderr
