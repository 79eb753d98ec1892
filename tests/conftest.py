import json
import random
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
WINE = ROOT / "data" / "wine.csv"


@pytest.fixture(autouse=True)
def seed():
    """Every test starts from the same RNG state."""
    import torch

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    return 0


class Cli:
    """Runs nnlab in-process, like a shell would, and keeps stdout and stderr apart.

    `train` gets --no-plots unless a test sets `cli.plots = True` (PNGs cost ~1 s a run; tests/test_plots.py
    covers them).
    """

    def __init__(self, out: Path):
        from nnlab.cli import app

        self.app, self.out, self.runner, self.plots = app, out, CliRunner(), False

    def __call__(self, *args, code: int = 0):
        args = [str(a) for a in args]
        if args[:1] == ["train"] and not self.plots and "--plots" not in args:
            args.append("--no-plots")
        result = self.runner.invoke(self.app, args)
        assert code is None or result.exit_code == code, (result.exit_code, result.stdout, result.stderr,
                                                          result.exception)
        if code != 0:
            assert "Traceback" not in result.stderr + result.stdout
        return result

    def train_json(self, config, *overrides) -> dict:
        result = self(*["train", config, *overrides, "--out", self.out, "--json"])
        return json.loads(result.stdout)


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path / "runs")


def write_config(folder: Path, text: str, name: str = "config.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def _warm_up():
    import nnlab.sweep  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import torch  # noqa: F401


@pytest.fixture(scope="session")
def client():
    """A Dask LocalCluster of 2 worker processes (what `--workers 2` starts), shared by the cluster tests."""
    pytest.importorskip("distributed", reason="needs the cluster extra: pip install -e '.[test,cluster]'")
    from nnlab.distributed import open_client

    with open_client(workers=2) as client:
        client.run(_warm_up)  # both workers import torch and scikit-learn now, in parallel
        yield client
