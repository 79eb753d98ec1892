"""A Run's life: claim a folder, start (receipt, config), checkpoint, finish or stop; the files at each step."""

import json
import signal

import pytest

from helpers import ROOT
from nnlab.config import load_config
from nnlab.data import load_data
from nnlab.errors import DivergedError, Interrupted, UsageError
from nnlab.rundir.run import Run
from nnlab.rundir.store import CHECKPOINT, CONFIG, METRICS, SUMMARY, load_run
from nnlab.training.loop import Fit, fit
from nnlab.training.setup import prepare


@pytest.fixture
def trained():
    cfg = load_config(ROOT / "configs" / "wine_mlp.yaml", ["train.epochs=6", "train.log_every=2"])
    splits = load_data(cfg)
    setup = prepare(cfg, splits)
    return cfg, splits, setup, fit(setup, cfg.train)


def claim(trained, **where) -> Run:
    cfg, splits, setup, _ = trained
    return Run.claim(cfg, splits, setup.model, setup.device, setup.threads, setup.optimizer, **where)


def test_a_fresh_run_claims_a_new_folder_each_time_and_starts_with_receipt_and_config(trained, tmp_path):
    a, b = claim(trained, parent=tmp_path), claim(trained, parent=tmp_path)
    assert a.path != b.path and a.path.name.startswith("wine-mlp-")
    a.start(["train.epochs=6"])
    assert sorted(p.name for p in a.path.iterdir()) == [".lock", CONFIG, "receipt.json"]  # locked while it lives
    a.release()
    assert sorted(p.name for p in a.path.iterdir()) == [CONFIG, "receipt.json"]
    assert json.loads((a.path / "receipt.json").read_text())["overrides"] == ["train.epochs=6"]


def test_an_exact_folder_is_refused_when_it_holds_anything(trained, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="already exists and is not empty"):
        claim(trained, path=tmp_path / "taken")
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    assert claim(trained, path=tmp_path / "new" / "run").path.is_dir()


def test_finish_writes_a_resumable_checkpoint_metrics_and_the_summary(trained, tmp_path):
    cfg, splits, setup, result = trained
    run = claim(trained, parent=tmp_path)
    summary = run.finish(result, None, status="finished")
    assert summary == json.loads((run.path / SUMMARY).read_text())
    assert summary["status"] == "finished" and summary["steps"] == 6 and summary["metrics"] == {}
    assert (run.path / METRICS).read_text().splitlines()[0] == "epoch,train_loss,test_loss,test_accuracy"
    assert load_run(run.path).checkpoint["train_state"]["finished"] is True


def test_a_run_without_an_optimizer_keeps_weights_but_no_training_state(trained, tmp_path):
    cfg, splits, setup, result = trained
    run = Run.claim(cfg, splits, setup.model, "cpu", 1, path=tmp_path / "sub")
    run.finish(Fit(result.history, result.steps, result.seconds), None, path="vectorized")
    assert load_run(run.path).checkpoint["train_state"] is None
    assert json.loads((run.path / SUMMARY).read_text())["path"] == "vectorized"


def test_stop_keeps_an_interrupted_checkpoint_and_no_diverged_one(trained, tmp_path):
    cfg, splits, setup, result = trained
    interrupted = Interrupted("SIGTERM at epoch 3, step 3", signal.SIGTERM)
    interrupted.result = result
    run = claim(trained, parent=tmp_path)
    error = run.stop(interrupted)
    assert isinstance(error, Interrupted) and error.exit_code == 143 and f"--resume {run.path}" in str(error)
    assert json.loads((run.path / SUMMARY).read_text())["status"] == "interrupted" and (run.path / CHECKPOINT).exists()

    diverged = DivergedError("loss became nan at epoch 3, step 3; try a smaller optimizer.lr")
    diverged.result = result
    other = claim(trained, parent=tmp_path)
    error = other.stop(diverged)
    assert isinstance(error, DivergedError) and "no checkpoint yet in" in str(error)
    assert json.loads((other.path / SUMMARY).read_text())["status"] == "diverged"
    assert not (other.path / CHECKPOINT).exists()


def test_a_folder_in_use_is_refused_with_run_in_use_naming_the_process_until_it_is_released(trained, tmp_path):
    from nnlab.errors import RunInUse

    first = claim(trained, path=tmp_path / "run")
    first.start([])
    with pytest.raises(RunInUse, match=f"{tmp_path / 'run'}: in use by another nnlab process \\(pid "):
        claim(trained, path=tmp_path / "run")
    assert RunInUse.exit_code == 7
    first.release()
    with pytest.raises(UsageError, match="already exists and is not empty"):
        claim(trained, path=tmp_path / "run")


def test_a_lock_file_a_killed_run_left_in_an_empty_folder_does_not_block_it(trained, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / ".lock").write_text('{"pid": 999999999}\n')
    with claim(trained, path=tmp_path / "run") as run:
        run.start([])
    assert sorted(p.name for p in run.path.iterdir()) == [CONFIG, "receipt.json"]


def test_run_dir_messages_suggest_resume_only_for_a_run(trained, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is a file, not a folder; pick another --run-dir") as refused:
        claim(trained, path=tmp_path / "file")
    assert "--resume" not in str(refused.value)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("x")
    with pytest.raises(UsageError, match="not empty; pick another --run-dir"):
        claim(trained, path=tmp_path / "notes")
    cfg, splits, setup, result = trained
    with claim(trained, path=tmp_path / "run") as run:
        run.finish(result, None)
    with pytest.raises(UsageError, match=f"continue that run with --resume {tmp_path / 'run'}"):
        claim(trained, path=tmp_path / "run")
