import importlib.util

import pytest

from helpers import ROOT


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is not None, reason="tensorboard is installed here")
def test_tensorboard_without_the_package_is_a_clear_usage_error(cli):
    result = cli("train", ROOT / "configs" / "linear_regression.yaml", "--tensorboard", "--out", cli.out, code=2)
    assert result.stderr.startswith("error: --tensorboard: the tensorboard package is not installed")
    assert "pip install 'nnlab[tensorboard]'" in result.stderr and not cli.out.exists()


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="needs the tensorboard package")
def test_tensorboard_writes_scalars_per_logged_epoch(cli):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    summary = cli.train_json(ROOT / "configs" / "linear_regression.yaml", "train.epochs=3", "--tensorboard")
    events = EventAccumulator(summary["run_dir"] + "/tensorboard")
    events.Reload()
    assert set(events.Tags()["scalars"]) == {"train/loss", "test/loss", "test/r2"}
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3]
