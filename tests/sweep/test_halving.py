"""Successive halving through `nnlab sweep --halving`: rung schedules, the rungs table, compute, reproduce."""

import csv
import json
from pathlib import Path

import pytest

from helpers import ROOT
from nnlab.errors import UsageError
from nnlab.sweep.halving import check_halving, member_fraction, rung_epochs

WINE_CFG = ROOT / "configs" / "wine_mlp.yaml"


@pytest.mark.parametrize("epochs, n_points, eta, min_epochs, rungs", [
    (1000, 9, 3, None, [166, 498]),  # 9 -> 3 -> 1, later than the textbook 111, 333: a third of the grid's compute
    (1000, 4, 3, None, [111, 333]),  # 4 -> 2 -> 1: the textbook schedule already spends 39%
    (1000, 27, 3, None, [111, 333, 999]),  # 27 -> 9 -> 3 -> 1: later still, the last rung would not fit
    (1000, 8, 2, None, [138, 276, 552]),
    (1000, 9, 3, 50, [50, 150]),
    (1000, 9, 3, 400, [400]),  # the second rung would be past the end
    (1000, 1, 3, None, []),
    (5, 81, 3, None, [1, 3]),  # too few epochs for every halving: the rungs that fit
])
def test_rung_epochs(epochs, n_points, eta, min_epochs, rungs):
    assert rung_epochs(epochs, n_points, eta, min_epochs) == rungs


@pytest.mark.parametrize("n_points, eta", [(2, 2), (4, 3), (5, 2), (9, 3), (10, 3), (27, 3), (30, 4), (81, 3)])
@pytest.mark.parametrize("epochs", [30, 200, 1000, 5000])
def test_default_rungs_spend_at_most_a_third_unless_the_textbook_schedule_does(epochs, n_points, eta):
    """The default first rung is the textbook epochs / eta^halvings or later, keeps every rung that schedule has,
    and moves later only within a third of the full grid's member-epochs."""
    halvings, n = 0, n_points
    while n > 1:
        n, halvings = -(-n // eta), halvings + 1
    textbook = rung_epochs(epochs, n_points, eta, max(1, round(epochs / eta ** halvings)))
    chosen = rung_epochs(epochs, n_points, eta)
    assert len(chosen) == len(textbook) and chosen[0] >= textbook[0]
    spent = member_fraction(chosen, n_points, eta, epochs)
    assert spent <= 1 / 3 or chosen == textbook
    if chosen != textbook:  # as late as the rule allows: one epoch later breaks it
        later = rung_epochs(epochs, n_points, eta, chosen[0] + 1)
        assert len(later) < len(chosen) or member_fraction(later, n_points, eta, epochs) > 1 / 3


@pytest.mark.parametrize("args, fragment", [
    ((1, None, True, 4), "--eta: 1 keeps every point"),
    ((3, 0, True, 4), "--min-epochs: 0"),
    ((3, None, False, 4), "--halving and --no-vectorize"),
    ((3, None, True, 1), "--halving needs two or more points"),
])
def test_halving_options_that_cannot_work(args, fragment):
    with pytest.raises(UsageError, match=fragment):
        check_halving(*args)


def test_a_halving_sweep_shows_its_rungs_and_compute_and_saves_pruned_runs(cli):
    args = ["sweep", WINE_CFG, "--grid", "optimizer.lr=0.01,0.05,0.2,0.5", "--seeds", "2", "train.epochs=90",
            "--halving", "--out", cli.out, "--no-plots"]
    result = cli(*args)
    assert "halving at epochs 10, 30" in result.stderr
    assert "successive halving (eta 3, ranked by test_accuracy," in result.stdout and "dropped" in result.stdout
    assert "compute: 280 of the full grid's 720 member-epochs (39%)" in result.stdout  # 2x2x10 + 1x2x30 + 1x2x90
    summary = json.loads((next(cli.out.iterdir()) / "summary.json").read_text())
    halving = summary["halving"]
    assert (halving["eta"], halving["split"], halving["member_epochs"], halving["full_grid_member_epochs"]) == \
        (3, "test", 280, 720)
    assert [r["epoch"] for r in halving["rungs"]] == [10, 30]
    assert [sum(p["kept"] for p in r["points"]) for r in halving["rungs"]] == [2, 1]
    assert [len(r["points"]) for r in halving["rungs"]] == [4, 2] and halving["rungs"][0]["points"][0]["seeds"] == 2
    best, *rest = summary["points"]
    assert "stopped_at" not in best and [p["stopped_at"] for p in rest] == [30, 10, 10]
    rows = list(csv.DictReader(open(Path(summary["run_dir"]) / "runs.csv")))
    assert sorted(r["status"] for r in rows) == ["finished"] * 2 + ["pruned"] * 6
    pruned = next(Path(r["run_dir"]) for r in rows if r["status"] == "pruned")
    sub = json.loads((pruned / "summary.json").read_text())
    assert sub["status"] == "pruned" and sub["stopped_at"] in (10, 30) and sub["metrics"]["test"]
    evaluated = json.loads(cli("eval", pruned, "--json").stdout)  # its checkpoint: the weights where it stopped
    assert evaluated["metrics"]["test"] == sub["metrics"]["test"]
    receipt = json.loads((pruned / "receipt.json").read_text())
    assert receipt["stack"]["halving"] == {"rungs": [10, 30]}
    assert sorted(s or 0 for s in receipt["stack"]["stopped_at"]) == [0, 0, 10, 10, 10, 10, 30, 30]


@pytest.mark.slow
def test_reproduce_replays_the_rungs_exactly_for_kept_and_dropped_runs(cli):
    summary = json.loads(cli("sweep", WINE_CFG, "--grid", "optimizer.lr=0.01,0.05,0.2", "--seeds", "3",
                             "train.epochs=60", "--halving", "--out", cli.out, "--json", "--no-plots").stdout)
    rows = list(csv.DictReader(open(Path(summary["run_dir"]) / "runs.csv")))
    for status in ("finished", "pruned"):
        run_dir = next(r["run_dir"] for r in rows if r["status"] == status)
        assert json.loads(cli("reproduce", run_dir, "--json").stdout)["identical"] is True


def test_halving_with_two_stacks_halves_each_and_says_which_is_not_halved(cli):
    summary = json.loads(cli("sweep", WINE_CFG, "--grid", "model.hidden=[5],[4,4]", "--grid", "optimizer.lr=0.05,0.5",
                             "--seeds", "1", "train.epochs=30", "--halving", "--out", cli.out, "--json",
                             "--no-plots").stdout)
    assert [p["path"] for p in summary["paths"]] == ["vectorized", "vectorized"]
    assert len(summary["halving"]["rungs"]) == 2  # one rung in each stack of two points
    assert sum("stopped_at" not in p for p in summary["points"]) == 2  # one survivor per stack
    lone = json.loads(cli("sweep", WINE_CFG, "--grid", "model.hidden=[5],[4,4]", "--seeds", "2", "train.epochs=9",
                          "--halving", "--out", cli.out / "lone", "--json", "--no-plots").stdout)
    assert all("not halved: one point" in p["reason"] for p in lone["paths"]) and lone["halving"]["rungs"] == []
