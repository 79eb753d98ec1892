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
        values = split_top_level(text)
        if not sep or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", key) or not all(values):
            raise UsageError(f"--grid '{item}': expected key=v1,v2,... with a dotted key, "
                             "for example --grid optimizer.lr=0.01,0.1")
        if key in (k for k, _ in grid):
            raise UsageError(f"--grid: key '{key}' given twice; list all its values in one --grid")
        grid.append((key, values))
    return grid


def split_top_level(text: str) -> list[str]:
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
    args: list[str]  # every override, as `nnlab train CONFIG ARGS...` would be given them (the receipt keeps them)


def grid_points(grid: list[tuple[str, list[str]]]) -> list[dict]:
    """The cartesian product of a grid, one {key: value text} per point (one empty point without a grid)."""
    return [dict(pairs) for pairs in itertools.product(*[[(key, v) for v in values] for key, values in grid])]


def expand(config, overrides: list[str], grid: list[tuple[str, list[str]]], seeds: list[int]) -> list[Trial]:
    """Every grid point x every seed, each validated like `nnlab train CONFIG ... key=value seed=S`."""
    return expand_points(config, overrides, grid_points(grid), seeds)


def expand_points(config, overrides: list[str], points: list[dict], seeds: list[int], first: int = 0) -> list[Trial]:
    """Each point ({key: value text}, numbered from `first`) x every seed, validated as `nnlab train` would."""
    trials = []
    for point, pairs in enumerate(points, start=first):
        extra = [f"{k}={v}" for k, v in pairs.items()]
        for seed in seeds:
            args = [*overrides, *extra, f"seed={seed}"]
            trials.append(Trial(point, dict(pairs), seed, load_config(config, args), args))
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
    halving: dict | None = None  # successive halving in this stack: {"points", "rungs", "eta"} (training.halving)


def plan(trials: list[Trial], splits: list, vectorize: bool = True) -> list[Group]:
    """Group trials by group_key; a group of one, or one whose stacked data would be too big, runs alone."""
    by_key: dict[str, list[int]] = {}
    for i, (trial, s) in enumerate(zip(trials, splits)):
        by_key.setdefault(group_key(trial.cfg, s), []).append(i)
    groups = []
    for members in by_key.values():
        data_bytes = sum(a.nbytes for a in splits[members[0]].arrays())
        shared = all(splits[members[0]].same_arrays(splits[i]) for i in members[1:])
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
