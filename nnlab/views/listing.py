"""Rich tables for what is read back from run directories: past runs, runs compared, a reproduction, predictions."""

from rich.table import Table
from rich.text import Text

from nnlab.config import value_text
from nnlab.vocabulary import parse_flat


def runs_table(rows: list[dict]) -> Table:
    """`nnlab runs`: one line per run directory, newest first (a folder of many runs: its best point, mean ± std)."""
    from rich import box

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)  # no blank line above or below
    for column, justify, width in (("run", "left", 16), ("time", "left", 11), ("model", "left", 8),
                                   ("overrides", "left", 10), ("epochs", "right", 6), ("train_loss", "right", 10),
                                   ("final metric", "left", 10), ("status", "left", 11)):
        table.add_column(column, justify=justify, overflow="fold", min_width=width)
    styles = {"finished": "green", "running": "cyan", "interrupted": "yellow", "diverged": "red"}
    for row in rows:
        loss = _mean((row["metrics"].get("train") or {}).get("loss"))
        table.add_row(row["run"], (row.get("time") or "")[5:16], f"{row['model']} {_many_text(row)}".strip(),
                      " ".join(row["overrides"]), _epochs_text(row.get("epoch"), row.get("epochs")),
                      f"{loss:.4g}" if loss is not None else "", _result_text(row),
                      Text(row["status"], style=styles.get(row["status"], "dim")))
    return table


def _mean(value):
    """A run's number, or the mean of a point's aggregate ({mean, std, ...})."""
    value = value.get("mean") if isinstance(value, dict) else value
    return value if isinstance(value, (int, float)) else None


def _many_text(row: dict) -> str:
    """What a folder of many runs holds: `3 seeds`, `5 folds x 2 seeds`, `tpe halving 9x4`, `lr-find 13 lrs`."""
    kind, n_seeds = row.get("kind"), len(row.get("seeds") or [])
    if kind == "lr-find":
        return f"lr-find {row.get('runs')} lrs"
    seeds = f"{n_seeds} seed{'s' * (n_seeds != 1)}"
    if kind == "seeds":
        return seeds
    if kind == "folds":
        return f"{row.get('folds')} folds x {seeds}"
    if kind == "sweep":
        how = [row.get("search") or "sweep", *(["halving"] if row.get("halving") else [])]
        folds = f"x{row['folds']} folds" if row.get("folds") else ""
        return " ".join(how) + f" {row.get('points')}x{n_seeds}{folds}"
    return ""


def _epochs_text(epoch, epochs) -> str:
    """1000, or 120/1000 for a run that stopped early."""
    if epochs is None:
        return ""
    return f"{epoch}/{epochs}" if epoch is not None and epoch != epochs else str(epochs)


def _result_text(row: dict) -> str:
    """The headline metric by its flat name (`test_accuracy 0.9722`; a point's `mean ± std`, after its overrides);
    an lr-find's suggestion."""
    if row.get("kind") == "lr-find":
        lr = (row.get("best") or {}).get("optimizer.lr")
        return f"suggested lr {lr:.3g}" if isinstance(lr, (int, float)) else "every lr diverged"
    headline = parse_flat(row.get("headline") or "")
    value = (row["metrics"].get(headline[0]) or {}).get(headline[1]) if headline else None
    if isinstance(value, dict):
        mean, std = value.get("mean"), value.get("std")
        text = f"{row['headline']} {mean:.4f} ± {std:.4f}" if None not in (mean, std) else ""
        best = " ".join(f"{k}={value_text(v)}" for k, v in (row.get("best") or {}).items())
        return f"best {best}: {text}" if best and text else text
    return f"{row['headline']} {value:.4f}" if isinstance(value, (int, float)) else ""


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
