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
