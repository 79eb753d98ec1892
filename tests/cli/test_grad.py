"""nnlab grad and nnlab inspect through the CLI: output, --json, exit codes, hostile input, startup cost."""

import json
import math
import subprocess
import sys

import pytest

from helpers import CONFIGS, ROOT, graph_node


def test_grad_prints_the_notebook_numbers(cli):
    out = cli("grad", "2*x**3 + 3*y**2 + c", "x=2", "y=3", "c=1").stdout
    assert "value  44\n" in out
    for line in ("∂f/∂x  24", "∂f/∂y  18", "∂f/∂c  1"):
        assert line in out


def test_grad_json_is_exactly_the_documented_object(cli):
    result = cli("grad", "2*x**3 + 3*y**2 + c", "x=2", "y=3", "c=1", "--json")
    assert result.stdout == '{"value": 44.0, "gradient": {"x": 24.0, "y": 18.0, "c": 1.0}}\n'
    with_hessian = json.loads(cli("grad", "2*x**3 + 3*y**2 + c", "x=2", "y=3", "c=1", "--json", "--hessian",
                                  "--wrt", "y,x").stdout)
    assert with_hessian == {"value": 44.0, "gradient": {"y": 18.0, "x": 24.0}, "hessian": [[6.0, 0.0], [0.0, 24.0]]}


def test_grad_vectors_orders_and_graph(cli):
    out = json.loads(cli("grad", "sum(m**2)", "m=linspace(-10,10,100)", "--json").stdout)
    assert len(out["gradient"]["m"]) == 100 and out["gradient"]["m"][0] == -20 and out["gradient"]["m"][-1] == 20
    out = json.loads(cli("grad", "sum(z**3)", "z=[1,2,3]", "--order", "2", "--json", "--graph").stdout)
    assert out["derivatives"]["orders"]["2"] == [6.0, 12.0, 18.0]
    assert out["graph"] == graph_node("SumBackward0", [graph_node("PowBackward0", [graph_node("AccumulateGrad",
                                                                                            leaf="z")])])
    text = cli("grad", "sum(z**3)", "z=[1,2,3]", "--order", "2", "--graph", "--hessian").stdout
    assert "order  2  [6, 12, 18]" in text and "└── PowBackward0" in text and "AccumulateGrad  z" in text
    assert "z[0]" in text  # hessian labels for vector elements


def test_grad_expression_starting_with_minus_goes_after_double_dash(cli):
    assert json.loads(cli("grad", "--json", "--", "-x**2", "x=3").stdout)["gradient"] == {"x": -6.0}


@pytest.mark.parametrize("args, fragment", [
    (["__import__('os').system('touch marker')"], "attribute access (.system)"),
    (["open('marker', 'w')"], "unknown function 'open'"),
    (["x + y", "x=1"], "no value for y"),
    (["x", "x=1", "--wrt", "q"], "no variable 'q'"),
    (["x", "exp=1"], "'exp' is a function name"),
    (["x", "x"], "expected VAR=VALUE"),
    (["x", "x=linspace(0,1,1000000000)"], "linspace() steps"),
    (["x**9**9**9", "x=2"], "exponent"),
    (["m", "m=[1,2]"], "wrap it in sum"),
])
def test_grad_refusals_exit_2_and_run_nothing(cli, tmp_path, monkeypatch, args, fragment):
    monkeypatch.chdir(tmp_path)
    result = cli("grad", *args, code=2)
    assert fragment in result.stderr and result.stdout == ""
    assert not (tmp_path / "marker").exists()


def test_the_deepest_expression_allowed_goes_through_every_step(cli):
    from nnlab.autograd.expr import MAX_DEPTH

    n = MAX_DEPTH - 1
    text = "sum(" + "+".join(["m"] * (n - 1)) + "+sin(m))"  # the deepest allowed: one more m is refused
    assert "nested too deeply" in cli("grad", text.replace("sum(", "sum(m+"), "m=1", code=2).stderr
    out = json.loads(cli("grad", text, "m=[0.5, 1]", "--graph", "--hessian", "--order", "2", "--json").stdout)
    assert out["gradient"]["m"] == pytest.approx([n - 1 + math.cos(v) for v in (0.5, 1)], rel=1e-12)
    assert out["derivatives"]["orders"]["2"] == pytest.approx([-math.sin(v) for v in (0.5, 1)], rel=1e-12)
    assert "repeated" in json.dumps(out["graph"])  # the chain of AddBackward0 collapsed
    assert "AddBackward0" in cli("grad", text, "m=[0.5, 1]", "--graph").stdout


def test_grad_error_points_at_the_column(cli):
    lines = cli("grad", "x + y.__class__", "x=1", "y=2", code=2).stderr.splitlines()
    assert lines[1:] == ["error: x + y.__class__", "error:      ^"]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_inspect_passes_the_gradient_check_on_every_bundled_config(cli, config):
    out = json.loads(cli("inspect", config, "--json", "--entries", "8").stdout)
    assert out["gradcheck"]["passed"] and out["total_parameters"] == sum(r["parameters"] for r in out["layers"])
    assert out["graph"]["name"].endswith("Backward0")


def test_inspect_report_shows_table_graph_check_and_accumulation(cli):
    out = cli("inspect", ROOT / "configs" / "wine_mlp.yaml", "--accumulate", "3").stdout
    for text in ("output shape", "(142, 5)", "(142, 3)", "148", "NllLossBackward0", "AccumulateGrad  0.weight",
                 "repeated 2 more times", "gradient check: autograd vs central differences", "pass",
                 "gradient accumulation: ‖0.weight.grad‖", "backward() × 3", "grad.zero_()", "gradient check passed"):
        assert text in out, text


def test_inspect_exits_6_when_the_gradient_check_fails(cli, monkeypatch, broken_kind):
    import nnlab.config

    real = nnlab.config.load_config
    monkeypatch.setattr(nnlab.config, "load_config",  # the schema knows only the kinds present at import
                        lambda *a, **k: real(*a, **k).model_copy(update={"model": broken_kind()}))
    result = cli("inspect", ROOT / "configs" / "linear_regression.yaml", code=6)
    assert "FAIL" in result.stdout and "gradient check FAILED: weight" in result.stdout
    assert "gradient check failed for weight (5.00e-01)" in result.stderr


def test_inspect_bad_arguments_exit_2(cli):
    assert "no parameter" in cli("inspect", ROOT / "configs" / "wine_mlp.yaml", "--accumulate", "2",
                                 "--param", "nope", code=2).stderr
    assert "--accumulate" in cli("inspect", ROOT / "configs" / "wine_mlp.yaml", "--accumulate", "0", code=2).stderr


@pytest.mark.slow
def test_help_and_refused_expressions_do_not_import_torch():
    code = ("import sys; from typer.testing import CliRunner; from nnlab.cli import app; r = CliRunner(); "
            "assert r.invoke(app, ['grad', '--help']).exit_code == 0; "
            "assert r.invoke(app, ['inspect', '--help']).exit_code == 0; "
            "assert r.invoke(app, ['grad', \"__import__('os')\", 'x=1']).exit_code == 2; "
            "print([m for m in ('torch', 'sklearn', 'matplotlib') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.strip() == "[]", result.stderr
