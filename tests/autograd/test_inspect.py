"""nnlab inspect's library: layer shapes, the gradient check (which must catch a wrong backward), accumulation."""

import pytest
import torch

from helpers import CONFIGS, ROOT
from nnlab.autograd import gradcheck
from nnlab.autograd.inspect import inspect_model, layer_rows
from nnlab.config import load_config
from nnlab.data import load_data
from nnlab.errors import ConfigError
from nnlab.models import REGISTRY


def _config(name: str, *overrides: str):
    cfg = load_config(ROOT / "configs" / name, list(overrides))
    return cfg, load_data(cfg)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_gradient_check_passes_on_every_bundled_config(config):
    cfg, splits = _config(config.name)
    inspection = inspect_model(cfg, splits, max_entries=16)
    assert inspection.passed
    model = cfg.model.build(splits.n_features, splits.n_outputs)
    assert [row["parameter"] for row in inspection.gradcheck] == [name for name, _ in model.named_parameters()]
    for row in inspection.gradcheck:
        assert row["checked"] == min(16, row["entries"]) and row["max_rel_error"] < gradcheck.TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("entries", [1, 64, 500, 2000])
@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_gradient_check_passes_at_every_entry_count_on_every_bundled_config(config, entries):
    """More entries checked, more gradients near zero: the float64 noise floor keeps those from failing a correct
    model (random_mlp --entries 2000 did), with a margin of 10 or more below the tolerance."""
    cfg, splits = _config(config.name)
    for batch in (1, 8):
        inspection = inspect_model(cfg, splits, batch_rows=batch, max_entries=entries)
        assert inspection.passed
        assert max(row["max_rel_error"] for row in inspection.gradcheck) < gradcheck.TOLERANCE / 10


def test_the_noise_floor_scales_with_the_loss_and_a_small_wrong_gradient_still_fails(broken_kind):
    """The floor is float64 rounding of the loss, not a fixed 1e-4: a doubled gradient is caught even on a loss
    a million times smaller."""
    cfg, splits = _config("linear_regression.yaml")
    model = cfg.model.build(splits.n_features, splits.n_outputs).double()
    X, y = (torch.from_numpy(a).double() for a in (splits.X_train[:8], splits.y_train[:8]))
    loss = torch.nn.MSELoss()
    floor = gradcheck.noise_floor(model, loss, X, y)
    assert floor == pytest.approx(gradcheck.NOISE * gradcheck.EPS * _scale(model, loss, X, y) / gradcheck.STEP)
    assert gradcheck.noise_floor(model, loss, X, y * 1e-3) < floor
    broken = broken_kind().build(splits.n_features, splits.n_outputs).double()
    rows = gradcheck.gradient_check(broken, loss, X * 1e-3, y * 1e-3)
    assert not rows[0]["passed"] and rows[0]["max_rel_error"] == pytest.approx(0.5, rel=1e-3)


def _scale(model, loss_fn, X, y) -> float:
    out = model(X).detach().requires_grad_(True)
    value = loss_fn(out, y)
    (g,) = torch.autograd.grad(value, out)
    return abs(value.item()) + (out * g).abs().sum().item()


def test_gradient_check_fails_on_a_wrong_backward(broken_kind):
    cfg, splits = _config("linear_regression.yaml")
    cfg = cfg.model_copy(update={"model": broken_kind()})
    inspection = inspect_model(cfg, splits)
    rows = {row["parameter"]: row for row in inspection.gradcheck}
    assert not inspection.passed and not rows["weight"]["passed"] and rows["bias"]["passed"]
    worst = rows["weight"]["worst"]
    assert worst["autograd"] == pytest.approx(2 * worst["numeric"], rel=1e-6)  # the doubled gradient, caught
    assert rows["weight"]["max_rel_error"] == pytest.approx(0.5, rel=1e-6)


def test_broken_kind_is_gone_after_its_test():
    assert "broken" not in REGISTRY


def test_layer_table_has_output_shapes_for_the_configured_batch_and_parameter_counts():
    cfg, splits = _config("random_mlp.yaml")
    inspection = inspect_model(cfg, splits, max_entries=1)
    assert inspection.input_shape == [16, 784]  # train.batch_size 16
    assert [(r["layer"], r["module"], r["output_shape"], r["parameters"]) for r in inspection.layers] == [
        ("0", "Linear(784, 256)", [16, 256], 784 * 256 + 256), ("1", "ReLU()", [16, 256], 0),
        ("2", "Linear(256, 10)", [16, 10], 2570)]
    assert inspection.total_parameters == 784 * 256 + 256 + 2570


def test_layer_rows_of_a_model_without_submodules():
    model = REGISTRY["polynomial"](degree=3).build(1, 1)
    assert layer_rows(model, torch.randn(7, 1)) == [
        {"layer": "(model)", "module": "Polynomial(degree=3)", "output_shape": [7, 1], "parameters": 4}]


def test_accumulation_adds_gradients_until_zeroed():
    cfg, splits = _config("wine_mlp.yaml")
    name, rows = inspect_model(cfg, splits, max_entries=1, accumulate=4, parameter="2.weight").accumulate
    first = rows[0]["grad_norm"]
    assert name == "2.weight" and first > 0
    assert [r["calls"] for r in rows] == [1, 2, 3, 4, 0, 1]
    assert [r["grad_norm"] for r in rows[:4]] == pytest.approx([first * k for k in (1, 2, 3, 4)], rel=1e-12)
    assert rows[4] == {"event": "zero_grad", "calls": 0, "grad_norm": 0.0} and rows[5]["grad_norm"] == first


def test_accumulation_refuses_an_unknown_parameter():
    cfg, splits = _config("wine_mlp.yaml")
    with pytest.raises(ConfigError, match="no parameter '2.weigth' \\(did you mean '2.weight'\\?\\)"):
        inspect_model(cfg, splits, max_entries=1, accumulate=2, parameter="2.weigth")


def test_the_configs_model_is_left_untouched():
    cfg, splits = _config("linear_regression.yaml")
    model = cfg.model.build(splits.n_features, splits.n_outputs)
    before = [p.detach().clone() for p in model.parameters()]
    X, y = torch.from_numpy(splits.X_train[:8]), torch.from_numpy(splits.y_train[:8])
    gradcheck.gradient_check(model, torch.nn.MSELoss(), X, y)
    gradcheck.accumulation(model, torch.nn.MSELoss(), X, y, 3)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(p.grad is None and p.dtype == torch.float32 for p in model.parameters())
