import io

import numpy as np
from rich.console import Console

from nnlab.scoring.metrics import classification_metrics
from nnlab.views.report import LossTable, classification_report_table


def render(renderable) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def test_classification_report_matches_scikit_learn():
    from sklearn.metrics import classification_report

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 50)
    scores = rng.standard_normal((50, 3))
    metrics, report = classification_metrics(scores, y, ["a", "b", "c"])
    text = render(classification_report_table(report, "test"))
    expected = classification_report(y, scores.argmax(1), target_names=["a", "b", "c"], output_dict=True)
    for label in ("a", "b", "c", "macro avg"):
        row = expected[label]
        assert f"{row['precision']:.4f}" in text and f"{row['f1-score']:.4f}" in text
    assert metrics["accuracy"] == expected["accuracy"]
    assert metrics["macro_f1"] == expected["macro avg"]["f1-score"]


def test_loss_table_rows_line_up_with_the_header():
    table = LossTable("classification", has_test=True, epochs=1000)
    header = render(table.header()).rstrip("\n")
    row = render(table.row({"epoch": 100, "train_loss": 0.5, "test_loss": 0.25, "test_accuracy": 0.9,
                            "seconds": 1.5})).rstrip("\n")
    assert len(header) == len(row) and "test_accuracy" in header and "0.9000" in row and "1.50s" in row


def test_loss_table_adds_validation_and_lr_columns_and_the_stop_line():
    from nnlab.views.report import stopped_line

    table = LossTable("regression", has_test=True, epochs=50, has_val=True, has_lr=True)
    header = render(table.header()).rstrip("\n")
    row = render(table.row({"epoch": 10, "train_loss": 0.5, "val_loss": 0.6, "val_r2": 0.81, "test_loss": 0.7,
                            "test_r2": 0.8, "lr": 0.0125, "seconds": 1.0})).rstrip("\n")
    assert header.split() == ["epoch", "train_loss", "val_loss", "val_r2", "test_loss", "test_r2", "lr", "time"]
    assert len(header) == len(row) and "0.8100" in row and "0.0125" in row
    summary = {"stopped": "early_stopping", "stopped_epoch": 30, "epochs": 50, "best_epoch": 20, "monitor": "val_loss",
               "best": 0.25}
    assert render(stopped_line(summary, restored=True)).strip() == (
        "stopped: early_stopping at epoch 30 of 50; best epoch 20 (val_loss 0.25); the saved model has the best "
        "epoch's weights")
    assert stopped_line({"stopped": "epochs", "best_epoch": None}) is None
