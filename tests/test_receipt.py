"""The reproducibility receipt and nnlab reproduce."""

import hashlib
import json
import platform
import shutil
from pathlib import Path

import yaml

from conftest import ROOT, WINE, write_config
from nnlab.receipt import config_hash


def _wine_copy(tmp_path) -> Path:
    shutil.copy(WINE, tmp_path / "wine.csv")
    text = (ROOT / "configs" / "wine_mlp.yaml").read_text().replace("../data/wine.csv", "wine.csv")
    return write_config(tmp_path, text, "wine.yaml")


def test_receipt_records_config_hash_data_sha256_seeds_versions_device_threads(cli, tmp_path):
    import numpy
    import sklearn
    import torch

    summary = cli.train_json(ROOT / "configs" / "wine_mlp.yaml", "train.epochs=3", "--threads", "1")
    run_dir = Path(summary["run_dir"])
    receipt = json.loads((run_dir / "receipt.json").read_text())
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert receipt["config"] == config
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    assert receipt["config_hash"] == "sha256:" + hashlib.sha256(canonical).hexdigest() == config_hash(config)
    assert receipt["data"]["sha256"] == "sha256:" + hashlib.sha256(WINE.read_bytes()).hexdigest()
    assert receipt["seeds"]["seed"] == 6202 and receipt["overrides"] == ["train.epochs=3", "threads=1"]
    assert receipt["versions"] == {**receipt["versions"], "python": platform.python_version(),
                                   "torch": torch.__version__, "numpy": numpy.__version__,
                                   "scikit-learn": sklearn.__version__, "nnlab": "0.1.0"}
    assert receipt["device"] == "cpu" and receipt["threads"] == 1


def test_config_hash_ignores_key_order_but_not_values():
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_reproduce_matches_exactly_from_the_run_directory_alone(cli, tmp_path):
    config = _wine_copy(tmp_path)
    run_dir = cli.train_json(config, "train.epochs=40", "--threads", "1")["run_dir"]
    config.unlink()  # the run directory and the data file are enough
    result = json.loads(cli("reproduce", run_dir, "--json").stdout)
    assert result["identical"] and result["data_changed"] is None and result["conditions_differ"] == []
    keys = {row["key"] for row in result["numbers"]}
    assert {"train_loss", "metrics.test.accuracy", "metrics.train.macro_f1"} <= keys
    assert "reproduced: every number is identical" in cli("reproduce", run_dir).stdout


def test_reproduce_says_when_the_data_changed_and_exits_6_when_numbers_differ(cli, tmp_path):
    config = _wine_copy(tmp_path)
    run_dir = cli.train_json(config, "train.epochs=40")["run_dir"]
    lines = (tmp_path / "wine.csv").read_text().splitlines()
    (tmp_path / "wine.csv").write_text("\n".join(lines[:1] + lines[2:] + lines[1:2]) + "\n")  # same rows, new order
    result = cli("reproduce", run_dir, code=6)
    assert "the file changed since training" in result.stderr and "differs" in result.stdout
    (tmp_path / "wine.csv").unlink()
    assert "data file is gone" in cli("reproduce", run_dir, code=3).stderr


def test_reproduce_flags_a_recorded_number_that_does_not_match(cli):
    run_dir = Path(cli.train_json(ROOT / "configs" / "linear_regression.yaml", "train.epochs=2")["run_dir"])
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["metrics"]["test"]["r2"] = 0.5
    (run_dir / "summary.json").write_text(json.dumps(summary))
    out = json.loads(cli("reproduce", run_dir, "--json", code=6).stdout)
    differing = [row for row in out["numbers"] if row["recorded"] != row["reproduced"]]
    assert [row["key"] for row in differing] == ["metrics.test.r2"] and not out["identical"]


def test_reproduce_needs_a_receipt_and_a_finished_run(cli, tmp_path):
    run_dir = Path(cli.train_json(ROOT / "configs" / "linear_regression.yaml", "train.epochs=2")["run_dir"])
    (run_dir / "summary.json").write_text(json.dumps({"status": "interrupted"}))
    assert "only finished runs" in cli("reproduce", run_dir, code=4).stderr
    (run_dir / "receipt.json").unlink()
    assert "no receipt" in cli("reproduce", run_dir, code=4).stderr


def test_a_force_resume_updates_the_receipt_so_reproduce_matches(cli, tmp_path):
    config = write_config(tmp_path, "data: {source: linear, n_samples: 200}\nmodel: {kind: linear}\n"
                                    "train: {epochs: 3, batch_size: 32}\n")
    run_dir = tmp_path / "run"
    cli("train", config, "--run-dir", run_dir, "--quiet", "--no-plots")
    cli("train", "--resume", run_dir, "train.epochs=6", "--force", "--quiet", "--no-plots")
    receipt = json.loads((run_dir / "receipt.json").read_text())
    assert receipt["config"]["train"]["epochs"] == 6 and receipt["overrides"] == ["train.epochs=6"]
    assert "every number is identical" in cli("reproduce", run_dir).stdout


def test_reproduce_reports_a_receipt_without_versions_instead_of_crashing(cli):
    run_dir = Path(cli.train_json(ROOT / "configs" / "linear_regression.yaml", "train.epochs=2")["run_dir"])
    receipt = json.loads((run_dir / "receipt.json").read_text())
    del receipt["versions"]
    (run_dir / "receipt.json").write_text(json.dumps(receipt))
    out = json.loads(cli("reproduce", run_dir, "--json", code=None).stdout)
    assert any(d.startswith("torch None then") for d in out["conditions_differ"])
