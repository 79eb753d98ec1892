"""A sweep on a Dask cluster: each stacked group, or each run trained alone, is one task on a worker.

The client has already expanded, validated and planned the sweep (nnlab.sweep.plan) and loaded every
split, so bad configs and data fail here before anything is sent. A task carries the group's
resolved config dicts, its path (stacked or one after another) and the thread count this machine
would use; the worker rebuilds the same splits from its verified copy of the data file and runs
nnlab.training.group.train_group, the function the in-process sweep runs. Results come back in trial order.
"""

import functools
import math
import time
from collections.abc import Callable

from nnlab.config import RunConfig, validate
from nnlab.sweep.dask_client import Blob, Task, run_tasks
from nnlab.sweep.plan import Group, Trial
from nnlab.training.group import TrialResult, train_group
from nnlab.training.loop import Fit


def dask_setup(worker=None) -> None:
    """Run in each local worker process as it starts (Dask's preload of this module, which already imported
    torch and the training code): what a task's first call would import, loaded while the client reads
    its configs and data."""
    import torch.func  # noqa: F401 - vmap, for the stacked loss
    import torch.nn.functional  # noqa: F401

    import nnlab.data.load  # noqa: F401


@functools.cache  # once per worker process
def heap_for_training() -> None:
    """Undo, in this worker, the malloc setting Dask's nanny starts workers with (MALLOC_TRIM_THRESHOLD_=65536).

    Setting it also freezes glibc's mmap threshold at 128 KiB, so each step's activations over that size
    (a 64-model wine stack: 180 KiB a layer) are mapped and unmapped every step: a stack trained 2x slower
    on a worker than in-process (measured). glibc's own dynamic limits grow to 32 MiB (64 MiB for trimming):
    set those. Nothing to do without the variable, or without glibc.
    """
    import os

    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
    libc.mallopt(M_MMAP_THRESHOLD, 32 * 2**20)
    libc.mallopt(M_TRIM_THRESHOLD, 64 * 2**20)


def resolve_threads(cfg: RunConfig, splits) -> int:
    """The thread count a local run of `cfg` picks here: workers use it, so sums run in the same order."""
    from nnlab.training.device import threads_for

    return threads_for(cfg, cfg.model.build(splits.n_features, splits.n_outputs), len(splits.X_train))


ALIGN = 16  # chunks start at multiples of this many models: each keeps its place in its stack modulo 16


