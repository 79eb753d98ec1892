"""Seeds and grids: parsing, grouping into stacks, aggregation, and the sweep run directory through the CLI."""

import math

import pytest

from helpers import ROOT
from nnlab.data import load_data
from nnlab.errors import UsageError
from nnlab.scoring.metrics import Outcome
from nnlab.sweep import aggregate
from nnlab.sweep.plan import expand, parse_grid, parse_seeds, plan
from nnlab.training.group import TrialResult
from nnlab.training.loop import Fit

WINE_CFG = ROOT / "configs" / "wine_mlp.yaml"


@pytest.mark.parametrize("text, seeds", [("3", [0, 1, 2]), ("4-6", [4, 5, 6]), ("1,5,7", [1, 5, 7]), (" 2 ", [0, 1])])
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["0", "a", "5-2", "1,1", "1,,2", "-3"])
def test_bad_seeds_name_the_flag(text):
    with pytest.raises(UsageError, match="--seeds"):
        parse_seeds(text)


def test_parse_grid_keeps_lists_whole_and_refuses_garbage():
    assert parse_grid(["optimizer.lr=0.01,0.1", "model.hidden=[5,5],[16]"]) == \
        [("optimizer.lr", ["0.01", "0.1"]), ("model.hidden", ["[5,5]", "[16]"])]
    for bad in (["lr"], ["optimizer.lr="], ["optimizer.lr=0.1,,0.2"], ["a.b=1", "a.b=2"]):
        with pytest.raises(UsageError, match="--grid"):
            parse_grid(bad)


def test_plan_stacks_what_can_share_a_stack():
    grid = parse_grid(["optimizer.lr=0.01,0.1", "model.hidden=[5],[6]"])
    trials = expand(WINE_CFG, ["train.epochs=2"], grid, [0, 1])
    assert len(trials) == 8 and {t.seed for t in trials} == {0, 1}
    groups = plan(trials, [load_data(t.cfg) for t in trials])
    # lr varies inside a stack (per-model tensors); hidden sizes are different architectures
    assert sorted(len(g.trials) for g in groups) == [4, 4] and {g.path for g in groups} == {"vectorized"}
    alone = plan(trials[:1], [load_data(trials[0].cfg)])
    assert alone[0].path == "sequential" and "no other run" in alone[0].reason


def test_plan_falls_back_to_sequential_when_stacked_data_would_be_too_big(monkeypatch):
    import nnlab.sweep.plan

    trials = expand(WINE_CFG, ["train.epochs=2"], [], [0, 1])
    splits = [load_data(t.cfg) for t in trials]
    assert plan(trials, splits)[0].path == "vectorized"
    monkeypatch.setattr(nnlab.sweep.plan, "MAX_STACKED_BYTES", 1000)
    group = plan(trials, splits)[0]
    assert group.path == "sequential" and "MiB stacked" in group.reason and len(group.trials) == 2


def result(accuracy, baseline=0.4, status="finished", loss=0.1):
    outcome = Outcome({"train": {"loss": loss, "accuracy": 1.0}, "test": {"accuracy": accuracy}}, {})
    return TrialResult(Fit([{"train_loss": loss}], 1, 0.0), outcome, status, 1, "cpu", baseline)


def test_failed_to_learn_definition():
    assert aggregate.failed_to_learn(result(0.44), "classification")  # majority rate 0.4 + 0.05 margin
    assert not aggregate.failed_to_learn(result(0.46), "classification")
    assert aggregate.failed_to_learn(result(1.0, status="diverged"), "classification")
    regression = TrialResult(Fit([], 1, 0.0), Outcome({"train": {"r2": 0.9}, "test": {"r2": 0.0}}, {}), "finished", 1,
                             "cpu", None)
    assert aggregate.failed_to_learn(regression, "regression")


def test_summarize_gives_mean_std_min_max_best_first():
    class T:
        def __init__(self, point, seed):
            self.point, self.seed, self.overrides = point, seed, {"optimizer.lr": ["0.1", "0.5"][point]}

    trials = [T(0, 0), T(0, 1), T(1, 0), T(1, 1)]
    results = [result(0.5), result(0.7), result(0.9), result(1.0)]
    points = aggregate.summarize(trials, results, "classification")
    assert [p["overrides"]["optimizer.lr"] for p in points] == ["0.5", "0.1"]
    s = points[1]["metrics"]["test"]["accuracy"]
    assert s["mean"] == pytest.approx(0.6) and s["std"] == pytest.approx(math.sqrt(0.02))  # sample std
    assert (s["min"], s["max"], points[1]["failed"]) == (0.5, 0.7, 0)


def test_sweep_errors_are_one_line(cli):
    assert "--grid" in cli("sweep", WINE_CFG, "--grid", "nonsense", code=2).stderr
    assert "optimizer.lr" in cli("sweep", WINE_CFG, "--grid", "optimizer.lr=-1,0.1", code=2).stderr
    assert "--seeds" in cli("train", WINE_CFG, "--seeds", "x", code=2).stderr
    assert "--seed and --seeds" in cli("train", WINE_CFG, "--seeds", "3", "--seed", "1", code=2).stderr


def test_folds_expand_per_seed_and_stack_together_unless_a_plateau_schedule_needs_sgd():
    trials = expand(WINE_CFG, ["train.epochs=5"], [], [0, 1], folds=3)
    assert [(t.seed, t.fold) for t in trials] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert trials[4].args[-2:] == ["data.folds=3", "data.fold=1"] and trials[4].cfg.data.fold == 1
    groups = plan(trials, [load_data(t.cfg) for t in trials])
    assert [(g.path, len(g.trials)) for g in groups] == [("vectorized", 6)]
    adam = expand(WINE_CFG, ["train.epochs=5", "optimizer={name: adam}", "data.val_size=0.1",
                             "train.scheduler={name: plateau}"], [], [0, 1])
    (group,) = plan(adam, [load_data(t.cfg) for t in adam])
    assert group.path == "sequential" and "a plateau schedule with adam" in group.reason
