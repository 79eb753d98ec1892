"""The reproducibility receipt: what decides a run's numbers, written before training."""

import hashlib
import json
import platform
import shutil
from pathlib import Path

import pytest
import yaml

from helpers import ROOT, WINE, write_config
from nnlab.rundir.receipt import config_hash


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


def test_a_force_resume_updates_the_receipt_so_reproduce_matches(cli, tmp_path):
    config = write_config(tmp_path, "data: {source: linear, n_samples: 200}\nmodel: {kind: linear}\n"
                                    "train: {epochs: 3, batch_size: 32}\n")
    run_dir = tmp_path / "run"
    cli("train", config, "--run-dir", run_dir, "--quiet", "--no-plots")
    cli("train", "--resume", run_dir, "train.epochs=6", "--force", "--quiet", "--no-plots")
    receipt = json.loads((run_dir / "receipt.json").read_text())
    assert receipt["config"]["train"]["epochs"] == 6 and receipt["overrides"] == ["train.epochs=6"]
    assert "every number is identical" in cli("reproduce", run_dir).stdout




def test_a_disk_that_refuses_the_receipt_is_exit_4_not_a_crash(cli, monkeypatch):
    import errno
    import os

    import nnlab.rundir.safefile

    real = nnlab.rundir.safefile.write_atomic

    def full_for_receipts(path, data):
        if Path(path).name == "receipt.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, data)

    monkeypatch.setattr(nnlab.rundir.safefile, "write_atomic", full_for_receipts)
    result = cli("train", ROOT / "configs" / "linear_regression.yaml", "train.epochs=2", "--out", cli.out, code=4)
    assert "cannot save: No space left on device" in result.stderr and result.stderr.count("\n") == 1


def test_a_stack_packs_into_columns_and_unpacks_to_its_members():
    from nnlab.rundir.receipt import pack_stack, unpack_stack

    members = [{"seed": s, "optimizer": {"lr": lr, "momentum": 0.1}, "fold": s % 2} for s, lr in
               ((0, 0.1), (1, 0.1), (2, 0.5))]
    record = pack_stack(members, 2, {"rungs": [10]})
    assert record == {"index": 2, "size": 3, "seed": [0, 1, 2], "fold": [0, 1, 0], "optimizer": {"lr": [0.1, 0.1, 0.5]},
                      "halving": {"rungs": [10]}}
    index, back, halving = unpack_stack(json.loads(json.dumps(record)))
    assert (index, halving) == (2, {"rungs": [10]})
    assert back == [{**m, "optimizer": {"lr": m["optimizer"]["lr"]}} for m in members]  # momentum: the config's
    with pytest.raises(ValueError):
        unpack_stack({**record, "seed": [0, 1]})
