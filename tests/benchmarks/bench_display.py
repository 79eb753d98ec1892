"""Cost of train's per-epoch display hook (progress bar on, table rows to a sink), per epoch.

Run: python tests/benchmarks/bench_display.py   (prints numbers; not part of the test run)
"""

import io
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from rich.console import Console

from nnlab.cli import display


def per_epoch_seconds(epochs: int, log_every: int, progress: bool) -> float:
    cfg = SimpleNamespace(train=SimpleNamespace(epochs=epochs, scheduler=None, early_stopping=None),
                          task="regression")  # what the view reads
    run = SimpleNamespace(cfg=cfg, splits=SimpleNamespace(X_test=np.zeros((0, 1)), X_val=np.zeros((0, 1))),
                          path=Path("."), start_at=None)
    shown = display.TrainingView("quiet", Console(file=io.StringIO()), run, setup=None)
    shown.mode = "normal"  # rows on, without the run header
    if progress:
        shown._start_progress()
        shown.progress.console.file = io.StringIO()  # measure the hook, not the terminal
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        row = {"epoch": epoch, "train_loss": 1.0 / epoch, "seconds": 0.0} if epoch % log_every == 0 else None
        shown.on_epoch_end(epoch, row)
    elapsed = time.perf_counter() - start
    shown.__exit__(None, None, None)
    return elapsed / epochs


if __name__ == "__main__":
    for progress in (False, True):
        best = min(per_epoch_seconds(2000, 100, progress) for _ in range(3))
        print(f"display hook, progress bar {'on ' if progress else 'off'}: {best * 1e6:.1f} µs per epoch "
              "(2000 epochs, a table row every 100)")
