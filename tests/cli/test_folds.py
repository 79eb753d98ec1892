"""nnlab train --folds: k-fold cross-validation on the stacked path, mean ± std and a per-fold table, reproducible."""

import json
from pathlib import Path

import pytest

from helpers import ROOT

WINE_CFG = ROOT / "configs" / "wine_mlp.yaml"


def test_folds_json_carries_the_mean_over_folds_and_each_fold(cli):
    result = cli("train", WINE_CFG, "train.epochs=30", "--folds", "3", "--out", cli.out, "--json")
    summary = json.loads(result.stdout)
    assert summary["kind"] == "folds" and summary["folds"] == 3 and summary["runs"] == 3
    assert summary["paths"] == [{"path": "vectorized", "runs": 3, "reason": summary["paths"][0]["reason"]}]
    (point,) = summary["points"]
    folds = summary["per_fold"]
    assert [(f["fold"], f["seed"]) for f in folds] == [(0, 6202), (1, 6202), (2, 6202)]
    accuracies = [f["metrics"]["test"]["accuracy"] for f in folds]
    assert point["metrics"]["test"]["accuracy"]["mean"] == pytest.approx(sum(accuracies) / 3)
    assert point["metrics"]["test"]["accuracy"]["n"] == 3
    sub = json.loads((Path(folds[1]["run_dir"]) / "summary.json").read_text())
    assert sub["metrics"]["test"]["accuracy"] == accuracies[1]
    receipt = json.loads((Path(folds[1]["run_dir"]) / "receipt.json").read_text())
    assert receipt["config"]["data"]["fold"] == 1 and receipt["stack"]["fold"][2] == 2


def test_folds_with_seeds_and_the_human_tables(cli):
    out = cli("train", WINE_CFG, "train.epochs=10", "--folds", "2", "--seeds", "2", "--out", cli.out).stdout
    assert "4 runs, " in out and "2-fold cross-validation (2 seeds): each metric is the mean ± std over the folds'" in out
    assert "per fold" in out and "test_accuracy" in out
    assert "--seed and --seeds" in cli("train", WINE_CFG, "--folds", "2", "--seeds", "2", "--seed", "1", code=2).stderr
    assert "--resume and --folds" in cli("train", WINE_CFG, "--folds", "2", "--resume", cli.out, code=2).stderr
    one = json.loads(cli("train", WINE_CFG, "train.epochs=5", "--folds", "2", "--seed", "4", "--json",
                         "--out", cli.out).stdout)
    assert one["seeds"] == [4]


@pytest.mark.slow
def test_a_fold_sub_run_reproduces_in_its_stack_and_evaluates_its_own_fold(cli):
    summary = json.loads(cli("train", WINE_CFG, "train.epochs=40", "data.val_size=0.1", "--folds", "3",
                             "--out", cli.out, "--json").stdout)
    run_dir = summary["per_fold"][2]["run_dir"]
    assert "reproduced: every number is identical" in cli("reproduce", run_dir).stdout
    recorded = json.loads((Path(run_dir) / "summary.json").read_text())
    for split in ("train", "val", "test"):
        evaluated = json.loads(cli("eval", run_dir, "--split", split, "--json").stdout)["metrics"][split]
        assert evaluated == pytest.approx(recorded["metrics"][split], rel=1e-6)
