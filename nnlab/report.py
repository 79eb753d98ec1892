"""Rich renderables for what a run shows: the model, the loss table, the final metrics.

Nothing here prints; cli owns the consoles.
"""

from rich.console import Group
from rich.table import Table
from rich.text import Text

_METRIC_NAMES = {"accuracy": "accuracy", "r2": "R²"}


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
    n_test = len(splits.X_test)
    info = Text.assemble(
        ("device ", "dim"), str(device), ("  threads ", "dim"), str(threads),
        ("  train ", "dim"), f"{len(splits.X_train)} rows", ("  test ", "dim"),
        f"{n_test} rows" if n_test else "none", ("  features ", "dim"), str(splits.n_features),
        ("  loss ", "dim"), cfg.loss, ("  optimizer ", "dim"), _optimizer_text(cfg.optimizer))
    return Group(table, info)


def _optimizer_text(opt) -> str:
    extras = [f"{k} {v}" for k, v in opt.model_dump().items() if k not in ("name", "lr") and v not in (0, 0.0, False)]
    return f"{opt.name} lr {opt.lr:g}" + (f" ({', '.join(extras)})" if extras else "")


class LossTable:
    """A table printed a row at a time while training runs: header() once, then row(r) per log."""

    def __init__(self, task: str, has_test: bool, epochs: int):
        metric = "accuracy" if task == "classification" else "r2"
        self.columns = [("epoch", max(5, len(str(epochs)))), ("train loss", 12)]
        if has_test:
            self.columns += [("test loss", 12), (f"test {_METRIC_NAMES[metric]}", 13)]
        self.columns.append(("time", 8))
        self.keys = ["epoch", "train_loss"] + (["test_loss", f"test_{metric}"] if has_test else []) + ["seconds"]

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
            elif key.startswith("test_") and key != "test_loss":
                cells.append(f"{value:.4f}")
            else:
                cells.append(_number(value))
        return self._line(cells)


def _number(value: float) -> str:
    return f"{value:.6g}" if abs(value) < 1e6 else f"{value:.4e}"


def classification_report_table(report: dict, split: str) -> Table:
    """scikit-learn's classification_report (output_dict=True) as a rich table."""
    table = Table(title=f"classification report: {split}", title_justify="left")
    table.add_column("class")
    for column in ("precision", "recall", "f1-score", "support"):
        table.add_column(column, justify="right")
    averages = ("macro avg", "weighted avg")
    for label, row in report.items():
        if label == "accuracy" or label in averages:
            continue
        table.add_row(label, f"{row['precision']:.4f}", f"{row['recall']:.4f}", f"{row['f1-score']:.4f}",
                      f"{int(row['support'])}")
    table.add_section()
    support = sum(int(r["support"]) for k, r in report.items() if k not in averages and k != "accuracy")
    if "accuracy" in report:
        table.add_row("accuracy", "", "", f"{report['accuracy']:.4f}", str(support), style="bold")
    for label in averages:
        row = report[label]
        table.add_row(label, f"{row['precision']:.4f}", f"{row['recall']:.4f}", f"{row['f1-score']:.4f}",
                      f"{int(row['support'])}")
    return table


def regression_table(metrics: dict) -> Table:
    """MSE, MAE and R² per split."""
    table = Table(title="regression metrics", title_justify="left")
    table.add_column("split")
    for column in ("MSE", "MAE", "R²"):
        table.add_column(column, justify="right")
    for split, m in metrics.items():
        if m:
            table.add_row(split, f"{m['mse']:.6g}", f"{m['mae']:.6g}", f"{m['r2']:.4f}")
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


def results(cfg, outcome) -> Group:
    """After training or eval: the classification reports or regression metrics, and the fitted model."""
    parts = []
    if cfg.task == "classification":
        for split, report in outcome.reports.items():
            if report:
                parts.append(classification_report_table(report, split))
        accuracy = "  ".join(f"{split} accuracy {m['accuracy']:.4f}" for split, m in outcome.metrics.items() if m)
        parts.append(Text(accuracy, style="bold"))
    else:
        parts.append(regression_table(outcome.metrics))
    if outcome.parameters:
        parts.append(parameters_table(outcome.parameters))
    if outcome.description:
        parts.append(Text(outcome.description, style="bold"))
    return Group(*parts)


