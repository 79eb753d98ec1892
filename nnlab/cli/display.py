"""What `nnlab train` shows: the model before, loss-table rows, a progress bar, JSONL events and TensorBoard
scalars while fit() runs (all on fit()'s one hook, `on_epoch_end(epoch, row_or_None)`), and the report after."""

import os
import sys

from nnlab.cli.main import print_json
from nnlab.errors import UsageError

MODES = ("normal", "quiet", "json", "jsonl")


def output_mode(json_out: bool, jsonl: bool, quiet: bool) -> str:
    """One of MODES from the flags; --json and --jsonl together are a usage error."""
    if json_out and jsonl:
        raise UsageError("--json and --jsonl: pick one (--jsonl already ends with the --json object)")
    return "json" if json_out else "jsonl" if jsonl else "quiet" if quiet else "normal"


def stderr_is_interactive() -> bool:
    """A terminal a person watches: not a pipe, a file, a CI log or TERM=dumb."""
    return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"


def require_tensorboard() -> None:
    """Fail before training when --tensorboard cannot work."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise UsageError("--tensorboard: the tensorboard package is not installed; "
                         "install it with pip install 'nnlab[tensorboard]', or drop --tensorboard")


class TrainingView:
    """A context manager around fit(): `on_epoch_end` feeds every view the mode asks for; `report` closes."""

    def __init__(self, mode: str, console, run, setup, tensorboard: bool = False):
        from nnlab.views.report import LossTable

        self.mode, self.console, self.run, self.setup = mode, console, run, setup
        self.epochs = run.cfg.train.epochs
        self.table = LossTable(run.cfg.task, has_test=len(run.splits.X_test) > 0, epochs=self.epochs,
                               has_val=len(run.splits.X_val) > 0, has_lr=run.cfg.train.scheduler is not None)
        self.tensorboard_dir = run.path / "tensorboard" if tensorboard else None
        self.writer, self.progress, self.task = None, None, None

    def __enter__(self):
        if self.mode == "normal":
            from nnlab.views.report import run_header

            run, setup = self.run, self.setup
            self.console.print(run_header(run.cfg, run.splits, setup.model, setup.device, setup.threads))
            resumed = f" (resumed at epoch {run.start_at.epoch})" if run.start_at else ""
            self.console.print(f"run directory: {run.path}{resumed}", soft_wrap=True)
            self.console.print(self.table.header(), soft_wrap=True)  # rows whole: a narrow terminal wraps them itself
            if stderr_is_interactive():
                self._start_progress()
        if self.tensorboard_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(self.tensorboard_dir))
        return self

    def _start_progress(self):
        """The bar, on stderr; when stdout is the same terminal, on the rows' own console instead, so that its
        live display clears the bar, prints each row above it and redraws it (two consoles writing to one screen
        would leave rows glued to bar frames)."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from nnlab.cli.main import stderr

        shared = self.console.is_terminal
        self.progress = Progress(
            TextColumn("epoch"), MofNCompleteColumn(), BarColumn(), TextColumn("loss {task.fields[loss]}"),
            TimeRemainingColumn(), console=self.console if shared else stderr(), transient=True,
            redirect_stdout=False, redirect_stderr=shared)  # stray stderr text (a warning) prints above the bar too
        self.task = self.progress.add_task("train", total=self.epochs, loss="…")
        self.progress.start()

    def on_epoch_end(self, epoch: int, row: dict | None) -> None:
        if row is not None:
            if self.mode == "normal":
                self.console.print(self.table.row(row), soft_wrap=True)
            elif self.mode == "jsonl":
                print_json({"event": "epoch", **row})
            if self.writer is not None:
                for key, value in row.items():
                    if key not in ("epoch", "seconds"):
                        self.writer.add_scalar(key.replace("_", "/", 1), value, epoch)
        if self.progress is not None:
            fields = {"loss": f"{row['train_loss']:.4g}"} if row else {}
            self.progress.update(self.task, completed=epoch, **fields)

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()
        if self.writer is not None:
            self.writer.close()
        return False

    def stopped(self, summary: dict | None) -> None:
        """A run that stopped with an error (interrupted, diverged): --json and --jsonl still end with the summary it
        saved (the error line goes to stderr); the other modes print nothing more."""
        if summary is not None and self.mode in ("json", "jsonl"):
            print_json(summary)

    def report(self, summary: dict, history: list[dict], outcome, baseline: dict | None, plots: list) -> None:
        """After training: the --json object, or the final report (and, in the default mode, the epilogue)."""
        if self.mode in ("json", "jsonl"):
            print_json(summary)
            return
        from nnlab.views.report import baseline_table, results, stopped_line

        console = self.console
        console.print(results(self.run.cfg, outcome))
        stopping = self.run.cfg.train.early_stopping
        line = stopped_line(summary, restored=stopping is not None and stopping.restore_best)
        if line is not None:
            console.print(line)
        if baseline:
            console.print(baseline_table(self.run.cfg, baseline))
        if self.mode == "normal":
            if sys.stdout.isatty():
                from nnlab.views.sparkline import loss_curves

                curves = loss_curves(history)
                if curves.plain:
                    console.print(curves)
            if plots:
                console.print(f"plots: {', '.join(p.name for p in plots)}")
        console.print(f"saved {self.run.path}", soft_wrap=True)  # --quiet too: where the run is; a path never wraps
