"""Successive halving over a sweep: each stack's rung schedule, and what its rungs did.

With n points in a stack, rung i is at epoch min_epochs · eta^i; there are as many rungs as halvings
it takes to get from n points to one (keeping ceil(n / eta) each time), so the last survivor trains
the full `train.epochs`. Without --min-epochs the first rung is as late as it can be while every rung still
comes before the last epoch and halving spends at most a third of the full grid's member-epochs (and no
earlier than the textbook epochs / eta^rungs): later rungs see more of each point, so a point that starts
slowly is less often dropped for it. At eta 3 and 1000 epochs: rungs at 111 and 333 for 4 points (39%),
166 and 498 for 9 (33%), 111, 333 and 999 for 27 (26%). A stack ranks only its
own points: points that cannot share a stack (another architecture or batch size) are halved within
their own stacks and meet in the final table.
"""

import math
import statistics

from nnlab.errors import UsageError
from nnlab.sweep.plan import Group, Trial


def check_halving(eta: int, min_epochs: int | None, vectorize: bool, n_points: int) -> None:
    """Options that cannot work, before anything is read (`n_points`: grid points or search trials)."""
    if n_points < 2:
        raise UsageError("--halving needs two or more points to rank: a --grid with several values, or --search")
    if eta < 2:
        raise UsageError(f"--eta: {eta} keeps every point; use 2 or more (3 keeps the best third at each rung)")
    if min_epochs is not None and min_epochs < 1:
        raise UsageError(f"--min-epochs: {min_epochs} is not a number of epochs; use 1 or more")
    if not vectorize:
        raise UsageError("--halving and --no-vectorize: halving drops points from a stack; let the runs stack")


BUDGET = 1 / 3  # without --min-epochs: the share of the full grid's member-epochs halving may spend


def rung_epochs(epochs: int, n_points: int, eta: int, min_epochs: int | None = None) -> list[int]:
    """The epochs at which a stack of `n_points` points is halved (none for a single point)."""
    halvings, n = 0, n_points
    while n > 1:
        n, halvings = math.ceil(n / eta), halvings + 1

    def rungs(first: int) -> list[int]:
        return sorted({r for r in (round(first * eta ** i) for i in range(halvings)) if r < epochs})

    if min_epochs is not None:
        return rungs(min_epochs)
    first = max(1, round(epochs / eta ** halvings))  # the textbook schedule: one point left at the last epoch
    n_rungs = len(rungs(first))

    def allowed(later: int) -> bool:  # every rung still before the last epoch, within the budget
        schedule = rungs(later)
        return len(schedule) == n_rungs and member_fraction(schedule, n_points, eta, epochs) <= BUDGET

    # both conditions hold up to some first rung and fail after it (later rungs: more compute, fewer that fit)
    low, high = first, epochs  # allowed(low) or low is the textbook's; not allowed(high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if allowed(middle) else (low, middle)
    return rungs(low)


def member_fraction(rungs: list[int], n_points: int, eta: int, epochs: int) -> float:
    """The share of the full grid's member-epochs a schedule spends (ceil(n / eta) points kept at each rung)."""
    used, alive, last = 0, n_points, 0
    for epoch in rungs:
        used, alive, last = used + alive * (epoch - last), math.ceil(alive / eta), epoch
    return (used + alive * (epochs - last)) / (n_points * epochs)


def plan_halving(trials: list[Trial], groups: list[Group], eta: int, min_epochs: int | None) -> list[Group]:
    """The groups with a halving spec on each stack of two or more points (others say why they are not halved)."""
    planned = []
    for g in groups:
        points = [trials[i].point for i in g.trials]
        rungs = rung_epochs(trials[g.trials[0]].cfg.train.epochs, len(set(points)), eta, min_epochs)
        if g.path == "vectorized" and rungs:
            planned.append(Group(g.trials, g.path, g.reason, {"points": points, "rungs": rungs, "eta": eta}))
        else:
            why = "one point" if len(set(points)) < 2 else "trained alone" if g.path != "vectorized" else \
                f"--min-epochs {min_epochs} leaves no rung before the last epoch"
            planned.append(Group(g.trials, g.path, f"{g.reason}; not halved: {why}"))
    return planned


def rung_note(groups: list[Group]) -> str:
    """'; halving at epochs 111, 333' for the progress line ('' when no stack is halved)."""
    rungs = sorted({e for g in groups if g.halving for e in g.halving["rungs"]})
    return f"; halving at epochs {', '.join(map(str, rungs))}" if rungs else ""


def halving_summary(trials: list[Trial], results: list, groups: list[Group], split: str) -> dict:
    """The rungs (each point's mean ± std score there and whether it stayed) and the compute used."""
    rungs = []
    for g in groups:
        if not g.halving:
            continue
        for epoch in g.halving["rungs"]:
            by_point: dict[int, list] = {}
            for i in g.trials:
                row = next((r for r in results[i].rungs if r["epoch"] == epoch), None)
                if row is not None:
                    by_point.setdefault(trials[i].point, []).append((row, results[i]))
            if by_point:
                rungs.append({"epoch": epoch, "points": sorted((_rung_point(trials, g, p, rows, epoch)
                                                                 for p, rows in by_point.items()),
                                                                key=lambda r: (not r["kept"], -_key(r)))})
    used = sum(_epochs_trained(t, r) for t, r in zip(trials, results))
    full = sum(t.cfg.train.epochs for t in trials)
    return {"eta": next((g.halving["eta"] for g in groups if g.halving), None), "split": split,
            "epochs": max(t.cfg.train.epochs for t in trials), "rungs": rungs,
            "member_epochs": used, "full_grid_member_epochs": full, "fraction": used / full if full else None}


def _rung_point(trials, group, point: int, rows: list, epoch: int) -> dict:
    scores = [row["score"] for row, _ in rows if math.isfinite(row["score"])]
    overrides = next(trials[i].overrides for i in group.trials if trials[i].point == point)
    return {"point": point, "overrides": overrides, "seeds": len(rows),
            "score": {"mean": statistics.fmean(scores) if scores else None,
                      "std": statistics.stdev(scores) if len(scores) > 1 else 0.0 if scores else None},
            "loss": statistics.fmean([row["loss"] for row, _ in rows]),
            "kept": all(result.stopped_at is None or result.stopped_at > epoch for _, result in rows)}


def _key(rung_point: dict) -> float:
    mean = rung_point["score"]["mean"]
    return -math.inf if mean is None else mean


def _epochs_trained(trial: Trial, result) -> int:
    """Epochs it spent in its stack (a diverged model stays in it until a rung drops it)."""
    return trial.cfg.train.epochs if result.stopped_at is None else result.stopped_at
