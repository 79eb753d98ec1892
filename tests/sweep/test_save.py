"""A sweep's folder: one ordinary run directory per model (with its receipt), points.csv, runs.csv, summary.json."""

import csv
import json
from pathlib import Path

import pytest

from helpers import ROOT, WINE_YAML, write_config
from nnlab.config import load_config
from nnlab.rundir.receipt import unpack_stack
from nnlab.sweep.plan import Group, expand
from nnlab.sweep.save import stack_record, sub_run_name

WINE_CFG = ROOT / "configs" / "wine_mlp.yaml"


def test_a_stack_record_lists_every_member_with_its_seed_and_optimizer_settings():
    trials = expand(WINE_CFG, ["train.epochs=5"], [("optimizer.lr", ["0.1", "0.2"])], [3, 4])
    record = stack_record(trials, Group([0, 1, 2, 3], "vectorized", "same"), 2)
    assert record["index"] == 2
    index, members, halving = unpack_stack(record)
    assert (index, halving) == (2, None) and record["seed"] == [3, 4, 3, 4]
    assert [(m["seed"], m["optimizer"]["lr"]) for m in members] == [(3, 0.1), (4, 0.1), (3, 0.2), (4, 0.2)]
    assert record["optimizer"] == {"lr": [0.1, 0.1, 0.2, 0.2]}  # momentum and decay are the receipt's own
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


GROUPS3 = ["sweep", WINE_CFG, "--grid", "train.batch_size=64,32,8", "--seeds", "2", "train.epochs=3"]  # 3 groups


def _loadable(parent: Path) -> list[str]:
    """The sub-runs of a sweep folder, each checked: checkpoint verified, summary finished; runs.csv lists them."""
    from nnlab.rundir.store import load_run

    subs = sorted(p for p in parent.iterdir() if p.is_dir())
    for sub in subs:
        load_run(sub).build_model("cpu")
        assert json.loads((sub / "summary.json").read_text())["status"] == "finished"
    listed = [Path(r["run_dir"]).name for r in csv.DictReader(open(parent / "runs.csv"))]
    assert listed == [s.name for s in subs] and not list(parent.rglob(".*"))  # no temporaries, no lock
    return listed


def _signal_after_groups(monkeypatch, n_groups: int, signum: int, before_save: bool = False):
    import os

    from nnlab.sweep.save import SweepFolder

    real, seen = SweepFolder.add, []

    def add(self, indices, results):
        seen.append(indices)
        if before_save and len(seen) == n_groups:
            os.kill(os.getpid(), signum)  # arrives while the group is being saved
        real(self, indices, results)
        if not before_save and len(seen) == n_groups:
            os.kill(os.getpid(), signum)

    monkeypatch.setattr(SweepFolder, "add", add)


@pytest.mark.parametrize("signum, code", [(2, 130), (15, 143)])
def test_a_signal_keeps_the_groups_that_finished_and_says_so(cli, monkeypatch, signum, code):
    _signal_after_groups(monkeypatch, 1, signum)
    result = cli(*GROUPS3, "--out", cli.out, "--json", code=code)
    summary = json.loads(result.stdout)
    assert summary["status"] == "interrupted" and summary["runs"] == 2 and summary["paths"][0]["runs"] == 2
    assert f"2 of 6 runs had finished; saved them in {summary['run_dir']}" in result.stderr
    assert "error: interrupted by SIG" in result.stderr and " at epoch 1" in result.stderr
    assert _loadable(Path(summary["run_dir"])) == ["g00-seed0", "g00-seed1"]


def test_a_signal_in_a_sequential_group_keeps_each_run_that_finished(cli, monkeypatch):
    _signal_after_groups(monkeypatch, 3, 2)
    result = cli(*GROUPS3, "--no-vectorize", "--out", cli.out, "--json", code=130)
    summary = json.loads(result.stdout)
    assert summary["runs"] == 3 and "3 of 6 runs had finished" in result.stderr
    assert _loadable(Path(summary["run_dir"])) == ["g00-seed0", "g00-seed1", "g01-seed0"]


@pytest.mark.parametrize("many", [["--seeds", "3"], ["--folds", "3"]])
def test_train_seeds_and_folds_json_print_the_saved_summary_when_interrupted(cli, monkeypatch, tmp_path, many):
    """adam with a plateau schedule trains one run after another, so a signal after the first leaves one saved."""
    config = write_config(tmp_path, WINE_YAML.replace("{lr: 0.05, momentum: 0.1}", "{name: adam, lr: 0.01}")
                          + "train: {epochs: 3, scheduler: {name: plateau, monitor: train_loss}}\n")
    _signal_after_groups(monkeypatch, 1, 2)
    result = cli("train", config, *many, "--out", cli.out, "--json", code=130)
    summary = json.loads(result.stdout)
    assert summary == json.loads((Path(summary["run_dir"]) / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["runs"] == 1 and "1 of 3 runs had finished" in result.stderr


def test_a_signal_during_a_groups_save_lets_the_save_finish(cli, monkeypatch):
    _signal_after_groups(monkeypatch, 2, 2, before_save=True)
    result = cli(*GROUPS3, "--out", cli.out, "--json", code=130)
    assert _loadable(Path(json.loads(result.stdout)["run_dir"])) == ["g00-seed0", "g00-seed1", "g01-seed0", "g01-seed1"]


def test_a_signal_before_any_group_finished_leaves_no_folder(cli, monkeypatch):
    import os

    import nnlab.sweep.local

    real = nnlab.sweep.local.train_group

    def signalled(*args, **kwargs):
        os.kill(os.getpid(), 15)
        return real(*args, **kwargs)

    monkeypatch.setattr(nnlab.sweep.local, "train_group", signalled)
    result = cli(*GROUPS3, "--out", cli.out, code=143)
    assert "none of the 6 runs had finished; nothing saved" in result.stderr
    assert not any(cli.out.iterdir())


def test_a_disk_that_fills_up_mid_sweep_keeps_the_groups_saved_before(cli, monkeypatch):
    import errno
    import os

    import nnlab.rundir.safefile

    real = nnlab.rundir.safefile.write_atomic

    def fills_at_the_third_group(path, data):
        if "g02-" in str(path) and Path(path).name == "checkpoint.pt":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, data)

    monkeypatch.setattr(nnlab.rundir.safefile, "write_atomic", fills_at_the_third_group)
    result = cli(*GROUPS3, "--out", cli.out, code=4)
    [parent] = cli.out.iterdir()
    assert "No space left on device" in result.stderr and f"the 4 runs saved before it are in {parent}" in result.stderr
    assert _loadable(parent) == ["g00-seed0", "g00-seed1", "g01-seed0", "g01-seed1"]  # no half-written g02
    assert json.loads((parent / "summary.json").read_text())["status"] == "interrupted"


@pytest.mark.parametrize("how, code", [("mkdir", 2), ("lock", 4)])
def test_a_sweep_folder_that_cannot_be_written_fails_before_any_training(cli, monkeypatch, how, code):
    import errno
    import os

    import nnlab.rundir.lock
    import nnlab.sweep.local

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    trained = []
    monkeypatch.setattr(nnlab.sweep.local, "train_group", lambda *a, **k: trained.append(a))
    if how == "mkdir":
        monkeypatch.setattr(Path, "mkdir", refuse)
    else:
        monkeypatch.setattr(nnlab.rundir.lock, "_write_holder", refuse)
    result = cli(*GROUPS3, "--out", cli.out, code=code)
    assert "Read-only file system" in result.stderr and not trained
    assert not cli.out.exists() or not any(cli.out.iterdir())
