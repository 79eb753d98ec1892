"""Fixtures every test can use: a fixed RNG state, the CLI runner, a model kind with a wrong backward, a Dask cluster."""

import random
from typing import Literal

import numpy as np
import pytest
import torch

from helpers import Cli
from nnlab.models.base import REGISTRY, ModelSpec, register


def pytest_collection_modifyitems(items):
    """A test that starts a Dask cluster is slow too: `-m "not slow"` is the quick loop."""
    for item in items:
        if item.get_closest_marker("cluster"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def seed():
    """Every test starts from the same RNG state."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    return 0


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path / "runs")


class _WrongWeightGradient(torch.autograd.Function):
    """y = x·Wᵀ + b, whose backward returns twice the weight's true gradient."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return x @ weight.T + bias

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        return grad @ weight, 2 * grad.T @ x, grad.sum(0)


class _BrokenLinear(torch.nn.Linear):
    def forward(self, x):
        return _WrongWeightGradient.apply(x, self.weight, self.bias)


@pytest.fixture
def broken_kind():
    """A model kind registered for one test and removed afterwards."""

    @register
    class BrokenSpec(ModelSpec):
        kind: Literal["broken"] = "broken"

        def build(self, n_features: int, n_outputs: int):
            return _BrokenLinear(n_features, n_outputs)

    yield BrokenSpec
    del REGISTRY["broken"]


def _warm_up():
    import sklearn.metrics  # noqa: F401
    import torch  # noqa: F401

    import nnlab.sweep  # noqa: F401


@pytest.fixture(scope="session")
def client():
    """A Dask LocalCluster of 2 worker processes (what `--workers 2` starts), shared by the cluster tests."""
    pytest.importorskip("distributed", reason="needs the cluster extra: pip install -e '.[test,cluster]'")
    from nnlab.sweep.dask_client import open_client

    with open_client(workers=2) as client:
        client.run(_warm_up)  # both workers import torch and scikit-learn now, in parallel
        yield client
