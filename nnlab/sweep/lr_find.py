"""The LR finder: K learning rates, log-spaced, trained as the members of one stack for a short budget.

Unlike the classic range test (one run whose lr grows every step), every lr here trains from the same
initial weights for the same number of epochs, so the curve is the loss each lr reaches: it falls while
the lr is too small to make progress, bottoms out, and rises or diverges once the steps are too big.
RULE says how the suggestion is read off it.
"""

import math
from dataclasses import dataclass, field

from nnlab.errors import UsageError

RULE = "the lr with the lowest train loss after the budget, divided by 10 (a decade below where the loss turns up)"
SAFETY = 10.0


@dataclass
class LRFind:
    """The curve (one train loss per lr, None where it diverged) and the suggestion."""

    lrs: list[float]
    losses: list[float | None]
    epochs: int
    seed: int
    suggested: float | None
    rule: str
    paths: list[dict] = field(default_factory=list)  # how the members trained: {"path", "runs", "reason"}, as a sweep
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"lrs": self.lrs, "losses": self.losses, "epochs": self.epochs, "seed": self.seed,
                "suggested_lr": self.suggested, "rule": self.rule, "paths": self.paths,
                "train_seconds": round(self.seconds, 6)}


def lr_grid(low: float, high: float, n: int) -> list[float]:
    """n learning rates from low to high, evenly spaced on a log scale, to three significant digits."""
    if not (0 < low < high and math.isfinite(high)):
        raise UsageError(f"--min {low:g} --max {high:g}: need 0 < min < max, e.g. --min 1e-6 --max 1")
    if n < 3:
        raise UsageError(f"--num: {n} learning rates draw no curve; use 3 or more (default 25)")
    step = (math.log(high) - math.log(low)) / (n - 1)
    return [float(f"{math.exp(math.log(low) + i * step):.3g}") for i in range(n)]


def suggest(lrs: list[float], losses: list[float | None]) -> float | None:
    """RULE: a tenth of the lr with the lowest finite loss (the lowest lr, when that is the lowest)."""
    finite = [(loss, lr) for lr, loss in zip(lrs, losses) if loss is not None and math.isfinite(loss)]
    if not finite:
        return None
    best = min(finite)[1]
    return max(lrs[0], float(f"{best / SAFETY:.3g}"))


def find_lr(config, overrides: list[str], low: float, high: float, n: int, epochs: int | None,
            on_group=None, stop=None) -> LRFind:
    """Train the n learning rates (stacked when the optimizer allows it) and read the suggestion off the curve."""
    from nnlab.config import load_config
    from nnlab.sweep.batch import prepare_batch
    from nnlab.sweep.local import run_groups

    lrs = lr_grid(low, high, n)
    cfg = load_config(config, overrides)
    budget = epochs or max(1, cfg.train.epochs // 10)
    if budget < 1:
        raise UsageError(f"--epochs: {budget} is not a number of epochs; use 1 or more")
    b = prepare_batch(config, [*overrides, f"train.epochs={budget}"], [{"optimizer.lr": repr(lr)} for lr in lrs],
                      [cfg.seed])
    results, seconds = run_groups(b.trials, b.splits, b.groups, on_group=on_group, stop=stop)
    losses = [r.fit.history[-1]["train_loss"] if r.status == "finished" and r.fit.history else None for r in results]
    return LRFind(lrs, losses, budget, cfg.seed, suggest(lrs, losses), RULE, [g.record() for g in b.groups],
                  seconds)
