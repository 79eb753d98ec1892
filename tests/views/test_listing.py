"""Tables of what is read back from run directories: past runs, runs compared, a reproduction, predictions."""

import io

import pandas as pd
from rich.console import Console

from nnlab.views.listing import compare_table, predictions_table, reproduce_table, runs_table


def render(table, width=200) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(table)
    return console.file.getvalue()


def test_runs_table_shows_the_headline_metric_of_the_test_split_else_train():
    rows = [{"run": "wine-1", "time": "2026-12-01 10:00:00", "kind": "run", "model": "mlp 5-5-5 relu",
             "overrides": ["seed=3"], "epochs": 1000, "metrics": {"train": {"loss": 0.0136}, "test": {"accuracy": 1.0}},
             "headline": "test_accuracy", "status": "finished"},
            {"run": "cubic-1", "time": "2026-12-01 09:00:00", "kind": "run", "model": "polynomial degree 3",
             "overrides": [], "epochs": 2000, "epoch": 120, "headline": "train_r2", "status": "interrupted",
             "metrics": {"train": {"loss": 12.27, "r2": 0.99}, "test": {}}},
            {"run": "wine-seeds-1", "time": "2026-12-01 08:00:00", "kind": "seeds", "model": "mlp",
             "overrides": ["train.epochs=200"], "epochs": 200, "epoch": None, "headline": "test_accuracy",
             "metrics": {"train": {"loss": {"mean": 0.813, "std": 0.2}}, "test": {"accuracy": {"mean": 0.5741,
                                                                                               "std": 0.1697}}},
             "best": {}, "seeds": [0, 1, 2], "status": "finished"}]
    text = render(runs_table(rows))
    assert "test_accuracy 1.0000" in text and "train_r2 0.9900" in text and "seed=3" in text and "interrupted" in text
    assert "120/2000" in text and "12.27" in text and "0.0136" in text
    assert "12-01 10:00" in text
    assert "mlp 3 seeds" in text and "train.epochs=200" in text and "0.813" in text
    assert "test_accuracy 0.5741 ± 0.1697" in text


def test_compare_and_reproduce_tables_put_values_side_by_side():
    text = render(compare_table(["a", "b"], [("optimizer.lr", [0.05, 0.1]), ("seed", [None, 3])], "config"))
    assert "optimizer.lr" in text and "0.05" in text and "0.1" in text and "—" in text
    text = render(reproduce_table([{"key": "metrics.train.loss", "recorded": 0.5, "reproduced": 0.5},
                                   {"key": "metrics.test.accuracy", "recorded": 1.0, "reproduced": 0.9}]))
    assert "identical" in text and "differs" in text and "-0.1" in text


def test_predictions_table_shows_predictions_first_and_counts_hidden_inputs():
    frame = pd.DataFrame({f"x{i}": [str(i)] * 3 for i in range(8)})
    frame["prediction"], frame["proba_1"] = ["1", "2", "1"], [0.91234, 0.1, 0.8]
    text = render(predictions_table(frame, n=2))
    assert "first 2 of 3 rows" in text and "0.9123" in text and "(+3 input columns in the file)" in text