def chunk_groups(trials: list[Trial], splits: list, groups: list[Group], slots: int) -> tuple[list[Group], str]:
    """Stacks cut into chunks so that `slots` worker slots share the work, and the plan in words.

    A stack gets about slots x (its share of the sweep's work: models x epochs x train rows) chunks, of
    near-equal size, each starting at a multiple of ALIGN models: a model then sits at the same place in
    its chunk as in the whole stack modulo 16, where the batched products round the same way, so it
    gets the numbers the in-process sweep gives it (tested). A stack being halved stays whole: its
    rungs rank all its points together.
    """
    def work(g: Group) -> float:
        cfg = trials[g.trials[0]].cfg
        return len(g.trials) * cfg.train.epochs * max(1, len(splits[g.trials[0]].X_train))

    total = sum(work(g) for g in groups) or 1.0
    chunked = []
    for g in groups:
        n = len(g.trials)
        cuts = max(1, min(round(slots * work(g) / total), math.ceil(n / ALIGN)))
        if g.path != "vectorized" or g.halving or cuts == 1:
            chunked.append(g)
            continue
        bounds = sorted({0, n, *(min(n, round(i * n / cuts / ALIGN) * ALIGN) for i in range(1, cuts))})
        parts = [g.trials[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]
        chunked += [Group(part, g.path, f"{g.reason} (chunk {j} of {len(parts)})") for j, part in enumerate(parts, 1)]
    tasks = [len(g.trials) if g.path == "vectorized" else 1 for g in chunked
             for _ in range(1 if g.path == "vectorized" else len(g.trials))]
    sizes = " + ".join(str(t) for t in tasks) if len(tasks) <= 8 else f"{min(tasks)} to {max(tasks)}"
    text = (f"cluster plan: {len(trials)} runs in {len(tasks)} task(s) of {sizes} model(s) on {slots} worker "
            f"slot(s); each stack is cut into about one chunk per slot by its share of the work (models x epochs "
            f"x rows), at multiples of {ALIGN} models so every model trains as it would in one stack"
            + ("; stacks being halved stay whole" if any(g.halving for g in groups) else ""))
    return chunked, text


def worker_slots(client) -> int:
    """Tasks the cluster runs at once: its workers' threads (1 when none has joined yet)."""
    return max(1, sum(client.nthreads().values()))


def group_tasks(trials: list[Trial], splits: list, groups: list[Group]) -> tuple[list[Task], list[Group]]:
    """One Task per stacked group and per run of a sequential group, with the (sub)group each covers.

    A task's args are (config dicts, vectorize, threads, halving spec); its data is named by the client's data.path.
    """
    tasks, covered = [], []
    for group in groups:
        parts = [group.trials] if group.path == "vectorized" else [[i] for i in group.trials]
        for members in parts:
            first = trials[members[0]].cfg
            data = first.data.path if first.data.source == "csv" else None
            args = ([trials[i].cfg.to_dict() for i in members], group.path == "vectorized",
                    resolve_threads(first, splits[members[0]]), group.halving)
            tasks.append(Task(f"task{len(tasks)}", args, n_trials=len(members), data=data))
            covered.append(Group(members, group.path, group.reason, group.halving))
    return tasks, covered


def train_group_task(data_path, cfg_dicts: list[dict], vectorize: bool, threads: int,
                     halving: dict | None = None) -> list[TrialResult]:
    """On a worker: the group's splits from the local copy of the data, then train_group."""
    from nnlab.data.load import load_many

    heap_for_training()

    local = [{**d, "threads": threads} for d in cfg_dicts]
    if data_path is not None:  # the client's path means nothing here
        local = [{**d, "data": {**d["data"], "path": str(data_path)}} for d in local]
    splits = load_many([validate(d, "sweep") for d in local])
    return train_group(local, splits, vectorize, halving=halving)


def failed_result(cfg: RunConfig, reason: str) -> TrialResult:
    """A trial the cluster could not train: no numbers, the reason kept for the summary."""
    return TrialResult(Fit([], 0, 0.0), None, "failed", cfg.threads or 0, "", None, error=reason)


def run_groups(client, trials: list[Trial], splits: list, groups: list[Group],
               on_progress: Callable | None = None, on_group: Callable | None = None,
               on_results: Callable | None = None):
    """groups.run_groups on the cluster: (results in trial order, None where interrupted; seconds; interrupted).

    `on_results(indices, results)` then `on_group(group)` run in this thread as each task's (sub)group comes back.
    """
    tasks, covered = group_tasks(trials, splits, groups)
    blobs = {path: Blob.read(path) for path in {t.data for t in tasks} - {None}}  # read and hash each file once
    group_of = {t.key: group for t, group in zip(tasks, covered)}

    def finished(task, result):
        if on_results:
            on_results(group_of[task.key].trials, result)
        if on_group:
            on_group(group_of[task.key])

    start = time.perf_counter()
    collected = run_tasks(client, train_group_task, tasks, blobs, on_progress=on_progress, on_result=finished)
    seconds = time.perf_counter() - start
    results: list[TrialResult | None] = [None] * len(trials)
    for task, group in zip(tasks, covered):
        if task.key in collected.results:
            for i, result in zip(group.trials, collected.results[task.key]):
                results[i] = result
        elif task.key in collected.failed:
            for i in group.trials:
                results[i] = failed_result(trials[i].cfg, collected.failed[task.key])
    return results, seconds, collected.interrupted


def finished_only(trials: list[Trial], splits: list, groups: list[Group], results: list):
    """The trials that came back (after Ctrl-C), with groups renumbered to match: what save() can write."""
    keep = [i for i, r in enumerate(results) if r is not None]
    new_index = {old: new for new, old in enumerate(keep)}
    kept_groups = [Group([new_index[i] for i in g.trials if i in new_index], g.path, g.reason, g.halving) for g in groups
                   if any(i in new_index for i in g.trials)]  # a sequential group may be partly done
    return [trials[i] for i in keep], [splits[i] for i in keep], kept_groups, [results[i] for i in keep]
