"""Many runs of one config: seeds x a grid of overrides, grouped so that compatible runs train stacked.

The unit of work is a group: `train_group(cfg_dicts, splits)` is a pure function of plain data
(resolved config dicts and numpy splits) that returns plain results and CPU modules, so a caller
can run groups anywhere (one after another here; a process pool or Dask later) and write the run
directories itself.
"""

import itertools
import json
import re
from dataclasses import dataclass, field

import numpy as np

from nnlab.config import RunConfig, load_config, validate
from nnlab.errors import UsageError

# Settings that may differ between models trained in one stack (SGD keeps per-model tensors for them).
VECTORIZED_KEYS = ("lr", "momentum", "weight_decay")
MAX_STACKED_BYTES = 1 << 30  # above this, per-seed copies of the data are not stacked


def parse_seeds(text: str) -> list[int]:
    """'10' -> 0..9, '3-7' -> 3..7, '1,5,7' -> [1, 5, 7]."""
    text = text.strip()
    try:
        if re.fullmatch(r"\d+", text):
            seeds = list(range(int(text)))
        elif re.fullmatch(r"\d+\s*-\s*\d+", text):
            low, high = (int(v) for v in text.split("-"))
            seeds = list(range(low, high + 1))
        else:
            seeds = [int(v) for v in text.split(",")]
    except ValueError:
        seeds = []
    if not seeds or len(set(seeds)) != len(seeds) or any(not 0 <= s < 2**32 for s in seeds):
        raise UsageError(f"--seeds: '{text}' is not a seed count or list; use e.g. 10, 0-9 or 1,5,7 "
                         "(distinct seeds in [0, 2^32))")
    return seeds


