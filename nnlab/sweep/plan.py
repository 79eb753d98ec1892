"""Planning many runs of one config: seeds x a grid of overrides, grouped so that compatible runs train stacked."""

import itertools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from nnlab.config import RunConfig
from nnlab.errors import UsageError
from nnlab.limits import MAX_RUNS  # one sweep's runs: bounded up front, so a typo (--seeds 1000000) is refused

# Settings that may differ between models trained in one stack (SGD keeps per-model tensors for them).
VECTORIZED_KEYS = ("lr", "momentum", "weight_decay")
MAX_STACKED_BYTES = 1 << 30  # above this, per-seed copies of the data are not stacked


def parse_seeds(text: str) -> list[int]:
    """'10' -> 0..9, '3-7' -> 3..7, '1,5,7' -> [1, 5, 7]; at most MAX_RUNS seeds, each in [0, 2^32)."""
    text = text.strip()
    bad = UsageError(f"--seeds: '{_short(text)}' is not a seed count or list; use e.g. 10, 0-9 or 1,5,7 "
                     "(distinct seeds in [0, 2^32))")
    if re.fullmatch(r"\d{1,30}", text):  # a count: its size is checked before the seeds are made
        if int(text) == 0:
            raise bad
        _check_runs(int(text), f"--seeds {text}: {int(text):,} runs per grid point")
        return list(range(int(text)))
    if re.fullmatch(r"\d{1,30}\s*-\s*\d{1,30}", text):
        low, high = (int(v) for v in text.split("-"))
        if high < low or high >= 2**32:
            raise bad
        _check_runs(high - low + 1, f"--seeds {text}: {high - low + 1:,} runs per grid point")
        return list(range(low, high + 1))
    parts = text.split(",")
    _check_runs(len(parts), f"--seeds: {len(parts):,} runs per grid point")
    try:
        seeds = [int(v) for v in parts]
    except ValueError:
        raise bad from None
    if len(set(seeds)) != len(seeds) or any(not 0 <= s < 2**32 for s in seeds):
        raise bad
    return seeds


def _check_runs(n: int, what: str) -> None:
    """Refuse, before any work, a plan of more than MAX_RUNS runs; `what` says how it adds up."""
    if n > MAX_RUNS:
        raise UsageError(f"{what}; one sweep trains at most {MAX_RUNS:,} runs: use fewer seeds or grid values, "
                         "or split the sweep")


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


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
    """One run: which grid point it belongs to, its seed (and k-fold fold), its validated config."""

    point: int
    overrides: dict  # the grid's key -> value (as YAML reads it: 0.1, [16]) for this point
    seed: int
    cfg: RunConfig
    args: list[str]  # every override, as `nnlab train CONFIG ARGS...` would be given them (the receipt keeps them)
    fold: int | None = None  # with --folds: which fold is this run's test split


def grid_points(grid: list[tuple[str, list[str]]]) -> list[dict]:
    """The cartesian product of a grid, one {key: value text} per point (one empty point without a grid)."""
    return [dict(pairs) for pairs in itertools.product(*[[(key, v) for v in values] for key, values in grid])]


def expand(config, overrides: list[str], grid: list[tuple[str, list[str]]], seeds: list[int] | None,
           folds: int | None = None) -> list[Trial]:
    """Every grid point x every seed (x every fold), each validated like
    `nnlab train CONFIG ... key=value seed=S [data.folds=K data.fold=F]`; `seeds` None: each point's own seed
    (the config's, or a seed=... override). More than MAX_RUNS runs is refused up front."""
    sizes = [len(values) for _, values in grid]
    n_seeds, n_folds = len(seeds or [None]), folds or 1
    n_runs = math.prod(sizes) * n_seeds * n_folds
    per_fold = f", x {n_folds} folds" if folds else ""
    _check_runs(n_runs, f"--grid: {' x '.join(f'{n:,}' for n in sizes) or 1} values = {math.prod(sizes):,} grid points, "
                        f"x {n_seeds:,} seed{'s' * (n_seeds > 1)}{per_fold} = {n_runs:,} runs")
    return expand_points(config, overrides, grid_points(grid), seeds, folds=folds)


def expand_points(config, overrides: list[str], points: list[dict], seeds: list[int] | None, first: int = 0,
                  folds: int | None = None, flag: str = "--grid") -> list[Trial]:
    """Each point ({key: value text}, numbered from `first`) x every seed (x every fold), validated as `nnlab train`
    would; a point's values are kept as YAML reads them (0.1, [16]). A value the config refuses is named as the
    `flag` that gave it (--grid optimizer.lr=abc)."""
    from nnlab.config import config_from, parse_yaml, read_config_file

    raw = read_config_file(Path(config))  # once: every trial is this file with its own overrides
    trials = []
    for point, pairs in enumerate(points, start=first):
        extra = [f"{k}={v}" for k, v in pairs.items()]
        values = {k: parse_yaml(v, f"{k}={v}") for k, v in pairs.items()}
        for seed in seeds or [None]:
            for fold in range(folds) if folds else [None]:
                args = [*overrides, *extra, *([f"seed={seed}"] if seed is not None else []),
                        *([f"data.folds={folds}", f"data.fold={fold}"] if folds else [])]
                cfg = config_from(raw, config, args, named={k: f"{flag} {k}={v}" for k, v in pairs.items()})
                trials.append(Trial(point, values, cfg.seed, cfg, args, fold))
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
    halving: dict | None = None  # successive halving in this stack: {"points", "rungs", "eta"} (training.halving)

    def record(self, runs: int | None = None) -> dict:
        """What summary.json's `paths` says of it: {"path", "runs" (default: all its trials), "reason"}."""
        return {"path": self.path, "runs": len(self.trials) if runs is None else runs, "reason": self.reason}


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