# ---------------------------------------------------------------- baselines, run history, reproduce, predict


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
            label = f"{split} {'loss (' + cfg.loss + ')' if key == 'loss' else _METRIC_NAMES.get(key, key)}"
            gap = ours[key] - value
            relative = f" ({gap / abs(value):+.1%})" if key == "loss" and value else ""
            table.add_row(label, _number(ours[key]), _number(value), f"{gap:+.4g}{relative}")
    if compared.get("note"):
        table.caption, table.caption_justify = f"baseline {compared['note']}", "left"
    return table


def runs_table(rows: list[dict]) -> Table:
    """`nnlab runs`: one line per run directory, newest first."""
    from rich import box

    table = Table(title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column, justify, width in (("run", "left", 16), ("time", "left", 11), ("model", "left", 8),
                                   ("overrides", "left", 10), ("epochs", "right", 6), ("train loss", "right", 9),
                                   ("final metric", "left", 10), ("status", "left", 11)):
        table.add_column(column, justify=justify, overflow="fold", min_width=width)
    styles = {"finished": "green", "interrupted": "yellow", "diverged": "red"}
    for row in rows:
        loss = row.get("train_loss")
        table.add_row(row["run"], (row.get("time") or "")[5:16], row.get("model") or "",
                      " ".join(row.get("overrides") or []), str(row.get("epochs") or ""),
                      f"{loss:.4g}" if isinstance(loss, (int, float)) else "",
                      _metrics_text(row.get("metrics") or {}), Text(row["status"], style=styles.get(row["status"], "dim")))
    return table


def _metrics_text(metrics: dict) -> str:
    """The headline metric of the test split (the train split when there is no test split)."""
    for split in ("test", "train"):
        for key, short in (("accuracy", "acc"), ("r2", "R²")):
            if key in (metrics.get(split) or {}):
                return f"{split} {short} {metrics[split][key]:.4f}"
    return ""


def compare_table(names: list[str], rows: list[tuple[str, list]], title: str) -> Table:
    """Keys down, runs across: the config differences or the metrics of `nnlab compare`."""
    table = Table(title=title, title_justify="left")
    table.add_column("key")
    for name in names:
        table.add_column(name, justify="right", overflow="fold")
    for key, values in rows:
        table.add_row(key, *[_cell(v) for v in values])
    return table


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return _number(value)
    return str(value)


def reproduce_table(rows: list[dict]) -> Table:
    """Recorded vs reproduced numbers, with the difference; identical rows marked."""
    table = Table(title="recorded vs reproduced", title_justify="left")
    for column, justify in (("number", "left"), ("recorded", "right"), ("reproduced", "right"),
                            ("difference", "right"), ("", "left")):
        table.add_column(column, justify=justify)
    for row in rows:
        old, new = row["recorded"], row["reproduced"]
        same = old == new
        diff = f"{new - old:+.3g}" if isinstance(old, (int, float)) and isinstance(new, (int, float)) and not same else ""
        table.add_row(row["key"], _cell(old), _cell(new), diff,
                      Text("identical", style="green") if same else Text("differs", style="yellow"))
    return table


def predictions_table(frame, n: int = 10, max_columns: int = 7) -> Table:
    """The first `n` rows of a predictions frame: row number, prediction columns, then inputs while they fit."""
    predicted = [c for c in frame.columns if c == "prediction" or str(c).startswith(("proba_", "prediction_"))]
    inputs = [c for c in frame.columns if c not in predicted]
    shown = predicted + inputs[:max(0, max_columns - len(predicted))]
    hidden = len(inputs) - (len(shown) - len(predicted))
    table = Table(title=f"predictions: first {min(n, len(frame))} of {len(frame)} rows", title_justify="left",
                  caption=f"(+{hidden} input columns in the file)" if hidden else None, caption_justify="left")
    table.add_column("row", justify="right", style="dim")
    for column in shown:
        table.add_column(str(column), justify="right", style="bold" if column == "prediction" else "",
                         no_wrap=column in predicted)
    for i, (_, row) in enumerate(frame.head(n).iterrows()):
        table.add_row(str(i + 1), *[_prediction_cell(c, row[c]) for c in shown])
    return table


def _prediction_cell(column: str, value) -> str:
    if str(column).startswith("proba_"):
        return f"{value:.4f}"
    return f"{value:.6g}" if isinstance(value, float) else _cell(value)
