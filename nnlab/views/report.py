"""Rich renderables for what a run shows: the model, the loss table, the final metrics, the baseline.

Nothing here prints; cli owns the consoles.
"""

from rich.console import Group
from rich.table import Table
from rich.text import Text

from nnlab.vocabulary import HEADLINE, flat


def run_header(cfg, splits, model, device, threads: int) -> Group:
    """Before training: the model's layers and parameter counts, device, threads and split sizes."""
    table = Table(title=f"{cfg.name}: {cfg.model.kind} model, {cfg.task}", title_justify="left")
    table.add_column("layer")
    table.add_column("module")
    table.add_column("parameters", justify="right")
    total = 0
    for name, module in model.named_modules():
        own = sum(p.numel() for p in module.parameters(recurse=False))
        if name and (own or not list(module.children())):
            table.add_row(name, repr(module) if len(repr(module)) < 60 else type(module).__name__, f"{own:,}")
        total += own
    if total and not any(True for name, _ in model.named_modules() if name):
        table.add_row("(model)", repr(model).splitlines()[0], f"{total:,}")
    table.add_section()
    table.add_row("total", "", f"{total:,}", style="bold")
    n_test, n_val = len(splits.X_test), len(splits.X_val)
    fold = f" (fold {cfg.data.fold} of {cfg.data.folds})" if cfg.data.folds else ""
    info = Text.assemble(
        ("device ", "dim"), str(device), ("  threads ", "dim"), str(threads),
        ("  train ", "dim"), f"{len(splits.X_train)} rows", *((("  val ", "dim"), f"{n_val} rows") if n_val else ()),
        ("  test ", "dim"), f"{n_test} rows{fold}" if n_test else "none", ("  features ", "dim"), str(splits.n_features),
        ("  loss ", "dim"), cfg.loss, ("  optimizer ", "dim"), _optimizer_text(cfg.optimizer))
    return Group(table, info)


def _optimizer_text(opt) -> str:
    extras = [f"{k} {v}" for k, v in opt.model_dump().items() if k not in ("name", "lr") and v not in (0, 0.0, False)]
    return f"{opt.name} lr {opt.lr:g}" + (f" ({', '.join(extras)})" if extras else "")


class LossTable:
    """A table printed a row at a time while training runs: header() once, then row(r) per log."""

    def __init__(self, task: str, has_test: bool, epochs: int, has_val: bool = False, has_lr: bool = False):
        metric = HEADLINE[task]
        self.keys = ["epoch", "train_loss"]
        for split, shown in (("val", has_val), ("test", has_test)):
            if shown:
                self.keys += [f"{split}_loss", f"{split}_{metric}"]
        if has_lr:
            self.keys.append("lr")
        self.keys.append("seconds")
        self.columns = [("epoch", max(5, len(str(epochs))))] + \
            [(key, 10 if key == "lr" else 13) for key in self.keys[1:-1]] + [("time", 8)]

    def _line(self, cells: list[str], style: str = "") -> Text:
        return Text("  ".join(c.rjust(w) for c, (_, w) in zip(cells, self.columns)), style=style)

    def header(self) -> Text:
        return self._line([name for name, _ in self.columns], style="bold")

    def row(self, row: dict) -> Text:
        cells = []
        for key in self.keys:
            value = row.get(key)
            if key == "epoch":
                cells.append(str(value))
            elif key == "seconds":
                cells.append(f"{value:.2f}s")
            elif key.startswith(("test_", "val_")) and not key.endswith("_loss"):
                cells.append(f"{value:.4f}")
            elif key == "lr":
                cells.append(f"{value:.4g}")
            else:
                cells.append(number(value))
        return self._line(cells)


def stopped_line(summary: dict, restored: bool = False) -> Text | None:
    """How training ended, when there is something to say: an early stop, or the best validation epoch."""
    if summary.get("best_epoch") is None and summary.get("stopped") != "early_stopping":
        return None
    parts = []
    if summary["stopped"] == "early_stopping":
        parts.append(f"stopped: early_stopping at epoch {summary['stopped_epoch']} of {summary['epochs']}")
    else:
        parts.append(f"stopped: {summary['stopped']}")
    if summary.get("best_epoch") is not None:
        parts.append(f"best epoch {summary['best_epoch']} ({summary['monitor']} {summary['best']:.6g})")
    if restored and summary.get("best_epoch") is not None:
        parts.append("the saved model has the best epoch's weights")
    return Text("; ".join(parts), style="bold")


