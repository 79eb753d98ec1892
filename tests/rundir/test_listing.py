"""nnlab runs and nnlab compare: reading run directories back, including broken ones."""

import json
from pathlib import Path

from helpers import ROOT

LINEAR = ROOT / "configs" / "linear_regression.yaml"


def test_runs_lists_newest_first_with_overrides_metrics_and_status(cli):
    first = cli.train_json(LINEAR, "train.epochs=2")
    second = cli.train_json(ROOT / "configs" / "wine_mlp.yaml", "train.epochs=3", "--seed", "4")
    rows = json.loads(cli("runs", cli.out, "--json").stdout)
    assert [r["path"] for r in rows] == [second["run_dir"], first["run_dir"]]
    assert rows[0]["overrides"] == ["train.epochs=3", "seed=4"] and rows[0]["status"] == "finished"
    assert rows[0]["metrics"] == second["metrics"] and rows[0]["epochs"] == 3 and rows[0]["model"] == "mlp 5-5-5 relu"
    assert rows[1]["name"] == "linear-regression" and rows[1]["metrics"] == first["metrics"]
    table = cli("runs", cli.out).stdout
    assert Path(second["run_dir"]).name in table and "seed=4" in table and "test_accuracy" in table


def test_runs_filters_by_name_and_shows_broken_runs_without_crashing(cli):
    done = cli.train_json(LINEAR, "train.epochs=2")
    crashed = cli.out / "wine-mlp-20260101-000000"
    crashed.mkdir()
    (crashed / "config.yaml").write_text("name: wine-mlp\nmodel: {kind: mlp, hidden: [5]}\n")
    garbled = cli.out / "linear-regression-20200101-000000"
    garbled.mkdir()
    (garbled / "summary.json").write_text("{not json")
    stopped = cli.out / "linear-regression-20200101-000001"
    stopped.mkdir()
    (stopped / "summary.json").write_text(json.dumps({"status": "interrupted", "epochs": 7}))
    rows = {r["run"]: r for r in json.loads(cli("runs", cli.out, "--json").stdout)}
    assert rows[crashed.name]["status"] == "no summary" and rows[crashed.name]["model"] == "mlp 5"
    assert rows[stopped.name]["status"] == "interrupted" and rows[stopped.name]["epochs"] == 7
    assert rows[garbled.name]["status"] == "unreadable summary"
    only = json.loads(cli("runs", cli.out, "--name", "linear", "--json").stdout)
    assert {r["run"] for r in only} == {Path(done["run_dir"]).name, garbled.name, stopped.name}
    assert [r["run"] for r in json.loads(cli("runs", cli.out, "-n", "wine*", "--json").stdout)] == [crashed.name]
    assert "no runs in" in cli("runs", cli.out, "--name", "zzz").stdout


def test_runs_on_a_missing_folder_is_a_usage_error(cli, tmp_path):
    assert "no such folder" in cli("runs", tmp_path / "nope", code=2).stderr


def test_compare_shows_config_differences_and_metrics_side_by_side(cli):
    a = cli.train_json(LINEAR, "train.epochs=2")
    b = cli.train_json(LINEAR, "train.epochs=3", "optimizer.lr=0.01")
    compared = json.loads(cli("compare", a["run_dir"], b["run_dir"], "--json").stdout)
    assert compared["config"] == {"optimizer.lr": [0.03, 0.01], "train.epochs": [2, 3]}
    assert compared["metrics"]["metrics.train.loss"] == [a["metrics"]["train"]["loss"], b["metrics"]["train"]["loss"]]
    assert compared["metrics"]["metrics.test.r2"] == [a["metrics"]["test"]["r2"], b["metrics"]["test"]["r2"]]
    out = cli("compare", a["run_dir"], b["run_dir"]).stdout
    assert "config differences" in out and "optimizer.lr" in out and "results" in out


def test_compare_needs_two_run_directories(cli, tmp_path):
    run = cli.train_json(LINEAR, "train.epochs=2")["run_dir"]
    assert "at least two" in cli("compare", run, code=2).stderr
    assert "no such run directory" in cli("compare", run, tmp_path / "nope", code=2).stderr


