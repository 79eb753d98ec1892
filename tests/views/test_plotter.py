"""Plots drawn by the helper process: the same files as drawn here, and a clean end when nothing is drawn."""

from pathlib import Path

import numpy as np
import pytest

from nnlab.views import plots
from nnlab.views.plotter import Plotter

PNG = b"\x89PNG\r\n\x1a\n"


def _jobs(folder: Path) -> list[tuple]:
    history = [{"epoch": e, "train_loss": 1.0 / e, "test_loss": 1.5 / e} for e in range(1, 6)]
    rng = np.random.default_rng(0)
    return [("loss_curve", {"path": folder / "loss.png", "history": history, "loss": "mse", "title": "t"}),
            ("confusion_matrix", {"path": folder / "confusion.png", "y_true": rng.integers(0, 3, 30),
                                  "y_pred": rng.integers(0, 3, 30), "classes": ["a", "b", "c"], "title": "t"})]


@pytest.mark.slow
def test_the_helper_draws_the_jobs_and_waits_for_the_files(tmp_path):
    with Plotter() as plotter:
        assert plotter.process is not None
        written = plotter.draw(_jobs(tmp_path))
    assert written == [tmp_path / "loss.png", tmp_path / "confusion.png"]
    assert all(p.read_bytes().startswith(PNG) and p.stat().st_size > 5_000 for p in written)


def test_without_a_helper_the_plots_are_drawn_here(tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(plots, "draw", lambda jobs: drawn.append(jobs) or [])
    with Plotter(enabled=False) as plotter:
        assert plotter.process is None
        plotter.draw(_jobs(tmp_path))
    assert len(drawn) == 1


def test_a_dead_helper_falls_back_to_drawing_here(tmp_path):
    with Plotter() as plotter:
        plotter.process.kill()
        plotter.process.wait()
        written = plotter.draw(_jobs(tmp_path))
    assert all(p.read_bytes().startswith(PNG) for p in written)


def test_a_helper_never_asked_to_draw_ends_with_the_block():
    with Plotter() as plotter:
        process = plotter.process
    assert process.returncode is not None  # ended (killed: an error or Ctrl-C must not wait for its imports)


@pytest.mark.slow
def test_the_helper_ends_quietly_when_its_parent_closes_without_jobs():
    import subprocess
    import sys

    helper = subprocess.run([sys.executable, "-m", "nnlab.views.plotter"], input=b"", capture_output=True, timeout=120)
    assert helper.returncode == 0 and helper.stdout == b""
