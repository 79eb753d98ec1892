"""Sampled search: --param distributions, random points from a seed, TPE asked and told in batches."""

import math
import statistics

import numpy as np
import pytest

from helpers import ROOT
from nnlab.errors import UsageError
from nnlab.sweep.search import Objective, Param, check_params, objectives, parse_params, random_points, run_search

WINE_CFG = ROOT / "configs" / "wine_mlp.yaml"


def test_params_parse_every_distribution_and_keep_lists_whole():
    params = parse_params(["optimizer.lr=loguniform(1e-4, 1)", "optimizer.momentum=uniform(0,0.9)",
                           "train.batch_size=int(8,64)", "model.hidden=choice([8],[16,16])"])
    assert [(p.key, p.kind) for p in params] == [("optimizer.lr", "loguniform"), ("optimizer.momentum", "uniform"),
                                                ("train.batch_size", "int"), ("model.hidden", "choice")]
    assert params[3].choices == ("[8]", "[16,16]") and (params[0].low, params[0].high) == (1e-4, 1.0)
    assert params[0].describe() == "loguniform(0.0001, 1)"


@pytest.mark.parametrize("item, fragment", [
    ("optimizer.lr", "expected KEY=DIST"),
    ("optimizer.lr=normal(0,1)", "DIST one of loguniform(a,b)"),
    ("optimizer.lr=loguniform(0,1)", "needs 0 < a < b"),
    ("optimizer.lr=uniform(1,1)", "finite numbers a < b"),
    ("optimizer.lr=uniform(a,b)", "needs two numbers"),
    ("train.batch_size=int(1.5,4)", "whole numbers"),
    ("model.hidden=choice()", "one or more values"),
])
def test_bad_params_say_what_a_dist_looks_like(item, fragment):
    with pytest.raises(UsageError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        parse_params([item])


def test_the_ends_of_each_distribution_must_make_a_valid_config():
    with pytest.raises(UsageError, match=r"--param optimizer.momentum: the value 1.5 is not allowed"):
        check_params(WINE_CFG, [], parse_params(["optimizer.momentum=uniform(0,1.5)"]))
    check_params(WINE_CFG, [], parse_params(["optimizer.momentum=uniform(0,0.99)"]))


def test_random_points_are_the_same_for_the_same_seed_and_stay_in_range():
    params = parse_params(["optimizer.lr=loguniform(1e-4,1)", "train.batch_size=int(8,16)", "model.hidden=choice(a,b)"])
    points = random_points(params, 50, seed=3)
    assert points == random_points(params, 50, seed=3) != random_points(params, 50, seed=4)
    lrs = [float(p["optimizer.lr"]) for p in points]
    assert all(1e-4 <= lr <= 1 for lr in lrs) and all(len(p["optimizer.lr"].replace("e-0", "e-")) <= 10 for p in points)
    assert {p["train.batch_size"] for p in points} <= {str(i) for i in range(8, 17)}
    assert {p["model.hidden"] for p in points} == {"a", "b"}
    assert statistics.median(math.log10(lr) for lr in lrs) == pytest.approx(-2, abs=0.6)  # log-uniform


def test_a_value_rounded_to_four_digits_stays_inside_its_range():
    p = Param("k", "uniform", 0.123456, 0.2)
    assert float(p.text(0.1234561)) >= 0.123456 and p.text(0.15) == "0.15"


def branin(x: float, y: float) -> float:
    """The Branin function (minimum 0.397887 at three points), a standard 2-parameter search benchmark."""
    a, b, c, r, s, t = 1, 5.1 / (4 * math.pi ** 2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return a * (y - b * x ** 2 + c * x - r) ** 2 + s * (1 - t) * math.cos(x) + s


def best_of(strategy: str, seed: int, trials: int = 64, batch: int = 8) -> float:
    params = parse_params(["x=uniform(-5,10)", "y=uniform(0,15)"])
    seen = []

    def train_points(points, first):
        values = [-branin(float(p["x"]), float(p["y"])) for p in points]
        seen.extend(values)
        return [Objective(v) for v in values]

    run_search(strategy, params, trials, batch, seed, train_points)
    assert len(seen) == trials
    return -max(seen)


def test_tpe_in_batches_of_8_beats_random_on_a_2_parameter_problem_over_5_search_seeds():
    """The quality bar on an analytic problem (the training version is in tests/benchmarks/bench_search.py)."""
    pytest.importorskip("optuna", reason="needs the search extra: pip install -e '.[search]'")
    tpe = [best_of("tpe", seed) for seed in range(5)]
    rand = [best_of("random", seed) for seed in range(5)]
    assert np.mean(tpe) <= np.mean(rand), (tpe, rand)  # lower is better: Branin's minimum is 0.398
    assert best_of("tpe", 7, trials=16) == best_of("tpe", 7, trials=16)  # same seed, same points


def test_tpe_without_optuna_is_a_usage_error_with_the_install_line(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_optuna(name, *args, **kwargs):
        if name == "optuna":
            raise ImportError("No module named 'optuna'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_optuna)
    with pytest.raises(UsageError, match=r'--search tpe: needs Optuna, which is not installed; install it with: '
                                         r'pip install "nnlab\[search\]"'):
        run_search("tpe", parse_params(["x=uniform(0,1)"]), 4, 2, 0, lambda points, first: [])


def test_objectives_average_the_seeds_make_divergence_worst_and_report_pruned_points():
    from types import SimpleNamespace as NS

    trials = [NS(point=p) for p in (0, 0, 1, 1, 2)]
    done = lambda acc: NS(status="finished", stopped_at=None, metrics={"test": {"accuracy": acc}})  # noqa: E731
    results = [done(0.8), done(1.0), NS(status="diverged", stopped_at=None, metrics={}), done(0.6),
               NS(status="pruned", stopped_at=30, metrics={}, rungs=[{"epoch": 30, "score": 0.5, "loss": 1.0}])]
    got = objectives(trials, results, "test", "classification")
    assert got == [Objective(0.9), Objective(-math.inf), Objective(0.5, pruned_at=30)]


# ---------------------------------------------------------------- through `nnlab sweep --search`


def sweep_json(cli, *args):
    import json

    return json.loads(cli("sweep", WINE_CFG, "train.epochs=20", "--seeds", "2", "--out", cli.out, "--json",
                          "--no-plots", *args).stdout)


def test_random_search_trains_its_points_stacked_and_the_same_seed_gives_the_same_points(cli):
    args = ["--search", "random", "--trials", "5", "--param", "optimizer.lr=loguniform(1e-3,1)",
            "--param", "optimizer.momentum=uniform(0,0.9)", "--search-seed", "4"]
    first, again = sweep_json(cli, *args), sweep_json(cli, *args)
    assert first["runs"] == 10 and [p["path"] for p in first["paths"]] == ["vectorized"]
    assert sorted(map(str, (p["overrides"] for p in first["points"]))) == \
        sorted(map(str, (p["overrides"] for p in again["points"])))
    assert first["search"] == {"strategy": "random", "trials": 5, "seed": 4, "batch": 5,
                               "params": {"optimizer.lr": "loguniform(0.001, 1)",
                                          "optimizer.momentum": "uniform(0, 0.9)"}}
    assert {p["overrides"]["optimizer.lr"] for p in first["points"]} == \
        {float(v["optimizer.lr"]) for v in random_points(parse_params([args[5], args[7]]), 5, 4)}  # stored as numbers


def test_tpe_asks_in_batches_that_train_stacked_and_works_with_halving(cli):
    pytest.importorskip("optuna", reason="needs the search extra: pip install -e '.[search]'")
    result = cli("sweep", WINE_CFG, "train.epochs=30", "--seeds", "2", "--out", cli.out, "--no-plots",
                 "--search", "tpe", "--trials", "6", "--batch", "3", "--param", "optimizer.lr=loguniform(1e-3,1)",
                 "--halving")
    assert result.stderr.count("in 1 group(s); halving at epochs 10") == 2  # two batches of three points
    assert "tpe: points 4-6 of 6" in result.stderr and "successive halving" in result.stdout
    summary = sweep_json(cli, "--search", "tpe", "--trials", "6", "--batch", "3",
                         "--param", "optimizer.lr=loguniform(1e-3,1)")
    assert summary["runs"] == 12 and len(summary["paths"]) == 2 and summary["search"]["batch"] == 3


@pytest.mark.parametrize("args, fragment", [
    (["--trials", "4"], "--trials needs --search random or --search tpe"),
    (["--search", "grid", "--param", "x=uniform(0,1)"], "--search: 'grid' is not a search"),
    (["--search", "random"], "--search needs one or more --param"),
    (["--search", "random", "--param", "optimizer.lr=uniform(0,1)", "--grid", "optimizer.momentum=0,0.5"],
     "--grid and --search: pick one"),
    (["--search", "random", "--param", "optimizer.lr=uniform(0.1,1)", "--trials", "0"], "--trials and --batch"),
    (["--search", "random", "--param", "optimizer.momentum=uniform(0,2)"], "optimizer.momentum: the value 2.0"),
    (["--halving"], "--halving needs two or more points"),
])
def test_search_options_that_cannot_work_exit_2_with_one_line(cli, args, fragment):
    result = cli("sweep", WINE_CFG, "--out", cli.out, *args, code=2)
    assert fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.cluster
def test_a_search_with_halving_on_the_cluster_matches_in_process(cli, client):
    pytest.importorskip("optuna", reason="needs the search extra: pip install -e '.[search]'")
    args = ["--search", "tpe", "--trials", "6", "--batch", "3", "--param", "optimizer.lr=loguniform(1e-3,1)",
            "--halving", "device=cpu"]
    here = sweep_json(cli, *args)
    there = sweep_json(cli, *args, "--scheduler", client.scheduler.address)
    assert [p["overrides"] for p in here["points"]] == [p["overrides"] for p in there["points"]]
    assert [p["metrics"] for p in here["points"]] == [p["metrics"] for p in there["points"]]
    assert here["halving"] == there["halving"] and len(there["cluster"]) == 2  # a plan per batch
