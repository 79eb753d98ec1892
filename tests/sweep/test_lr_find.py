"""The LR finder: learning rates trained side by side, the curve, the suggestion and its rule; `nnlab lr-find`."""

import csv
import json
from pathlib import Path

import pytest

from helpers import ROOT
from nnlab.errors import UsageError
from nnlab.sweep.lr_find import RULE, find_lr, lr_grid, suggest

WINE_CFG = ROOT / "configs" / "wine_mlp.yaml"


def test_the_grid_is_log_spaced_and_bad_bounds_are_refused():
    assert lr_grid(1e-6, 1, 7) == [1e-06, 1e-05, 0.0001, 0.001, 0.01, 0.1, 1.0]
    assert lr_grid(0.001, 10, 3) == [0.001, 0.1, 10.0]
    for args, fragment in (((0, 1, 5), "need 0 < min < max"), ((1, 0.1, 5), "need 0 < min < max"),
                           ((1e-3, 1, 2), "--num: 2")):
        with pytest.raises(UsageError, match=fragment):
            lr_grid(*args)


def test_the_suggestion_is_a_tenth_of_the_lowest_loss_lr():
    lrs = [1e-3, 1e-2, 1e-1, 1.0, 10.0]
    assert suggest(lrs, [1.0, 0.8, 0.1, 0.5, None]) == 0.01
    assert suggest(lrs, [0.1, 0.8, 0.9, None, None]) == 1e-3  # never below the smallest lr tried
    assert suggest(lrs, [None] * 5) is None
    assert "divided by 10" in RULE


def test_every_lr_trains_in_one_stack_from_the_same_start():
    found = find_lr(WINE_CFG, [], 1e-3, 10, 5, epochs=20)
    assert [(p["path"], p["runs"]) for p in found.paths] == [("vectorized", 5)] and found.paths[0]["reason"]
    assert found.epochs == 20 and found.seed == 6202 and len(found.losses) == 5
    assert found.losses[0] > found.losses[2]  # 0.001 barely moves in 20 epochs; 0.1 does
    adam = find_lr(WINE_CFG, ["optimizer={name: adam}"], 1e-3, 1, 3, epochs=5)
    assert {p["path"] for p in adam.paths} == {"sequential"}  # Adam stacks only with equal settings: each lr alone
    assert sum(p["runs"] for p in adam.paths) == 3 and all(set(p) == {"path", "runs", "reason"} for p in adam.paths)


def test_lr_find_writes_the_curve_the_plot_and_prints_the_suggestion(cli):
    result = cli("lr-find", WINE_CFG, "--min", "1e-3", "--max", "3", "--num", "7", "--epochs", "30", "--out", cli.out)
    assert "suggested lr:" in result.stdout and "rule: the lr with the lowest train loss" in result.stdout
    assert "try: nnlab train" in result.stdout and "optimizer.lr=" in result.stdout
    [folder] = cli.out.iterdir()
    assert folder.name.startswith("wine-mlp-lr-find-") and (folder / "lr_find.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader(open(folder / "lr_find.csv")))
    assert [float(r["lr"]) for r in rows] == lr_grid(1e-3, 3, 7)
    summary = json.loads(cli("lr-find", WINE_CFG, "--num", "5", "--epochs", "10", "--out", cli.out, "--json",
                             "--no-plots").stdout)
    assert set(summary) >= {"run_dir", "lrs", "losses", "suggested_lr", "rule", "epochs", "seed", "note"}
    assert summary["kind"] == "lr-find" and not (Path(summary["run_dir"]) / "lr_find.png").exists()
    assert [set(p) for p in summary["paths"]] == [{"path", "runs", "reason"}] and summary["paths"][0]["runs"] == 5
    listed = json.loads(cli("runs", cli.out, "--json").stdout)
    assert {r["kind"] for r in listed} == {"lr-find"} and listed[0]["best"] == {"optimizer.lr": summary["suggested_lr"]}
    assert "suggested lr" in cli("runs", cli.out).stdout


def test_lr_find_refuses_bad_bounds_before_reading_anything(cli):
    assert "need 0 < min < max" in cli("lr-find", WINE_CFG, "--min", "1", "--max", "0.5", code=2).stderr
    assert "--num: 1" in cli("lr-find", WINE_CFG, "--num", "1", code=2).stderr


@pytest.mark.slow
def test_the_wine_suggestion_trains_to_test_accuracy_above_0_9_in_the_configs_epochs(cli):
    """The issue's quality bar: nnlab lr-find configs/wine_mlp.yaml, then train with what it suggests."""
    found = json.loads(cli("lr-find", WINE_CFG, "--out", cli.out, "--json", "--no-plots").stdout)
    trained = cli.train_json(WINE_CFG, f"optimizer.lr={found['suggested_lr']}")
    assert trained["epochs"] == 1000 and trained["metrics"]["test"]["accuracy"] >= 0.9
