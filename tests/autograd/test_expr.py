"""The expression language: whitelisted syntax evaluates like torch; everything else is a ConfigError."""

import builtins

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlab.autograd.expr import (
    MAX_CHARS,
    MAX_DEPTH,
    MAX_ELEMENTS,
    MAX_EXPONENT,
    check_variables,
    evaluate,
    parse,
    parse_assignments,
)
from nnlab.errors import ConfigError


def value(text: str, **env):
    return evaluate(parse(text), {k: torch.as_tensor(v, dtype=torch.float64) for k, v in env.items()})


def refused(text: str, *fragments: str) -> str:
    with pytest.raises(ConfigError) as e:
        parse(text)
    message = str(e.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def test_operators_and_functions_match_torch():
    x = torch.tensor(0.7, dtype=torch.float64)
    assert value("2*x**3 + 3*x - x/4 + -x", x=0.7) == 2 * x ** 3 + 3 * x - x / 4 - x
    for name in ("exp", "log", "sin", "cos", "tanh", "sigmoid", "relu", "sqrt", "abs"):
        assert value(f"{name}(x)", x=0.7) == getattr(torch, name)(x), name
    m = torch.linspace(-10, 10, 100, dtype=torch.float64)
    assert torch.equal(value("linspace(-10, 10, 100)"), m)
    assert value("sum(m**2)", m=m) == (m ** 2).sum() and value("mean([1, 2, 6])") == 3
    assert value("2**-1") == 0.5 and value("(1 + 2) * 3") == 9
    t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    folded_like_torch = {"1/0": t(1.0) / 0, "-1/0": -t(1.0) / 0, "0/0": t(0.0) / 0, "0**-1": t(0.0) ** -1,
                         "(-8)**(1/3)": t(-8.0) ** (1 / 3), "2**1000*2**1000": t(2.0) ** 1000 * t(2.0) ** 1000}
    for text, expected in folded_like_torch.items():  # constant parts are folded in python floats
        assert torch.equal(value(text), expected) or value(text).isnan() and expected.isnan(), text


def test_variables_are_listed_in_order_of_appearance_without_function_names():
    assert parse("exp(y) * x + y").variables == ("y", "x")


def test_caret_points_at_the_offending_part():
    message = refused("x + y.__class__", "attribute access (.__class__) is not allowed", "column 6")
    lines = message.splitlines()
    assert lines[1] == "x + y.__class__" and lines[2] == "     ^"
    assert refused("x ^ 2", "use ** for powers").splitlines()[2] == "  ^"


@pytest.mark.parametrize("text, fragment", [
    ("__import__('os')", "unknown function '__import__'"),
    ("__import__('os').system('touch pwned')", "attribute access (.system)"),
    ("open('pwned', 'w')", "unknown function 'open'"),
    ("x.__class__", "attribute access"),
    ("().__class__.__bases__[0].__subclasses__()", "attribute access"),
    ("(lambda: 1)()", "a lambda is not allowed"),
    ("lambda x: x", "a lambda is not allowed"),
    ("[i for i in m]", "a comprehension is not allowed"),
    ("sum(i for i in m)", "a generator expression is not allowed"),
    ("m[0]", "indexing is not allowed"),
    ("exp(x=1)", "keyword arguments are not allowed"),
    ("exp(*m)", "a starred argument is not allowed"),
    ("'abc'", "strings are not allowed"),
    ("f'{x}'", "an f-string is not allowed"),
    ("x if x else 1", "if/else is not allowed"),
    ("x == 1", "a comparison is not allowed"),
    ("x and y", "and/or is not allowed"),
    ("(x := 1)", ":= is not allowed"),
    ("x, y", "a tuple"),
    ("{1: 2}", "a dict is not allowed"),
    ("x // 2", "operator // is not allowed"),
    ("not x", "operator not is not allowed"),
    ("True + x", "bool values are not allowed"),
    ("1j * x", "complex values are not allowed"),
    ("exp", "'exp' is a function"),
    ("foo(x)", "unknown function 'foo'"),
    ("eval('1')", "unknown function 'eval'"),
    ("(1)(2)", "only these functions can be called"),
    ("exp(x, y)", "exp() takes 1 argument, got 2"),
    ("9**9**9", f"constant exponents must be within ±{MAX_EXPONENT}"),
    ("x**1e10", "exponent 1e+10 is too large"),
    ("x**-(10**4)", "too large"),
    ("1e999", "number too large"),
    ("linspace(0, 1, 10**9)", f"from 1 to {MAX_ELEMENTS:,}"),
    ("linspace(0, 1, 2.5)", "whole number"),
    ("linspace(0, x, 5)", "linspace() arguments must be finite numbers"),
    ("[x, 1]", "list elements must be finite numbers"),
    ("[[1], [2]]", "list elements must be finite numbers"),
    ("sum(m", "not a valid expression"),
    ("", "empty"),
    ("x\n+ 1", "one line"),
    ("x + \x00", ""),
])
def test_hostile_and_unsupported_input_is_refused(text, fragment):
    refused(text, fragment)


@pytest.mark.parametrize("text", [
    "-" * 900 + "x",  # unary chain: 900 levels
    "x" + "**x" * 300,
    "+".join(["x"] * 400),  # a chain nests one level per operator
    "sin(-" * 150 + "x" + ")" * 150,
])
def test_deep_nesting_is_refused_before_anything_recurses(text):
    assert len(text) <= MAX_CHARS
    refused(text, f"nested too deeply (the limit is {MAX_DEPTH} levels)")


def test_parentheses_make_no_nesting():
    assert value("(" * 199 + "x" + ")" * 199, x=2) == 2  # ast.parse's own limit is 200


def test_long_and_pathological_text_is_refused():
    refused("x+" * 600 + "x", f"the limit is {MAX_CHARS:,}")
    refused("1" * 5000, "characters")
    refused("(" * 300 + ")" * 300, "")  # ast.parse's 'too many nested parentheses'


def test_parsing_and_evaluating_never_call_eval_or_exec(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    assert value("2*x**3 + 3*y**2 + c", x=2, y=3, c=1) == 44


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="xm()[]+-*/.,_ 0123456789eaplsumnij'=:", max_size=40))
def test_any_text_parses_or_is_a_config_error(text):
    try:
        parse(text)
    except ConfigError:
        pass


