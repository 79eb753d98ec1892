"""Interrupt and resume: bit-identical results, refusals, and signals sent to a real training process."""

import json
import signal
from pathlib import Path

import pytest
import torch

from helpers import interrupt_after, write_config
from nnlab.rundir.store import CHECKPOINT, METRICS, SUMMARY, load_run

# 80 train rows in minibatches of 16: 5 steps an epoch, 30 in all; a checkpoint every 2 epochs.
TINY = """name: tiny
data: {source: linear, n_samples: 100, weights: [1.5, -2.0], bias: 0.5, noise: 0.1}
model: {kind: mlp, hidden: [8]}
optimizer: {name: OPT, lr: 0.05}
train: {epochs: 6, batch_size: 16, log_every: 2, checkpoint_every: 2}
"""


@pytest.fixture
def tiny(tmp_path):
    return lambda opt="adam": write_config(tmp_path, TINY.replace("OPT", opt), name=f"tiny-{opt}.yaml")


def final_state(run_dir: Path):
    payload = torch.load(run_dir / CHECKPOINT, weights_only=True)
    summary = json.loads((run_dir / SUMMARY).read_text())
    # Wall-clock and location are the only fields that may differ between two runs (README: What nnlab promises).
    comparable = {k: v for k, v in summary.items() if k not in ("run_dir", "train_seconds")}
    return payload["model_state"], payload["train_state"]["optimizer"], (run_dir / METRICS).read_bytes(), comparable


@pytest.mark.parametrize("opt, step, where", [("adam", 13, "mid-epoch"), ("adam", 10, "epoch boundary"),
                                              ("adam", 30, "last step"), ("sgd", 13, "mid-epoch")])
def test_resume_is_bit_identical_to_an_uninterrupted_run(cli, tiny, tmp_path, monkeypatch, opt, step, where):
    config = tiny(opt)
    if opt == "sgd":
        config.write_text(config.read_text().replace("lr: 0.05}", "lr: 0.05, momentum: 0.9}"))
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    cli("train", config, "--run-dir", straight, "--quiet")
    with monkeypatch.context() as m:
        interrupt_after(m, step)
        result = cli("train", config, "--run-dir", stopped, "--quiet", code=130)
    assert f"resume with: nnlab train --resume {stopped}" in result.stderr
    summary = json.loads((stopped / SUMMARY).read_text())
    assert summary["status"] == "interrupted" and summary["steps"] == step
    saved = load_run(stopped).checkpoint["train_state"]["loop"]
    assert (saved["epoch"], saved["batch"]) == {"mid-epoch": (3, 3), "epoch boundary": (3, 0),
                                                "last step": (7, 0)}[where]
    cli("train", "--resume", stopped, "--quiet")
    a, b = final_state(straight), final_state(stopped)
    assert a[0].keys() == b[0].keys() and all(torch.equal(a[0][k], b[0][k]) for k in a[0])
    for key, value in a[1].items():  # optimizer state: Adam's step count and moments, SGD's momentum
        assert (value == b[1][key]) if not isinstance(value, list) else all(map(torch.equal, value, b[1][key]))
    assert a[2] == b[2] and a[3] == b[3] and b[3]["status"] == "finished"


def test_an_interrupted_run_can_be_evaluated(cli, tiny, tmp_path, monkeypatch):
    interrupt_after(monkeypatch, 12, signal.SIGTERM)
    run_dir = tmp_path / "run"
    result = cli("train", tiny(), "--run-dir", run_dir, "--quiet", code=143)
    assert "interrupted by SIGTERM at epoch 3, step 12" in result.stderr
    evaluated = json.loads(cli("eval", run_dir, "--json").stdout)["metrics"]["test"]
    assert evaluated["r2"] < 1
    summary = json.loads((run_dir / SUMMARY).read_text())  # the weights where it stopped, scored: no null loss
    assert summary["status"] == "interrupted" and (summary["epoch"], summary["epochs"], summary["steps"]) == (2, 6, 12)
    assert summary["metrics"]["test"] == evaluated and summary["metrics"]["train"]["loss"] > 0
    assert (run_dir / METRICS).read_text().splitlines()[0] == "epoch,train_loss,test_loss,test_r2"
    assert len((run_dir / METRICS).read_text().splitlines()) == 2  # the row of epoch 2


