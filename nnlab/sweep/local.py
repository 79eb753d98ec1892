"""A sweep's groups trained in this process, one after another (dask_tasks.py sends them to a cluster instead)."""

import time

from nnlab.training.group import TrialResult, train_group


def run_groups(trials: list, splits: list, groups: list, on_group=None, stop=None,
               on_results=None) -> tuple[list, float]:
    """Train every group in this process, in order: the results in trial order and the total loop seconds.

    `on_results(indices, results)` runs as soon as results are final: a stacked group's all at once, a sequential
    group's one run at a time (so a signal later loses none of them); `on_group(group)` after each group.
    """
    results: list[TrialResult | None] = [None] * len(trials)
    start = time.perf_counter()
    for group in groups:
        parts = [group.trials] if group.path == "vectorized" else [[i] for i in group.trials]
        for members in parts:
            out = train_group([trials[i].cfg.to_dict() for i in members], [splits[i] for i in members],
                              vectorize=group.path == "vectorized", stop=stop, halving=group.halving)
            for i, result in zip(members, out):
                results[i] = result
            if on_results:
                on_results(members, out)
        if on_group:
            on_group(group)
    return results, time.perf_counter() - start