def number(value: float) -> str:
    return f"{value:.6g}" if abs(value) < 1e6 else f"{value:.4e}"


def classification_report_table(report: dict, split: str) -> Table:
    """A split's per-class report ({label: {precision, recall, f1, support}}) with its averages, as a rich table."""
    from nnlab.scoring.metrics import averages

    table = Table(title=f"classification report: {split}", title_justify="left")
    table.add_column("class")
    for column in ("precision", "recall", "f1", "support"):
        table.add_column(column, justify="right")
    for label, row in report.items():
        table.add_row(label, f"{row['precision']:.4f}", f"{row['recall']:.4f}", f"{row['f1']:.4f}", str(row["support"]))
    table.add_section()
    average = averages(report)
    support = average["macro avg"]["support"]
    hits = round(sum(row["recall"] * row["support"] for row in report.values()))  # correct predictions
    table.add_row("accuracy", "", "", f"{hits / support if support else 0.0:.4f}", str(support), style="bold")
    for label, row in average.items():
        table.add_row(label, f"{row['precision']:.4f}", f"{row['recall']:.4f}", f"{row['f1']:.4f}", str(row["support"]))
    return table


def regression_table(metrics: dict) -> Table:
    """loss, mse, mae and r2 per split."""
    table = Table(title="regression metrics", title_justify="left")
    table.add_column("split")
    for column in ("loss", "mse", "mae", "r2"):
        table.add_column(column, justify="right")
    for split, m in metrics.items():
        if m:
            table.add_row(split, number(m["loss"]), f"{m['mse']:.6g}", f"{m['mae']:.6g}", f"{m['r2']:.4f}")
    return table


def parameters_table(parameters: dict) -> Table:
    """Learned weights (in the data's units) beside the ones that generated synthetic data."""
    table = Table(title="learned vs generating parameters", title_justify="left")
    for column, justify in (("parameter", "left"), ("learned", "right"), ("true", "right")):
        table.add_column(column, justify=justify)
    learned, true = parameters["learned"], parameters["true"]
    for i, (w, t) in enumerate(zip(learned["weights"], true["weights"])):
        table.add_row(f"w{i + 1}", f"{w:.4f}", f"{t:.4f}")
    table.add_row("bias", f"{learned['bias']:.4f}", f"{true['bias']:.4f}")
    return table


def results(cfg, outcome, titles: dict | None = None) -> Group:
    """After training or eval: the classification reports or regression metrics, and the fitted model.
    `titles` renames splits in headings (eval --data shows the file's name)."""
    titles = titles or {}
    parts = []
    if cfg.task == "classification":
        for split, report in outcome.reports.items():
            if report:
                parts.append(classification_report_table(report, titles.get(split, split)))
        line = "  ".join(f"{flat(split, name)} {m[name]:.4f}" for split, m in outcome.metrics.items() if m
                         for name in ("accuracy", "macro_f1"))
        parts.append(Text(line, style="bold"))
    else:
        parts.append(regression_table({titles.get(split, split): m for split, m in outcome.metrics.items()}))
    if outcome.parameters:
        parts.append(parameters_table(outcome.parameters))
    if outcome.description:
        parts.append(Text(outcome.description, style="bold"))
    return Group(*parts)


def baseline_table(cfg, compared: dict) -> Table:
    """Network vs baseline on the same split: loss and metrics, and the gap."""
    table = Table(title=f"network vs baseline: {compared['method']}", title_justify="left")
    for column, justify in (("", "left"), ("network", "right"), ("baseline", "right"), ("network − baseline", "right")):
        table.add_column(column, justify=justify)
    for split, theirs in compared["baseline"].items():
        ours = compared["network"][split]
        for key, value in theirs.items():
            if key not in ("loss", "accuracy", "r2"):
                continue
            label = flat(split, key) + (f" ({cfg.loss})" if key == "loss" else "")
            gap = ours[key] - value
            relative = f" ({gap / abs(value):+.1%})" if key == "loss" and value else ""
            table.add_row(label, number(ours[key]), number(value), f"{gap:+.4g}{relative}")
    if compared.get("note"):
        table.caption, table.caption_justify = f"baseline {compared['note']}", "left"
    return table
