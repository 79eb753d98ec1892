import errno
import os
from pathlib import Path

import pytest
import torch

from helpers import CRAFTED, ROOT, craft_checkpoint
from nnlab.errors import CheckpointError
from nnlab.rundir.run import new_folder as new_run_dir
from nnlab.rundir.safefile import record_path, write_verified
from nnlab.rundir.store import CHECKPOINT, load_run, save_checkpoint


def test_run_dirs_are_never_reused(tmp_path):
    dirs = {new_run_dir(tmp_path, "exp") for _ in range(5)}
    assert len(dirs) == 5 and all(d.is_dir() and d.name.startswith("exp-") for d in dirs)


@pytest.fixture(scope="module")
def wine_run(tmp_path_factory):
    from typer.testing import CliRunner

    from nnlab.cli import app

    out = tmp_path_factory.mktemp("runs")
    result = CliRunner().invoke(app, ["train", str(ROOT / "configs" / "wine_mlp.yaml"), "train.epochs=20",
                                      "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.stderr
    return next(out.iterdir())


def test_checkpoint_holds_only_tensors_and_plain_values(wine_run):
    payload = torch.load(wine_run / CHECKPOINT, weights_only=True)
    assert payload["feature_names"][0] == "Alcohol" and payload["preprocessing"]["classes"] == [1, 2, 3]
    assert set(payload["model_state"]) == {"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias",
                                           "6.weight", "6.bias"}
    assert payload["config"]["model"]["hidden"] == [5, 5, 5]


def test_load_run_rebuilds_the_trained_model(wine_run):
    run = load_run(wine_run)
    model = run.build_model("cpu")
    state = torch.load(wine_run / CHECKPOINT, weights_only=True)["model_state"]
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())


def test_truncated_checkpoint_is_corrupt(wine_run, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(wine_run, copy)
    data = (copy / CHECKPOINT).read_bytes()
    (copy / CHECKPOINT).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_run(copy)


def test_shape_mismatch_names_the_tensor_and_both_shapes(wine_run, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(wine_run, copy)
    payload = torch.load(copy / CHECKPOINT, weights_only=True)
    payload["model_state"]["2.weight"] = torch.zeros(7, 5)
    save_checkpoint(copy, payload)
    with pytest.raises(CheckpointError, match=r"'2.weight' has shape \(7, 5\) but the config's model needs \(5, 5\)"):
        load_run(copy).build_model("cpu")


def evil_pickle(marker) -> bytes:
    import os
    import pickle

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    return pickle.dumps(Payload())


def test_a_pickle_that_runs_code_is_refused_and_runs_nothing(tmp_path):
    """Even with a matching sha256 record (an attacker writes both), weights_only refuses the pickle."""
    marker = tmp_path / "pwned"
    run = tmp_path / "run"
    run.mkdir()
    write_verified(run / CHECKPOINT, evil_pickle(marker))
    with pytest.raises(CheckpointError, match="corrupt or not an nnlab checkpoint"):
        load_run(run)
    assert not marker.exists()


@pytest.mark.parametrize("command", [["eval", "{run}"], ["train", "--resume", "{run}"]])
def test_eval_and_resume_refuse_a_malicious_checkpoint_with_exit_4(cli, wine_run, tmp_path, command):
    import shutil

    marker = tmp_path / "pwned"
    copy = tmp_path / "run"
    shutil.copytree(wine_run, copy)
    write_verified(copy / CHECKPOINT, evil_pickle(marker))
    result = cli(*[part.format(run=copy) for part in command], code=4)
    assert "not an nnlab checkpoint" in result.stderr and not marker.exists()


def test_a_flipped_bit_is_corrupt_before_torch_reads_it(wine_run, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(wine_run, copy)
    data = bytearray((copy / CHECKPOINT).read_bytes())
    data[len(data) // 3] ^= 0x10
    (copy / CHECKPOINT).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt: its sha256 does not match"):
        load_run(copy)


def test_a_checkpoint_without_its_sha256_record_is_refused(wine_run, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(wine_run, copy)
    record_path(copy / CHECKPOINT).unlink()
    with pytest.raises(CheckpointError, match="no sha256 record"):
        load_run(copy)


TINY = "data: {source: linear, n_samples: 60, weights: [1.0, 2.0]}\nmodel: {kind: linear}\n" \
       "train: {epochs: 30, checkpoint_every: 1}\n"


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EROFS], ids=["disk-full", "read-only"])
def test_a_failing_save_exits_4_and_keeps_the_previous_checkpoint(cli, tmp_path, monkeypatch, err):
    import nnlab.rundir.safefile

    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    run_dir, real, calls = tmp_path / "run", os.replace, []

    def replace(src, dst):
        calls.append(Path(dst).name)
        if calls.count("checkpoint.pt") == 3:  # the third checkpoint is the first write that fails
            raise OSError(err, os.strerror(err))
        real(src, dst)

    monkeypatch.setattr(nnlab.rundir.safefile.os, "replace", replace)
    result = cli("train", config, "--run-dir", run_dir, "--quiet", code=4)
    assert os.strerror(err) in result.stderr and "the previous checkpoint is intact" in result.stderr
    monkeypatch.undo()
    run = load_run(run_dir)  # still verifies
    assert run.checkpoint["train_state"]["loop"]["epoch"] == 3  # saved after epoch 2
    assert not list(run_dir.glob(".*.tmp"))


def test_a_read_only_output_folder_is_exit_2_before_training(cli, tmp_path, monkeypatch):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    probe = parent / "probe"
    try:
        probe.mkdir()  # root ignores permission bits: make mkdir fail the way a read-only folder does
        probe.rmdir()

        def refuse(self, *args, **kwargs):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

        monkeypatch.setattr(Path, "mkdir", refuse)
    except PermissionError:
        pass
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    for option in ("--out", "--run-dir"):
        result = cli("train", config, option, parent / "runs", code=2)
        assert "Permission denied" in result.stderr and "pick another" in result.stderr


@pytest.mark.parametrize("case, edit, key", CRAFTED, ids=[c[0] for c in CRAFTED])
def test_a_crafted_checkpoint_is_refused_naming_what_does_not_fit(wine_run, tmp_path, case, edit, key):
    """Validated against its config before anything uses it: no KeyError, no silently broadcast scaler."""
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(wine_run, copy)
    craft_checkpoint(copy, edit)
    with pytest.raises(CheckpointError) as refused:
        load_run(copy).build_model("cpu")
    assert key in str(refused.value) and str(copy) in str(refused.value)


def test_a_regression_checkpoint_with_classes_is_refused(cli, tmp_path):
    run_dir = Path(cli.train_json(ROOT / "configs" / "linear_regression.yaml", "train.epochs=2")["run_dir"])
    craft_checkpoint(run_dir, lambda p: p["preprocessing"].update(classes=[0, 1]))
    with pytest.raises(CheckpointError, match="preprocessing.classes"):
        load_run(run_dir)
