"""Rich tables for what is read back from run directories: past runs, runs compared, a reproduction, predictions."""

from rich.table import Table
from rich.text import Text

from nnlab.vocabulary import HEADLINE, flat


def runs_table(rows: list[dict]) -> Table:
    """`nnlab runs`: one line per run directory, newest first (a sweep's folder: its best point, mean ± std)."""
    from rich import box

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)  # no blank line above or below
    for column, justify, width in (("run", "left", 16), ("time", "left", 11), ("model", "left", 8),
                                   ("overrides", "left", 10), ("epochs", "right", 6), ("train_loss", "right", 10),
                                   ("final metric", "left", 10), ("status", "left", 11)):
        table.add_column(column, justify=justify, overflow="fold", min_width=width)
    styles = {"finished": "green", "running": "cyan", "interrupted": "yellow", "diverged": "red"}
    for row in rows:
        metrics = row.get("metrics") or {}
        loss = (metrics.get("train") or {}).get("loss")
        table.add_row(row["run"], (row.get("time") or "")[5:16], row.get("model") or "",
                      " ".join(row.get("overrides") or []), _epochs_text(row.get("epoch"), row.get("epochs")),
                      f"{loss:.4g}" if isinstance(loss, (int, float)) else "",
                      row.get("result") or _metrics_text(metrics),
                      Text(row["status"], style=styles.get(row["status"], "dim")))
    return table


def _epochs_text(epoch, epochs) -> str:
    """1000, or 120/1000 for a run that stopped early."""
    if epochs is None:
        return ""
    return f"{epoch}/{epochs}" if epoch is not None and epoch != epochs else str(epochs)


def _metrics_text(metrics: dict) -> str:
    """The headline metric of the test split (the train split when there is no test split), by its flat name."""
    for split in ("test", "train"):
        for name in HEADLINE.values():
            if name in (metrics.get(split) or {}):
                return f"{flat(split, name)} {metrics[split][name]:.4f}"
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
    """A value whole: floats at full precision (repr: the shortest text that reads back as the same number), since
    compare and reproduce exist to set numbers side by side."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return repr(value)
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