def test_resume_refuses_another_config_or_other_data_unless_forced(cli, tiny, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    with monkeypatch.context() as m:
        interrupt_after(m, 7)
        cli("train", tiny(), "--run-dir", run_dir, "--quiet", code=130)
    result = cli("train", "--resume", run_dir, "optimizer.lr=0.5", code=2)
    assert "the config differs from the run's (optimizer.lr)" in result.stderr and "--force" in result.stderr
    other = write_config(tmp_path, TINY.replace("OPT", "adam").replace("noise: 0.1", "noise: 0.2"), "other.yaml")
    assert "differs from the run's (data.noise)" in cli("train", other, "--resume", run_dir, code=2).stderr
    assert json.loads((run_dir / SUMMARY).read_text())["status"] == "interrupted"  # nothing was touched
    cli("train", "--resume", run_dir, "train.checkpoint_every=1", "--quiet")  # cadence moves no number
    cli("train", "--resume", run_dir, "train.epochs=8", "--force", "--quiet")
    assert json.loads((run_dir / SUMMARY).read_text())["steps"] == 40


def test_resume_refuses_a_changed_csv_unless_forced(cli, tmp_path, monkeypatch):
    import numpy as np

    rows = np.random.default_rng(0).normal(size=(60, 3)).round(3)
    (tmp_path / "d.csv").write_text("a,b,y\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    config = write_config(tmp_path, "data: {source: csv, path: d.csv, target: y}\nmodel: {kind: linear}\nloss: mse\n"
                                    "train: {epochs: 4, batch_size: 8}\n")
    run_dir = tmp_path / "run"
    with monkeypatch.context() as m:
        interrupt_after(m, 9)
        cli("train", config, "--run-dir", run_dir, "--quiet", code=130)
    (tmp_path / "d.csv").write_text((tmp_path / "d.csv").read_text().replace(str(rows[5, 0]), "9.5", 1))
    assert "the data differs from the data the run trained on" in cli("train", "--resume", run_dir, code=2).stderr
    cli("train", "--resume", run_dir, "--force", "--quiet")
    assert json.loads((run_dir / SUMMARY).read_text())["status"] == "finished"


def test_resume_of_a_finished_run_and_into_an_existing_run_dir_are_refused(cli, tiny, tmp_path):
    run_dir = tmp_path / "run"
    cli("train", tiny(), "--run-dir", run_dir, "--quiet")
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    assert "already finished its 6 epochs" in cli("train", "--resume", run_dir, code=2).stderr
    assert "already exists and is not empty" in cli("train", tiny(), "--run-dir", run_dir, code=2).stderr
    assert "give a config file, or --resume" in cli("train", code=2).stderr
    assert "pick one" in cli("train", "--resume", run_dir, "--run-dir", tmp_path / "x", code=2).stderr
    assert "--force only applies with --resume" in cli("train", tiny(), "--force", code=2).stderr
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before


def test_resume_removes_stale_temporaries(cli, tiny, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    with monkeypatch.context() as m:
        interrupt_after(m, 12)
        cli("train", tiny(), "--run-dir", run_dir, "--quiet", code=130)
    (run_dir / ".checkpoint.pt.tmp").write_bytes(b"half a checkpoint from a killed writer")
    cli("train", "--resume", run_dir, "--quiet")
    assert not list(run_dir.glob(".*.tmp"))


def test_divergence_names_epoch_and_step_and_keeps_the_last_good_checkpoint(cli, tiny, tmp_path):
    run_dir = tmp_path / "run"
    config = tiny("sgd")
    # lr 2 diverges within a few epochs; checkpoints every epoch until then.
    result = cli("train", config, "optimizer.lr=2", "train.epochs=200", "train.checkpoint_every=1",
                 "--run-dir", run_dir, "--quiet", code=5)
    line = result.stderr.splitlines()[0]
    assert "loss became" in line and "try a smaller optimizer.lr" in line, result.stderr
    epoch, step = (int(w.strip(",;")) for w in (line.split("epoch ")[1].split()[0], line.split("step ")[1].split()[0]))
    assert (epoch - 1) * 5 < step <= epoch * 5  # the step lies inside the epoch named
    assert "last good checkpoint is kept" in result.stderr
    run = load_run(run_dir)
    assert all(torch.isfinite(t).all() for t in run.checkpoint["model_state"].values())
    assert run.checkpoint["train_state"]["loop"]["epoch"] == epoch  # saved after epoch - 1
    assert json.loads((run_dir / SUMMARY).read_text())["status"] == "diverged"
    evaluated = cli("eval", run_dir, "--json", code=None)  # the last good weights may already be huge
    assert evaluated.exit_code == 0 or "outputs are not finite" in evaluated.stderr


def test_the_first_non_finite_step_is_reported_exactly(tiny, tmp_path):
    """fit() names the step whose loss was first non-finite, even when later steps are finite again."""
    from nnlab.config import load_config
    from nnlab.data import load_data
    from nnlab.errors import DivergedError
    from nnlab.training.loop import fit
    from nnlab.training.setup import prepare

    cfg = load_config(tiny("sgd"))
    setup = prepare(cfg, load_data(cfg))
    calls = [0]
    real = setup.loss_fn.forward

    def poisoned(scores, y):
        calls[0] += 1
        loss = real(scores, y)
        return loss * float("inf") if calls[0] == 8 else loss  # step 8: epoch 2, batch 3

    setup.loss_fn.forward = poisoned
    with pytest.raises(DivergedError, match=r"loss became inf at epoch 2, step 8;"):
        fit(setup, cfg.train)


def test_a_garbled_training_state_is_a_checkpoint_error(cli, tiny, tmp_path, monkeypatch):
    from nnlab.rundir.store import save_checkpoint

    run_dir = tmp_path / "run"
    with monkeypatch.context() as m:
        interrupt_after(m, 7)
        cli("train", tiny(), "--run-dir", run_dir, "--quiet", code=130)
    payload = torch.load(run_dir / CHECKPOINT, weights_only=True)
    payload["train_state"]["rng"]["torch"] = torch.zeros(3, dtype=torch.uint8)
    save_checkpoint(run_dir, payload)
    assert "cannot restore its optimizer or RNG state" in cli("train", "--resume", run_dir, code=4).stderr
    del payload["train_state"]["loop"]
    save_checkpoint(run_dir, payload)
    assert "training state lacks or garbles 'loop'" in cli("train", "--resume", run_dir, code=4).stderr


def test_a_second_resume_of_a_run_that_is_resuming_is_refused_and_changes_nothing(cli, tiny, tmp_path, monkeypatch):
    from nnlab.config import load_config
    from nnlab.data import load_data
    from nnlab.errors import RunInUse
    from nnlab.rundir.resume import continue_run, open_run
    from nnlab.training.setup import prepare

    run_dir = tmp_path / "run"
    with monkeypatch.context() as m:
        interrupt_after(m, 7)
        cli("train", tiny(), "--run-dir", run_dir, "--quiet", code=130)
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    saved = open_run(run_dir)
    cfg = load_config(tiny(), [])
    splits = load_data(cfg)
    with continue_run(saved, cfg, splits, prepare(cfg, splits), force=False):  # this process resumes it now
        result = cli("train", "--resume", run_dir, "--quiet", code=7)
        assert f"{run_dir}: in use by another nnlab process (pid " in result.stderr
        assert json.loads(cli("runs", tmp_path, "--json").stdout)[0]["status"] == "running"
        with pytest.raises(RunInUse):
            continue_run(open_run(run_dir), cfg, splits, prepare(cfg, splits), force=False)
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before
    assert json.loads(cli("runs", tmp_path, "--json").stdout)[0]["status"] == "interrupted"


def test_resume_of_a_run_still_training_before_its_first_checkpoint_says_it_is_in_use(cli, tiny, tmp_path):
    from nnlab.rundir.lock import lock_folder

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "receipt.json").write_text("{}")
    with lock_folder(run_dir, command="nnlab train tiny.yaml --run-dir run"):  # started, no checkpoint yet
        result = cli("train", "--resume", run_dir, code=7)
    assert "in use by another nnlab process" in result.stderr and "nnlab train tiny.yaml" in result.stderr


def test_a_resume_whose_checkpoint_changed_before_it_locked_is_refused(cli, tiny, tmp_path, monkeypatch):
    """Read, then another process saved and released: continuing from the older checkpoint would undo its work."""
    from nnlab.config import load_config
    from nnlab.data import load_data
    from nnlab.errors import RunInUse
    from nnlab.rundir.resume import continue_run, open_run
    from nnlab.training.setup import prepare

    run_dir = tmp_path / "run"
    with monkeypatch.context() as m:
        interrupt_after(m, 7)
        cli("train", tiny(), "--run-dir", run_dir, "--quiet", code=130)
    stale = open_run(run_dir)
    with monkeypatch.context() as m:
        interrupt_after(m, 9)
        cli("train", "--resume", run_dir, "--quiet", code=130)  # the other process, start to end
    cfg = load_config(tiny(), [])
    splits = load_data(cfg)
    with pytest.raises(RunInUse, match="wrote this run while the resume was starting; resume again"):
        continue_run(stale, cfg, splits, prepare(cfg, splits), force=False)
    cli("train", "--resume", run_dir, "--quiet")


WATCHED = TINY.replace("train: {epochs: 6,", "train: {epochs: 12, accumulate: 2, early_stopping: {patience: 4, "
                       "min_delta: 0.05}, scheduler: {name: plateau, patience: 1, factor: 0.5},") \
    .replace("noise: 0.1}", "noise: 0.1, val_size: 0.1}").replace("hidden: [8]}", "hidden: [8], dropout: 0.2}")


@pytest.mark.parametrize("step", [4, 9, 14])
def test_resume_with_early_stopping_a_schedule_accumulation_and_dropout_is_bit_identical(cli, tmp_path, monkeypatch,
                                                                                         step):
    """70 train rows, batches of 16, 2 per update: 3 updates an epoch; the schedule, the watch (best value and
    weights, patience count) and dropout's RNG travel in the checkpoint."""
    config = write_config(tmp_path, WATCHED.replace("OPT", "sgd"), "watched.yaml")
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    cli("train", config, "--run-dir", straight, "--quiet")
    with monkeypatch.context() as m:
        interrupt_after(m, step)
        cli("train", config, "--run-dir", stopped, "--quiet", code=130)
    saved = load_run(stopped).checkpoint["train_state"]
    assert saved["scheduler"]["kind"] == "plateau" and saved["early_stopping"]["monitor"] == "val_loss"
    cli("train", "--resume", stopped, "--quiet")
    a, b = final_state(straight), final_state(stopped)
    assert all(torch.equal(a[0][k], b[0][k]) for k in a[0]) and a[2] == b[2] and a[3] == b[3]
    assert "val_loss" in a[2].decode().splitlines()[0] and ",lr" in a[2].decode().splitlines()[0]
    assert a[3]["stopped"] in ("early_stopping", "epochs") and a[3]["best_epoch"] is not None


def test_an_early_stopped_run_is_finished_and_force_continues_from_its_last_weights(cli, tmp_path):
    config = write_config(tmp_path, WATCHED.replace("OPT", "adam").replace("epochs: 12", "epochs: 200")
                          .replace("min_delta: 0.05", "min_delta: 0.5"), "watched.yaml")
    run_dir = tmp_path / "run"
    cli("train", config, "--run-dir", run_dir, "--quiet")
    summary = json.loads((run_dir / SUMMARY).read_text())
    assert summary["stopped"] == "early_stopping" and summary["stopped_epoch"] == summary["best_epoch"] + 4
    assert "stopped early (early stopping at epoch" in cli("train", "--resume", run_dir, code=2).stderr
    state = load_run(run_dir).checkpoint["train_state"]["early_stopping"]
    last = state["last_state"]  # restore_best kept the last epoch's weights beside the best ones
    assert last is not None and not all(torch.equal(x, y) for x, y in zip(last, state["best_state"]))
    cli("train", "--resume", run_dir, "train.early_stopping={patience: 8, min_delta: 0.5}", "--force", "--quiet")
    assert json.loads((run_dir / SUMMARY).read_text())["stopped_epoch"] > summary["stopped_epoch"]
