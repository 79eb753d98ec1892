"""A loss curve in one line of block characters, for the end of an interactive run."""

import math

from rich.text import Text

BLOCKS = "▁▂▃▄▅▆▇█"


def spans_decades(values: list[float], decades: float = 2.0) -> bool:
    """True when positive values span more than `decades` powers of ten: plot them on a log scale."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return bool(finite) and min(finite) > 0 and max(finite) / min(finite) > 10 ** decades


def sparkline(values: list[float], width: int = 50, log: bool = False) -> str:
    """`values` resampled to at most `width` points, each drawn as one of eight block heights."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return ""
    if len(values) > width:  # evenly spaced samples, first and last kept
        values = [values[round(i * (len(values) - 1) / (width - 1))] for i in range(width)]
    if log:
        values = [math.log10(v) for v in values]
    low, high = min(values), max(values)
    if high == low:
        return BLOCKS[0] * len(values)
    return "".join(BLOCKS[min(7, int((v - low) / (high - low) * 8))] for v in values)


def loss_curves(history: list[dict], width: int = 50) -> Text:
    """'train_loss ▇▅▃▂▁  1.02 → 0.0136' (and val_loss, test_loss), one line each, labelled by their flat names;
    log scale when it spans decades."""
    lines = []
    for key in ("train_loss", "val_loss", "test_loss"):
        values = [row[key] for row in history if key in row]
        if len(values) < 2:
            continue
        log = spans_decades(values)
        lines.append(Text.assemble((f"{key:>10} ", "dim"), (sparkline(values, width, log), "cyan"),
                                   f"  {values[0]:.4g} → {values[-1]:.4g}", (" (log scale)" if log else "", "dim")))
    return Text("\n").join(lines)