def test_a_run_being_written_is_listed_as_running(cli, tmp_path):
    from nnlab.rundir.lock import lock_folder

    run_dir = Path(cli.train_json(ROOT / "configs" / "linear_regression.yaml", "train.epochs=2")["run_dir"])
    with lock_folder(run_dir):  # what a --resume holds while it trains
        assert json.loads(cli("runs", cli.out, "--json").stdout)[0]["status"] == "running"
        assert "running" in cli("runs", cli.out).stdout
    assert json.loads(cli("runs", cli.out, "--json").stdout)[0]["status"] == "finished"


def test_runs_shows_a_sweep_folder_on_one_line_with_its_best_point(cli):
    wine = ROOT / "configs" / "wine_mlp.yaml"
    sweep = json.loads(cli("sweep", wine, "--grid", "optimizer.lr=0.01,0.5", "--seeds", "2", "train.epochs=40",
                           "--halving", "--out", cli.out, "--json", "--no-plots").stdout)
    [row] = json.loads(cli("runs", cli.out, "--json").stdout)
    best = sweep["points"][0]
    assert row["kind"] == "sweep" and row["best"] == best["overrides"] == {"optimizer.lr": 0.5}
    assert row["overrides"] == sweep["overrides"] == ["train.epochs=40"] and row["epochs"] == sweep["epochs"] == 40
    assert row["model"] == "mlp" and row["halving"] and row["search"] is None and row["points"] == 2
    assert row["metrics"] == best["metrics"] and row["headline"] == "test_accuracy" and row["runs"] == 4
    assert "result" not in row
    stats = best["metrics"]["test"]["accuracy"]
    lines = [line for line in cli("runs", cli.out).stdout.splitlines() if "sweep" in line]
    assert len(lines) == 1 and "mlp sweep halving 2x2" in lines[0] and "train.epochs=40" in lines[0]
    assert f"best optimizer.lr=0.5: test_accuracy {stats['mean']:.4f} ± {stats['std']:.4f}" in lines[0]


def test_runs_rows_of_seeds_folds_and_lr_find_folders_carry_overrides_epochs_and_aggregates(cli):
    """README Names: a folder of many runs is metrics.{split}.{name}.{stat}, with the command's own overrides."""
    wine = ROOT / "configs" / "wine_mlp.yaml"
    seeds = json.loads(cli("train", wine, "--seeds", "2", "train.epochs=20", "--out", cli.out, "--json").stdout)
    folds = json.loads(cli("train", wine, "--folds", "2", "train.epochs=10", "--out", cli.out, "--json").stdout)
    found = json.loads(cli("lr-find", wine, "--num", "3", "--epochs", "5", "optimizer.momentum=0", "--out", cli.out,
                           "--json", "--no-plots").stdout)
    rows = {r["kind"]: r for r in json.loads(cli("runs", cli.out, "--json").stdout)}
    for kind, summary, epochs in (("seeds", seeds, 20), ("folds", folds, 10)):
        row = rows[kind]
        assert row["overrides"] == [f"train.epochs={epochs}"] and row["epochs"] == epochs and row["best"] == {}
        assert row["metrics"] == summary["points"][0]["metrics"] and row["headline"] == "test_accuracy"
        assert set(row["metrics"]["train"]["loss"]) == {"mean", "std", "min", "max", "n"} and "result" not in row
    assert rows["folds"]["folds"] == 2 and rows["seeds"]["seeds"] == [0, 1]
    lr = rows["lr-find"]
    assert lr["overrides"] == found["overrides"] == ["optimizer.momentum=0"] and lr["epochs"] == 5
    assert lr["best"] == {"optimizer.lr": found["suggested_lr"]} and lr["runs"] == 3 and lr["metrics"] == {}
    table = cli("runs", cli.out).stdout
    for text in ("mlp 2 seeds", "train.epochs=20", "mlp 2 folds x 1 seed", "train.epochs=10", "mlp lr-find 3 lrs",
                 "optimizer.momentum=0", "suggested lr", "test_accuracy "):
        assert text in table, text
