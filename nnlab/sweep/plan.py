"""Planning many runs of one config: seeds x a grid of overrides, grouped so that compatible runs train stacked."""

import itertools
import json
import re
from dataclasses import dataclass

from nnlab.config import RunConfig, load_config
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
    """One run: which grid point it belongs to, its seed (and k-fold fold), its validated config."""

    point: int
    overrides: dict  # the grid's key -> value text for this point
    seed: int
    cfg: RunConfig
    args: list[str]  # every override, as `nnlab train CONFIG ARGS...` would be given them (the receipt keeps them)
    fold: int | None = None  # with --folds: which fold is this run's test split


def expand(config, overrides: list[str], grid: list[tuple[str, list[str]]], seeds: list[int],
           folds: int | None = None) -> list[Trial]:
    """Every grid point x every seed (x every fold), each validated like
    `nnlab train CONFIG ... key=value seed=S [data.folds=K data.fold=F]`."""
    trials = []
    points = list(itertools.product(*[[(key, v) for v in values] for key, values in grid]))
    for point, pairs in enumerate(points):
        extra = [f"{k}={v}" for k, v in pairs]
        for seed in seeds:
            for fold in range(folds) if folds else [None]:
                args = [*overrides, *extra, f"seed={seed}",
                        *([f"data.folds={folds}", f"data.fold={fold}"] if folds else [])]
                trials.append(Trial(point, dict(pairs), seed, load_config(config, args), args, fold))
    return trials


def group_key(cfg: RunConfig, splits) -> str:
    """Runs with equal keys can train in one stack: same everything but seed, k-fold fold (and SGD's lr,
    momentum, decay), data of the same width and the same number of minibatches per epoch."""
    d = cfg.to_dict()
    d.pop("seed")
    d.pop("name")
    d["data"].pop("fold")  # folds differ in their rows only: a stack pads the shorter ones
    if d["optimizer"]["name"] == "sgd":
        for key in VECTORIZED_KEYS:
            d["optimizer"].pop(key)
    n = len(splits.X_train)
    batches = -(-n // min(cfg.train.batch_size or n, n))
    shapes = [(a.shape[1:], str(a.dtype), len(a) > 0) for a in splits.all_arrays()]
    return json.dumps([d, str(shapes), batches], sort_keys=True)


def sequential_reason(cfg: RunConfig) -> str | None:
    """Why runs that could share a stack still train one after another (None: they can stack)."""
    schedule = cfg.train.scheduler
    if schedule is not None and schedule.name == "plateau" and cfg.optimizer.name != "sgd":
        return (f"a plateau schedule with {cfg.optimizer.name}: per-model learning rates are SGD-only in a stack, "
                "so these runs train one after another")
    return None


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
        data_bytes = max(sum(a.nbytes for a in splits[i].all_arrays()) for i in members)
        shared = all(splits[members[0]].same_arrays(splits[i]) for i in members[1:])
        stacked_bytes = data_bytes * (1 if shared else len(members))
        fallback = sequential_reason(trials[members[0]].cfg)
        if not vectorize:
            groups.append(Group(members, "sequential", "--no-vectorize"))
        elif len(members) == 1:
            groups.append(Group(members, "sequential", "no other run shares its architecture and settings"))
        elif fallback:
            groups.append(Group(members, "sequential", fallback))
        elif stacked_bytes > MAX_STACKED_BYTES:
            groups.append(Group(members, "sequential", f"per-seed data splits would need "
                                                       f"{stacked_bytes / 2**20:.0f} MiB stacked"))
        else:
            sizes = {len(splits[i].X_train) for i in members}
            why = "same architecture, batch size and data" + (
                "" if shared else " shape (per-seed splits stacked)" if len(sizes) == 1 else
                " width (splits of unequal size padded and masked)")
            groups.append(Group(members, "vectorized", why))
    return groups
