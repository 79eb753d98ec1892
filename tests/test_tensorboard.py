import importlib.util

import pytest

from conftest import ROOT


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is not None, reason="tensorboard is installed here")
def test_tensorboard_without_the_package_is_a_clear_usage_error(cli):
    result = cli("train", ROOT / "configs" / "linear_regression.yaml", "--tensorboard", "--out", cli.out, code=2)
    assert result.stderr.startswith("error: --tensorboard: the tensorboard package is not installed")
    assert "pip install 'nnlab[tensorboard]'" in result.stderr and not cli.out.exists()
