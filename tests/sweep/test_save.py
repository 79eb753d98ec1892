"""A sweep's folder: one ordinary run directory per model (with its receipt), points.csv, runs.csv, summary.json."""

import csv
import json
from pathlib import Path

import pytest

from helpers import ROOT
from nnlab.config import load_config
from nnlab.sweep.plan import Group, expand
from nnlab.sweep.save import stack_record, sub_run_name

WINE_CFG = ROOT / "configs" / "wine_mlp.yaml"


def test_a_stack_record_lists_every_member_with_its_seed_and_optimizer_settings():
    trials = expand(WINE_CFG, ["train.epochs=5"], [("optimizer.lr", ["0.1", "0.2"])], [3, 4])
    record = stack_record(trials, Group([0, 1, 2, 3], "vectorized", "same"), 2)
    assert record["index"] == 2
    assert [(m["seed"], m["optimizer"]["lr"]) for m in record["members"]] == [(3, 0.1), (4, 0.1), (3, 0.2), (4, 0.2)]
    assert set(record["members"][0]["optimizer"]) == {"lr", "momentum", "weight_decay"}
    assert sub_run_name(trials[2], 2) == "g01-seed3" and sub_run_name(trials[0], 1) == "seed3"


def test_every_sub_run_has_a_receipt_with_the_overrides_that_make_it(cli):
    summary = json.loads(cli("sweep", WINE_CFG, "--grid", "train.batch_size=16,32", "--seeds", "1", "train.epochs=3",
                             "--out", cli.out, "--json").stdout)
    for sub in sorted(p for p in Path(summary["run_dir"]).iterdir() if p.is_dir()):
        receipt = json.loads((sub / "receipt.json").read_text())
        cfg = load_config(WINE_CFG, receipt["overrides"])
        assert cfg.to_dict() == receipt["config"] and receipt["overrides"][0] == "train.epochs=3"
        assert json.loads((sub / "summary.json").read_text())["path"] == "sequential"  # batch sizes differ
        assert "stack" not in receipt


def test_train_seeds_writes_one_evaluable_run_per_seed(cli):
    summary = json.loads(cli("train", WINE_CFG, "--seeds", "0,1,2", "train.epochs=20", "--out", cli.out,
                             "--json").stdout)
    assert summary["runs"] == 3 and summary["seeds"] == [0, 1, 2] and summary["kind"] == "seeds"
    assert summary["paths"] == [{"path": "vectorized", "runs": 3, "reason": summary["paths"][0]["reason"]}]
    parent = Path(summary["run_dir"])
    rows = list(csv.DictReader(open(parent / "runs.csv")))
    assert [r["seed"] for r in rows] == ["0", "1", "2"]
    accuracies = [float(r["test_accuracy"]) for r in rows]
    stats = summary["points"][0]["metrics"]["test"]["accuracy"]
    assert stats["mean"] == pytest.approx(sum(accuracies) / 3) and stats["max"] == max(accuracies)
    # each sub-run is an ordinary run directory; eval reproduces it, and it equals `train seed=S`
    single = cli.train_json(WINE_CFG, "train.epochs=20", "seed=1")
    sub = json.loads((parent / "seed1" / "summary.json").read_text())
    assert sub["metrics"] == single["metrics"] and sub["path"] == "vectorized"
    evaluated = json.loads(cli("eval", parent / "seed1", "--json").stdout)
    assert evaluated["metrics"]["test"] == sub["metrics"]["test"]


def test_sweep_table_csv_and_sequential_fallback(cli):
    args = ["sweep", WINE_CFG, "--grid", "optimizer.lr=0.001,0.2", "--seeds", "2", "train.epochs=30", "--out", cli.out]
    summary = json.loads(cli(*args, "--json").stdout)
    assert [p["overrides"] for p in summary["points"]] == [{"optimizer.lr": 0.2}, {"optimizer.lr": 0.001}]
    assert summary["points"][0]["failed"] <= summary["points"][1]["failed"] == 2  # lr 0.001 learns nothing in 30 steps
    points = list(csv.DictReader(open(Path(summary["run_dir"]) / "points.csv")))
    assert [p["optimizer.lr"] for p in points] == ["0.2", "0.001"] and points[0]["rank"] == "1"
    sequential = json.loads(cli(*args, "--no-vectorize", "--json").stdout)
    assert sequential["paths"][0]["path"] == "sequential"
    for a, b in zip(summary["points"], sequential["points"]):
        assert a["metrics"]["test"]["accuracy"] == pytest.approx(b["metrics"]["test"]["accuracy"])
    text = cli(*args).stdout
    assert "failed to learn" in text and "test_accuracy" in text and "0.2" in text
