"""PNG plots in the run directory: which ones, that they are real images, and their numbers."""

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import ROOT

PNG = b"\x89PNG\r\n\x1a\n"


def _pngs(run_dir) -> dict:
    return {p.name: p.read_bytes() for p in Path(run_dir).glob("*.png")}


@pytest.mark.slow
def test_regression_on_one_input_gets_loss_and_fit_plots(cli):
    cli.plots = True
    summary = cli.train_json(ROOT / "configs" / "cubic_sine.yaml", "train.epochs=200")
    pngs = _pngs(summary["run_dir"])
    assert set(pngs) == {"loss.png", "fit.png"}
    assert all(data.startswith(PNG) and len(data) > 10_000 for data in pngs.values())


@pytest.mark.slow
def test_classification_gets_a_confusion_matrix_and_no_plots_skips_all(cli):
    cli.plots = True
    summary = cli.train_json(ROOT / "configs" / "wine_mlp.yaml", "train.epochs=20")
    assert set(_pngs(summary["run_dir"])) == {"loss.png", "confusion.png"}
    bare = cli.train_json(ROOT / "configs" / "wine_mlp.yaml", "train.epochs=20", "--no-plots")
    assert _pngs(bare["run_dir"]) == {}


@pytest.mark.slow
def test_regression_with_two_inputs_has_no_fit_plot(cli):
    cli.plots = True
    summary = cli.train_json(ROOT / "configs" / "linear_regression.yaml", "train.epochs=2")
    assert set(_pngs(summary["run_dir"])) == {"loss.png"}


def test_confusion_counts_match_scikit_learn(tmp_path, monkeypatch):
    from sklearn.metrics import confusion_matrix as reference

    from nnlab.views import plots

    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 4, 50), rng.integers(0, 4, 50)
    drawn = {}
    monkeypatch.setattr(plots, "_save", lambda fig, path: drawn.setdefault("texts", [
        t.get_text() for t in fig.axes[0].texts]) and Path(path))
    plots.confusion_matrix(tmp_path / "c.png", y_true, y_pred, ["a", "b", "c", "d"], "t")
    assert [int(t) for t in drawn["texts"]] == reference(y_true, y_pred).reshape(-1).tolist()


def test_loss_plot_uses_log_scale_only_when_the_loss_spans_decades(tmp_path, monkeypatch):
    from nnlab.views import plots

    scales = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: scales.append(
        (fig.axes[0].get_yscale(), fig.axes[0].get_ylabel(), fig.axes[0].get_legend() is not None)))
    steep = [{"epoch": e, "train_loss": 10.0 ** -e, "test_loss": 2 * 10.0 ** -e} for e in range(1, 5)]
    flat = [{"epoch": e, "train_loss": 1.0 / e} for e in range(1, 5)]
    plots.loss_curve(tmp_path / "a.png", steep, "mse", "t")
    plots.loss_curve(tmp_path / "b.png", flat, "sse", "t")
    assert scales == [("log", "loss: mean squared error (log scale)", True),
                      ("linear", "loss: sum of squared errors per step", True)]


@pytest.mark.slow
def test_summary_is_unchanged_by_plotting(cli):
    cli.plots = True
    summary = cli.train_json(ROOT / "configs" / "linear_regression.yaml", "train.epochs=2")
    assert json.loads((Path(summary["run_dir"]) / "summary.json").read_text()) == summary


def test_plots_are_written_as_run_files_never_through_a_planted_link(tmp_path, monkeypatch):
    from nnlab.views import plots

    victim = tmp_path / "victim.png"
    victim.write_bytes(b"precious")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "loss.png").symlink_to(victim)
    (run_dir / ".loss.png.tmp").symlink_to(victim)
    history = [{"epoch": e, "train_loss": 1.0 / e, "test_loss": 2.0 / e} for e in range(1, 5)]
    plots.loss_curve(run_dir / "loss.png", history, "mse", "t")
    assert victim.read_bytes() == b"precious"
    assert not (run_dir / "loss.png").is_symlink() and (run_dir / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in run_dir.iterdir()) == ["loss.png"]


def test_the_loss_plot_draws_the_validation_loss_and_marks_the_best_epoch(tmp_path, monkeypatch):
    from nnlab.views import plots

    drawn = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: drawn.append(
        [line.get_label() for line in fig.axes[0].get_lines()]))
    rows = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e + 0.01 * e, "test_loss": 1.1 / e} for e in range(1, 9)]
    plots.loss_curve(tmp_path / "a.png", rows, "mse", "t", best_epoch=3)
    assert drawn == [["train", "val", "test", "best epoch (3)"]]
