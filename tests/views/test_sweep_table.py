"""The sweep's table, rendered as a terminal shows it."""

import io

from rich.console import Console

from nnlab.views.sweep_table import points_table


def render(table) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(table)
    return console.file.getvalue()


def stats(mean, std=0.0):
    return {"mean": mean, "std": std, "min": mean - std, "max": mean + std, "n": 2}


def test_one_row_per_grid_point_best_first_with_the_headline_as_mean_and_spread():
    points = [{"overrides": {"optimizer.lr": "0.2"}, "runs": 2, "failed": 0,
               "metrics": {"test": {"accuracy": stats(0.95, 0.01)}, "train": {"loss": stats(0.1)}}},
              {"overrides": {"optimizer.lr": "0.001"}, "runs": 2, "failed": 2,
               "metrics": {"test": {"accuracy": stats(0.4)}, "train": {"loss": stats(1.1)}}}]
    lines = [line for line in render(points_table(points, "test_accuracy", "wine: 4 runs")).splitlines()
             if line.strip() and not set(line.strip()) <= set("─━ ")]
    assert lines[0].startswith("wine: 4 runs") and "optimizer.lr" in lines[1] and "test_accuracy" in lines[1]
    rows = [line.split() for line in lines[2:]]
    assert rows[0][:5] == ["0.2", "2", "0", "0.9500", "±"] and rows[1][0] == "0.001"


def test_train_seeds_gets_one_row_per_metric():
    points = [{"overrides": {}, "runs": 3, "failed": 0,
               "metrics": {"test": {"accuracy": stats(0.9, 0.05),
                                    "r2": {"mean": None, "std": None, "min": None, "max": None, "n": 0}},
                           "train": {"loss": stats(0.2)}}}]
    text = render(points_table(points, "test_accuracy", "seeds"))
    assert "0.9000 ± 0.0500" in text and "train_loss" in text and "test_r2" not in text


def test_the_rungs_table_shows_each_rung_its_points_scores_and_who_stayed():
    from nnlab.views.sweep_table import compute_line, rungs_table

    halving = {"eta": 3, "split": "test", "epochs": 90, "member_epochs": 280, "full_grid_member_epochs": 720,
               "fraction": 280 / 720, "rungs": [{"epoch": 10, "points": [
                   {"point": 1, "overrides": {"optimizer.lr": "0.5"}, "seeds": 2, "score": {"mean": 0.9, "std": 0.1},
                    "loss": 0.3, "kept": True},
                   {"point": 0, "overrides": {"optimizer.lr": "0.01"}, "seeds": 2, "score": {"mean": None, "std": None},
                    "loss": 1.1, "kept": False}]}]}
    text = render(rungs_table(halving, "test_accuracy"))
    assert "successive halving (eta 3, ranked by test_accuracy, mean" in text and "optimizer.lr=0.5" in text
    header = next(line for line in text.splitlines() if "epoch" in line and "point" in line).split()
    assert header == ["epoch", "point", "seeds", "test_accuracy", "train_loss"]  # README: Names
    assert "score" not in text and "train loss" not in text
    assert "ranked by val_r2" in render(rungs_table({**halving, "split": "val"}, "val_r2"))
    assert "0.9000 ± 0.1000" in text and "kept" in text and "dropped" in text and " - " in text
    assert compute_line(halving) == "compute: 280 of the full grid's 720 member-epochs (39%)"


def test_the_lr_table_marks_the_lowest_loss_and_the_suggestion_and_says_diverged():
    from nnlab.views.sweep_table import lr_table

    text = render(lr_table([0.001, 0.01, 0.1, 1.0], [1.0, 0.5, 0.1, None], 0.01, "curve"))
    lines = {line.split()[0]: line for line in text.splitlines() if line.strip()[:1].isdigit()}
    assert "suggested" in lines["0.01"] and "lowest" in lines["0.1"] and "diverged" in lines["1"]
    assert "train_loss" in text and "train loss" not in text
