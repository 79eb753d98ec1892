"""Derivatives of expressions: the notebooks' numbers exactly, and closed forms / finite differences elsewhere."""

import math

import pytest
import torch

from nnlab.autograd.derivatives import MAX_HESSIAN, MAX_ORDER, bind, differentiate
from nnlab.autograd.expr import parse, parse_assignments
from nnlab.errors import ConfigError


def derive(text: str, *assignments: str, wrt=None, **options):
    return differentiate(bind(parse(text), parse_assignments(list(assignments)), wrt), **options)


def test_notebook_numbers_exactly():
    d = derive("2*x**3 + 3*y**2 + c", "x=2", "y=3", "c=1")
    assert d.value == 44 and d.gradient == {"x": 24, "y": 18, "c": 1}
    assert d.to_dict() == {"value": 44.0, "gradient": {"x": 24.0, "y": 18.0, "c": 1.0}}


def test_sum_of_squares_has_gradient_2m():
    m = torch.linspace(-10, 10, 100, dtype=torch.float64)
    d = derive("sum(m**2)", "m=linspace(-10,10,100)")
    assert d.gradient["m"] == (2 * m).tolist() and d.value == (m ** 2).sum().item()
    assert derive("sum(m**2)", "m=[1,2,3]").gradient == {"m": [2, 4, 6]}
    assert derive("mean(m**2)", "m=[1,2,3]").gradient["m"] == pytest.approx([2 / 3, 4 / 3, 2])


def test_second_derivative_of_sum_of_cubes_is_6z():
    z = [-1.5, 0.0, 2.0, 3.0]
    d = derive("sum(z**3)", f"z={z}", order=3)
    assert d.orders == [[3 * v * v for v in z], [6 * v for v in z], [6.0] * 4]
    assert d.to_dict()["derivatives"] == {"variable": "z", "orders": {"1": d.orders[0], "2": d.orders[1],
                                                                      "3": d.orders[2]}}


def test_higher_orders_of_sin_cycle():
    d = derive("sin(x)", "x=0.3", order=5)
    expected = [math.cos(0.3), -math.sin(0.3), -math.cos(0.3), math.sin(0.3), math.cos(0.3)]
    assert d.orders == pytest.approx(expected, rel=1e-15)


def test_wrt_treats_the_others_as_constants():
    d = derive("2*x**3 + 3*y**2 + c", "x=2", "y=3", "c=1", wrt=["y"])
    assert d.gradient == {"y": 18}
    assert derive("x*y", "x=1", "y=2", "c=5").gradient == {"x": 2, "y": 1, "c": 0}  # c unused: zero


def test_hessian_matches_torch_functional_hessian_in_the_order_given():
    d = derive("x**2*y + exp(x*y) + sum(m**3)*x", "y=0.5", "x=1.5", "m=[1,2]", hessian=True)
    def f(y, x, m):
        return x ** 2 * y + torch.exp(x * y) + (m ** 3).sum() * x
    inputs = (torch.tensor(0.5, dtype=torch.float64), torch.tensor(1.5, dtype=torch.float64),
              torch.tensor([1.0, 2.0], dtype=torch.float64))
    blocks = torch.autograd.functional.hessian(f, inputs)
    flat = _assemble(blocks, inputs)
    assert torch.allclose(torch.tensor(d.hessian, dtype=torch.float64), flat, rtol=1e-14, atol=0)
    assert len(d.hessian) == 4  # y, x, m[0], m[1]


def _assemble(blocks, inputs):
    sizes = [a.numel() for a in inputs]
    rows = []
    for i, row in enumerate(blocks):
        rows.append(torch.cat([b.reshape(sizes[i], sizes[j]) for j, b in enumerate(row)], 1))
    return torch.cat(rows)


def test_gradient_matches_central_differences():
    text = "tanh(x*y) + log(x) * sigmoid(y) - sqrt(abs(y)) / x + relu(x - y)"
    x, y, h = 1.3, -0.7, 1e-6
    d = derive(text, f"x={x}", f"y={y}")
    def f(a, b):
        return derive(text, f"x={a}", f"y={b}").value
    assert d.gradient["x"] == pytest.approx((f(x + h, y) - f(x - h, y)) / (2 * h), rel=1e-7)
    assert d.gradient["y"] == pytest.approx((f(x, y + h) - f(x, y - h)) / (2 * h), rel=1e-7)


def test_refusals():
    with pytest.raises(ConfigError, match="wrap it in sum"):
        derive("m**2", "m=[1,2]")
    with pytest.raises(ConfigError, match="no variable 'z'"):
        derive("x", "x=1", wrt=["z"])
    with pytest.raises(ConfigError, match="single variable"):
        derive("x*y", "x=1", "y=2", order=2)
    with pytest.raises(ConfigError, match=f"use 1 to {MAX_ORDER}"):
        derive("x", "x=1", order=MAX_ORDER + 1)
    with pytest.raises(ConfigError, match=f"limited to {MAX_HESSIAN}"):
        derive("sum(m)", f"m=linspace(0,1,{MAX_HESSIAN + 1})", hessian=True)


def test_non_finite_values_become_null_in_json():
    d = derive("sqrt(x) + log(y)", "x=-1", "y=0")
    assert math.isnan(d.value) and d.to_dict()["value"] is None and d.to_dict()["gradient"]["y"] is None


def test_constant_expression_has_zero_gradient():
    d = derive("2 + 3", "x=1", hessian=True, order=2, wrt=["x"])
    assert d.value == 5 and d.gradient == {"x": 0} and d.hessian == [[0]] and d.orders == [0, 0]


def test_orders_stop_before_the_graph_grows_out_of_bounds(monkeypatch):
    import nnlab.autograd.derivatives as derivatives

    assert len(derive("x**5*exp(x)", "x=0.3", order=MAX_ORDER).orders) == MAX_ORDER  # slow growth: all orders
    monkeypatch.setattr(derivatives, "MAX_GRAPH_NODES", 300)  # the real limit: order 8 of this expression
    with pytest.raises(ConfigError, match=r"the derivative of order 4 already has a graph of 1,002 nodes.*use --order 4"):
        derive("tanh(tanh(tanh(x*sin(x))))/sigmoid(x)", "x=0.3", order=MAX_ORDER)


def test_memory_is_bounded_for_long_expressions_on_long_vectors():
    with pytest.raises(ConfigError, match="use shorter vectors"):
        derive("sum(" + "*".join(["m"] * 150) + ")", "m=linspace(0,1,100000)")
    with pytest.raises(ConfigError, match="use shorter vectors"):
        derive("x*sum(" + "+".join(["linspace(0,1,100000)"] * 40) + ")", "x=1")
    assert derive("sum(m**2)", "m=linspace(0,1,100000)").value > 0  # ordinary use stays allowed


def test_an_expression_without_variables_has_a_value_and_no_gradient():
    d = derive("exp(0) + 2**3", hessian=True)
    assert d.value == 9 and d.gradient == {} and d.hessian == []
    with pytest.raises(ConfigError, match="name at least one variable"):
        derive("x", "x=1", wrt=[])
