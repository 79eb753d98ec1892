"""A sweep's groups trained in this process, one after another (dask_tasks.py sends them to a cluster instead)."""

import time

from nnlab.training.group import TrialResult, train_group


def run_groups(trials: list, splits: list, groups: list, on_group=None, stop=None) -> tuple[list, float]:
    """Train every group in this process, in order: the results in trial order and the total loop seconds."""
    results: list[TrialResult | None] = [None] * len(trials)
    start = time.perf_counter()
    for group in groups:
        out = train_group([trials[i].cfg.to_dict() for i in group.trials], [splits[i] for i in group.trials],
                          vectorize=group.path == "vectorized", stop=stop, halving=group.halving)
        for i, result in zip(group.trials, out):
            results[i] = result
        if on_group:
            on_group(group)
    return results, time.perf_counter() - start
