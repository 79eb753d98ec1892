"""nnlab reproduce: train again from the receipt alone and compare every recorded number."""

import json
import shutil
from pathlib import Path

from helpers import ROOT, WINE, write_config
from nnlab.rundir.receipt import unpack_stack


def _wine_copy(tmp_path) -> Path:
    shutil.copy(WINE, tmp_path / "wine.csv")
    text = (ROOT / "configs" / "wine_mlp.yaml").read_text().replace("../data/wine.csv", "wine.csv")
    return write_config(tmp_path, text, "wine.yaml")


def _sub_runs(summary: dict) -> list[Path]:
    return sorted(p for p in Path(summary["run_dir"]).iterdir() if p.is_dir())


def test_reproduce_is_exact_on_a_stacked_sweep_sub_run(cli, tmp_path):
    """A sub-run trained in a stack is trained again in that stack (a batched product may round unlike a single)."""
    summary = json.loads(cli("sweep", ROOT / "configs" / "wine_mlp.yaml", "--grid", "optimizer.lr=0.05,0.2",
                             "--seeds", "2", "train.epochs=30", "--out", cli.out, "--json").stdout)
    assert summary["paths"][0]["path"] == "vectorized"
    for sub in _sub_runs(summary)[::3]:
        receipt = json.loads((sub / "receipt.json").read_text())
        assert receipt["stack"]["size"] == 4 and len(unpack_stack(receipt["stack"])[1]) == 4
        assert receipt["overrides"][-2:] == [f"optimizer.lr={receipt['config']['optimizer']['lr']}",
                                             f"seed={receipt['config']['seed']}"]
        again = json.loads(cli("reproduce", sub, "--json").stdout)
        assert again["identical"] and len(again["numbers"]) >= 5, again


def test_reproduce_works_on_a_sub_run_trained_alone(cli, tmp_path):
    summary = json.loads(cli("train", ROOT / "configs" / "cubic_sine.yaml", "--seeds", "2", "train.epochs=40",
                             "--out", cli.out, "--json").stdout)
    sub = _sub_runs(summary)[1]
    assert "stack" in json.loads((sub / "receipt.json").read_text())  # two seeds of the cubic share a stack
    assert json.loads(cli("reproduce", sub, "--json").stdout)["identical"]
    lone = json.loads(cli("sweep", ROOT / "configs" / "cubic_sine.yaml", "--seeds", "1", "train.epochs=40",
                          "--out", cli.out, "--json").stdout)
    (single,) = _sub_runs(lone)
    assert "stack" not in json.loads((single / "receipt.json").read_text())
    assert json.loads(cli("reproduce", single, "--json").stdout)["identical"]


def test_a_garbled_stack_entry_is_a_checkpoint_error(cli, tmp_path):
    summary = json.loads(cli("train", ROOT / "configs" / "wine_mlp.yaml", "--seeds", "2", "train.epochs=5",
                             "--out", cli.out, "--json").stdout)
    sub = _sub_runs(summary)[0]
    receipt = json.loads((sub / "receipt.json").read_text())
    receipt["stack"]["index"] = 7
    (sub / "receipt.json").write_text(json.dumps(receipt))
    assert "'stack' entry is garbled" in cli("reproduce", sub, code=4).stderr


def test_reproduce_matches_exactly_from_the_run_directory_alone(cli, tmp_path):
    config = _wine_copy(tmp_path)
    run_dir = cli.train_json(config, "train.epochs=40", "--threads", "1")["run_dir"]
    config.unlink()  # the run directory and the data file are enough
    result = json.loads(cli("reproduce", run_dir, "--json").stdout)
    assert result["identical"] and result["data_changed"] is None and result["conditions_differ"] == []
    keys = {row["key"] for row in result["numbers"]}
    assert {"metrics.train.loss", "metrics.test.accuracy", "metrics.train.macro_f1"} <= keys
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
    assert "only finished runs" in cli("reproduce", run_dir, code=2).stderr  # a usage mistake: resume it first
    (run_dir / "receipt.json").unlink()
    assert "no receipt" in cli("reproduce", run_dir, code=4).stderr


def test_reproduce_reports_a_receipt_without_versions_instead_of_crashing(cli):
    run_dir = Path(cli.train_json(ROOT / "configs" / "linear_regression.yaml", "train.epochs=2")["run_dir"])
    receipt = json.loads((run_dir / "receipt.json").read_text())
    del receipt["versions"]
    (run_dir / "receipt.json").write_text(json.dumps(receipt))
    out = json.loads(cli("reproduce", run_dir, "--json", code=None).stdout)
    assert any(d.startswith("torch None then") for d in out["conditions_differ"])


def test_reproduce_on_a_missing_folder_says_so_and_names_no_version(cli, tmp_path):
    result = cli("reproduce", tmp_path / "no" / "such", code=2)
    assert f"{tmp_path / 'no' / 'such'}: no such run directory" in result.stderr and "nnlab 0." not in result.stderr


def test_reproduce_is_exact_with_a_validation_split_early_stopping_a_schedule_and_dropout(cli, tmp_path):
    run = cli.train_json(_wine_copy(tmp_path), "data.val_size=0.15", "train.early_stopping={patience: 5, min_delta: "
                         "0.01}", "train.scheduler={name: cosine, t_max: 50}", "model.dropout=0.1", "train.epochs=300")
    assert run["stopped"] == "early_stopping" and run["metrics"]["val"]
    again = json.loads(cli("reproduce", run["run_dir"], "--json").stdout)
    assert again["identical"] and {"metrics.val.accuracy", "metrics.test.accuracy"} <= {n["key"] for n in again["numbers"]}
    receipt = json.loads((Path(run["run_dir"]) / "receipt.json").read_text())
    assert receipt["seeds"]["validation"] == [6202, 2]