def parse_grid(items: list[str]) -> list[tuple[str, list[str]]]:
    """['optimizer.lr=0.01,0.1', 'model.hidden=[8],[16,16]'] -> [(key, [value, ...]), ...]."""
    grid = []
    for item in items:
        key, sep, text = item.partition("=")
        values = _split_top_level(text)
        if not sep or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", key) or not all(values):
            raise UsageError(f"--grid '{item}': expected key=v1,v2,... with a dotted key, "
                             "for example --grid optimizer.lr=0.01,0.1")
        if key in (k for k, _ in grid):
            raise UsageError(f"--grid: key '{key}' given twice; list all its values in one --grid")
        grid.append((key, values))
    return grid


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets, so list values like [16,16] stay whole."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char in "[{"
        depth -= char in "]}"
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return parts + [current.strip()]


@dataclass
class Trial:
    """One run: which grid point it belongs to, its seed, its validated config."""

    point: int
    overrides: dict  # the grid's key -> value text for this point
    seed: int
    cfg: RunConfig


def expand(config, overrides: list[str], grid: list[tuple[str, list[str]]], seeds: list[int]) -> list[Trial]:
    """Every grid point x every seed, each validated like `nnlab train CONFIG ... key=value seed=S`."""
    trials = []
    points = list(itertools.product(*[[(key, v) for v in values] for key, values in grid]))
    for point, pairs in enumerate(points):
        extra = [f"{k}={v}" for k, v in pairs]
        for seed in seeds:
            cfg = load_config(config, [*overrides, *extra, f"seed={seed}"])
            trials.append(Trial(point, dict(pairs), seed, cfg))
    return trials


def group_key(cfg: RunConfig, splits) -> str:
    """Runs with equal keys can train in one stack: same everything but seed (and SGD's lr, momentum, decay)."""
    d = cfg.to_dict()
    d.pop("seed")
    d.pop("name")
    if d["optimizer"]["name"] == "sgd":
        for key in VECTORIZED_KEYS:
            d["optimizer"].pop(key)
    shapes = [(a.shape, str(a.dtype)) for a in (splits.X_train, splits.y_train, splits.X_test, splits.y_test)]
    return json.dumps([d, str(shapes)], sort_keys=True)


@dataclass
class Group:
    """Trials that train together (path 'vectorized') or one after another ('sequential'), and why."""

    trials: list[int]  # indices into the trial list
    path: str
    reason: str


def plan(trials: list[Trial], splits: list, vectorize: bool = True) -> list[Group]:
    """Group trials by group_key; a group of one, or one whose stacked data would be too big, runs alone."""
    by_key: dict[str, list[int]] = {}
    for i, (trial, s) in enumerate(zip(trials, splits)):
        by_key.setdefault(group_key(trial.cfg, s), []).append(i)
    groups = []
    for members in by_key.values():
        data_bytes = sum(a.nbytes for a in _arrays(splits[members[0]]))
        shared = all(_same_data(splits[members[0]], splits[i]) for i in members[1:])
        stacked_bytes = data_bytes * (1 if shared else len(members))
        if not vectorize:
            groups.append(Group(members, "sequential", "--no-vectorize"))
        elif len(members) == 1:
            groups.append(Group(members, "sequential", "no other run shares its architecture and settings"))
        elif stacked_bytes > MAX_STACKED_BYTES:
            groups.append(Group(members, "sequential", f"per-seed data splits would need "
                                                       f"{stacked_bytes / 2**20:.0f} MiB stacked"))
        else:
            why = "same architecture, batch size and data" + ("" if shared else " shape (per-seed splits stacked)")
            groups.append(Group(members, "vectorized", why))
    return groups


def _arrays(splits):
    return splits.X_train, splits.y_train, splits.X_test, splits.y_test


def _same_data(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(_arrays(a), _arrays(b)))


# ---------------------------------------------------------------- running a group


@dataclass
class TrialResult:
    """What one trained model leaves: plain numbers, and the module for its checkpoint."""

    history: list[dict]
    steps: int
    seconds: float
    metrics: dict
    extras: dict
    status: str  # finished | diverged | failed
    threads: int
    device: str
    baseline: float | None  # majority-class rate of the scored split (classification)
    model: object = field(repr=False, default=None)  # nn.Module on the CPU
    error: str | None = None  # why a "failed" run has no numbers (e.g. its cluster worker kept dying)


def train_group(cfg_dicts: list[dict], splits: list, vectorize: bool) -> list[TrialResult]:
    """Train one group's runs (stacked when `vectorize`), score them; pure: no files, no printing."""
    cfgs = [validate(d, "sweep") for d in cfg_dicts]
    if vectorize and len(cfgs) > 1:
        return _train_stacked(cfgs, splits)
    return [_train_alone(cfg, s) for cfg, s in zip(cfgs, splits)]


def _train_alone(cfg: RunConfig, splits) -> TrialResult:
    """Exactly `nnlab train`: prepare() and fit()."""
    from nnlab.errors import DivergedError
    from nnlab.train import fit, prepare

    setup = prepare(cfg, splits)
    try:
        result = fit(setup.model, setup.loss_fn, setup.optimizer, setup.tensors, cfg.train,
                     log_every=cfg.log_every, task=cfg.task, seed=cfg.seed)
    except DivergedError as e:  # keep what was logged before, as the stacked path does
        return _scored(cfg, splits, setup.model.cpu(), e.result, "diverged", setup.threads, setup.device)
    return _scored(cfg, splits, setup.model, result, "finished", setup.threads, setup.device, setup.tensors)


def _train_stacked(cfgs: list[RunConfig], splits: list) -> list[TrialResult]:
    import torch

    from nnlab.device import resolve_device, seed_everything, set_threads, threads_for
    from nnlab.train import make_loss
    from nnlab.vectorized import Stacked, fit_stacked, make_stacked_optimizer

    cfg = cfgs[0]
    device = resolve_device(cfg.device)
    modules = []
    for c, s in zip(cfgs, splits):
        seed_everything(c.seed)  # as prepare() does: model k starts from its seed's weights
        modules.append(c.model.build(s.n_features, s.n_outputs))
    threads = threads_for(cfg, modules[0], len(splits[0].X_train))
    set_threads(threads)
    stack = Stacked(modules, device)
    optimizer = make_stacked_optimizer(list(stack.params.values()), [c.optimizer for c in cfgs])
    shared = all(_same_data(splits[0], s) for s in splits[1:])
    K = len(cfgs)
    if shared:  # (K, N, ...) views of one copy
        tensors = tuple(t.expand(K, *t.shape) for t in splits[0].tensors(device))
    else:
        tensors = tuple(torch.stack(ts) for ts in zip(*(s.tensors(device) for s in splits)))
    result = fit_stacked(stack, make_loss(cfg.loss).to(device), optimizer, tensors, cfg.train,
                         log_every=cfg.log_every, task=cfg.task, seeds=[c.seed for c in cfgs])
    return [_scored(c, s, stack.module(k).to(device), fit, "diverged" if result.diverged_at[k] else "finished",
                    threads, device, tuple(t[k] for t in tensors))
            for k, (c, s, fit) in enumerate(zip(cfgs, splits, result.fits))]


def _scored(cfg: RunConfig, splits, model, fit, status: str, threads: int, device, tensors=None) -> TrialResult:
    """Final metrics, computed as train computes them (nothing for a diverged model); `tensors`: the
    splits already on the device."""
    from nnlab.metrics import assess_splits

    if status == "diverged":
        metrics, extras = {"train": {}, "test": {}}, {}
    else:
        outcome = assess_splits(model, cfg, splits, tensors, with_reports=False)  # reports: never shown
        metrics, extras = outcome.metrics, outcome.extras
    baseline = None
    if cfg.task == "classification":
        y = splits.y_test if len(splits.y_test) else splits.y_train
        baseline = float(np.bincount(y.reshape(-1).astype(np.int64)).max() / len(y))
    return TrialResult(fit.history, fit.steps, fit.seconds, metrics, extras, status, threads, str(device),
                       baseline, model.cpu())