def test_assignments():
    values = parse_assignments(["x=2", "m=[1, 2, 3]", "n=linspace(-1,1,5)", "k=2**-1"])
    assert list(values) == ["x", "m", "n", "k"]
    assert evaluate(values["m"], {}).tolist() == [1, 2, 3] and evaluate(values["k"], {}) == 0.5
    for item, fragment in [("x", "expected VAR=VALUE"), ("exp=1", "is a function name"), ("1x=2", "not a variable"),
                           ("lambda=1", "keyword"), ("x=y", "not other variables"), ("x=", "empty"),
                           ("x=__import__('os')", "unknown function '__import__'")]:
        with pytest.raises(ConfigError) as e:
            parse_assignments([item])
        assert fragment in str(e.value), (item, str(e.value))
    with pytest.raises(ConfigError, match="given twice"):
        parse_assignments(["x=1", "x=2"])
    with pytest.raises(ConfigError) as e:
        parse_assignments(["m=[1,2"])
    assert e.value.args[0].splitlines()[1:] == ["m=[1,2", "  ^"]  # caret under the argument as typed


def test_missing_variables_are_named_with_the_fix():
    with pytest.raises(ConfigError) as e:
        check_variables(parse("x + yy + z"), parse_assignments(["x=1", "y=2"]))
    assert "no value for yy, z (did you mean 'y'?); add yy=VALUE z=VALUE" in str(e.value)


def test_shape_mismatch_points_at_the_operator():
    with pytest.raises(ConfigError) as e:
        value("m + [1, 2, 3]", m=[1.0, 2.0])
    assert "cannot apply +: 2 values + 3 values" in str(e.value) and str(e.value).splitlines()[2] == "  ^"


def test_depth_limit_allows_ordinary_expressions():
    text = "+".join(["sin(x)"] * 20) + "*" + "(" * (MAX_DEPTH // 2) + "x" + ")" * (MAX_DEPTH // 2)
    assert value(text, x=0.0) == 0


def test_a_fullwidth_variable_name_is_the_name_python_reads(cli):
    """Python reads identifiers in NFKC form: `ｘ` in an expression is x, and so is `ｘ=3`."""
    import json

    for expression, value in (("ｘ**2", "ｘ=3"), ("ｘ**2", "x=3"), ("x**2", "ｘ=3")):
        assert json.loads(cli("grad", expression, value, "--json").stdout)["gradient"] == {"x": 6.0}
    assert "x is given twice" in cli("grad", "x**2", "ｘ=3", "x=2", code=2).stderr
