"""Sampled search: points drawn from --param distributions at random, or proposed by TPE (Optuna) in batches.

A point is a set of overrides, as a grid point is: it trains with every seed, stacked with the other
points of its batch, and is scored by its seeds' mean headline metric on the ranking split. Random
search draws every point at once from one numpy generator; TPE asks for `batch` points at a time
(constant liar, so a batch spreads out), is told each batch's scores, and asks again. The same
--search-seed gives the same points.
"""

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from nnlab.errors import UsageError

INSTALL_HINT = 'pip install "nnlab[search]"'
FORMS = "loguniform(a,b), uniform(a,b), int(a,b) or choice(v1,v2,...)"


@dataclass
class SearchOptions:
    """--search and its options: the strategy, how many points, the distributions, the seed, TPE's batch."""

    strategy: str
    trials: int
    params: list
    seed: int
    batch: int


def search_options(search: str | None, trials: int | None, params: list[str] | None, seed: int, batch: int,
                   grid: bool) -> SearchOptions | None:
    """The --search flags checked before anything is read (Optuna installed for tpe); None without --search."""
    if search is None:
        given = [flag for flag, value in (("--trials", trials), ("--param", params)) if value]
        if given:
            raise UsageError(f"{' and '.join(given)} need{'s' if len(given) == 1 else ''} --search random or "
                             "--search tpe")
        return None
    if search not in ("random", "tpe"):
        raise UsageError(f"--search: '{search}' is not a search; use random or tpe")
    if grid:
        raise UsageError("--grid and --search: pick one (a choice(...) --param covers a list of values)")
    if not params:
        raise UsageError('--search needs one or more --param KEY=DIST, e.g. --param "optimizer.lr=loguniform(1e-4,1)"')
    trials = 16 if trials is None else trials
    if trials < 1 or batch < 1:
        raise UsageError(f"--trials and --batch: {trials if trials < 1 else batch} is not a count; use 1 or more")
    if search == "tpe":
        require_optuna()
    return SearchOptions(search, trials, parse_params(params), seed, batch)


@dataclass(frozen=True)
class Param:
    """One searched key and its distribution."""

    key: str
    kind: str  # loguniform | uniform | int | choice
    low: float = 0.0
    high: float = 0.0
    choices: tuple = ()

    def draw(self, rng) -> str:
        """A value from a numpy Generator, as override text."""
        if self.kind == "choice":
            return self.choices[int(rng.integers(len(self.choices)))]
        if self.kind == "int":
            return str(int(rng.integers(int(self.low), int(self.high) + 1)))
        if self.kind == "loguniform":
            return self.text(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return self.text(rng.uniform(self.low, self.high))

    def suggest(self, trial) -> str:
        """A value an Optuna trial suggests, as override text."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return str(trial.suggest_int(self.key, int(self.low), int(self.high)))
        return self.text(trial.suggest_float(self.key, self.low, self.high, log=self.kind == "loguniform"))

    def text(self, value: float) -> str:
        """Four significant digits (readable in tables and folder receipts), kept inside [low, high]."""
        short = f"{value:.4g}"
        return short if self.low <= float(short) <= self.high else repr(value)

    def describe(self) -> str:
        """The distribution as --param wrote it: loguniform(0.0001, 1), choice(relu, tanh), ..."""
        args = self.choices if self.kind == "choice" else (f"{self.low:g}", f"{self.high:g}")
        return f"{self.kind}({', '.join(args)})"

    @property
    def endpoints(self) -> list[str]:
        return list(self.choices) if self.kind == "choice" else [repr(self.low), repr(self.high)] \
            if self.kind != "int" else [str(int(self.low)), str(int(self.high))]


def parse_params(items: list[str]) -> list[Param]:
    """['optimizer.lr=loguniform(1e-4,1)', 'model.hidden=choice([8],[16,16])'] -> Params."""
    from nnlab.sweep.plan import split_top_level

    params = []
    for item in items:
        key, sep, text = item.partition("=")
        match = re.fullmatch(r"\s*(loguniform|uniform|int|choice)\s*\((.*)\)\s*", text)
        if not sep or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", key) or not match:
            raise UsageError(f"--param '{item}': expected KEY=DIST with a dotted key and DIST one of {FORMS}, "
                             'for example --param "optimizer.lr=loguniform(1e-4,1)"')
        kind, args = match.group(1), split_top_level(match.group(2))
        if key in (p.key for p in params):
            raise UsageError(f"--param: key '{key}' given twice")
        params.append(_param(item, key, kind, args))
    return params


def _param(item: str, key: str, kind: str, args: list[str]) -> Param:
    if kind == "choice":
        if not all(args):
            raise UsageError(f"--param '{item}': choice needs one or more values, e.g. --param \"{key}=choice(a,b)\"")
        return Param(key, kind, choices=tuple(args))
    try:
        low, high = (float(a) for a in args)
    except ValueError:
        raise UsageError(f"--param '{item}': {kind} needs two numbers, e.g. --param \"{key}={kind}(1,10)\"") from None
    if kind == "int" and not (low.is_integer() and high.is_integer() and low <= high):
        raise UsageError(f"--param '{item}': int(a,b) needs whole numbers a <= b")
    if kind != "int" and not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise UsageError(f"--param '{item}': {kind}(a,b) needs finite numbers a < b")
    if kind == "loguniform" and low <= 0:
        raise UsageError(f"--param '{item}': loguniform(a,b) needs 0 < a < b")
    return Param(key, kind, low, high)


def check_params(config, overrides: list[str], params: list[Param]) -> None:
    """Each distribution's ends (each choice) must make a valid config, so no trial fails halfway through."""
    from nnlab.config import load_config
    from nnlab.errors import ConfigError

    for p in params:
        for value in p.endpoints:
            try:
                load_config(config, [*overrides, f"{p.key}={value}"])
            except ConfigError as e:
                raise UsageError(f"--param {p.key}: the value {value} is not allowed: {e}") from None


def random_points(params: list[Param], n: int, seed: int) -> list[dict]:
    """n points drawn independently, each {key: value text}, from numpy's PCG64 seeded with `seed`."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return [{p.key: p.draw(rng) for p in params} for _ in range(n)]


def require_optuna(flag: str = "--search tpe"):
    try:
        import optuna
    except ImportError:
        raise UsageError(f"{flag}: needs Optuna, which is not installed; install it with: {INSTALL_HINT}") from None
    return optuna


@dataclass
class Objective:
    """A point's score for the search: the mean over its seeds (None: it has no numbers, e.g. failed on a
    cluster); `pruned_at`: the epoch halving dropped it at (the score is then its score there)."""

    value: float | None
    pruned_at: int | None = None


class TPE:
    """Optuna's TPE sampler, asked for points in batches and told their objectives (maximized)."""

    def __init__(self, params: list[Param], seed: int, n_trials: int):
        import warnings

        optuna = require_optuna()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # multivariate and constant_liar are marked experimental
            sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True,
                                                 n_startup_trials=min(10, max(1, n_trials // 4)))
        self.study = optuna.create_study(direction="maximize", sampler=sampler)
        self.params, self.asked = params, []

    def ask(self, n: int) -> list[dict]:
        self.asked = [self.study.ask() for _ in range(n)]
        return [{p.key: p.suggest(trial) for p in self.params} for trial in self.asked]

    def tell(self, objectives: list[Objective]) -> None:
        from optuna.trial import TrialState

        for trial, objective in zip(self.asked, objectives):
            if objective.value is None:
                self.study.tell(trial, state=TrialState.FAIL)
            elif objective.pruned_at is not None:
                trial.report(objective.value, objective.pruned_at)
                self.study.tell(trial, state=TrialState.PRUNED)
            else:
                self.study.tell(trial, objective.value)


def run_search(strategy: str, params: list[Param], n_trials: int, batch: int, seed: int,
               train_points: Callable[[list[dict], int], list[Objective] | None]) -> None:
    """Propose points and have `train_points(points, first_point_number)` train and score them; it returns
    None to stop early (Ctrl-C on a cluster)."""
    if strategy == "random":
        train_points(random_points(params, n_trials, seed), 0)
        return
    tpe = TPE(params, seed, n_trials)
    done = 0
    while done < n_trials:
        points = tpe.ask(min(batch, n_trials - done))
        objectives = train_points(points, done)
        if objectives is None:
            return
        tpe.tell(objectives)
        done += len(points)


def objectives(trials: list, results: list, split: str, task: str) -> list[Objective]:
    """Each point's Objective, in point order: its seeds' mean headline metric on `split`, or, for a point
    halving dropped, their mean score at the rung it was dropped at; -inf when a seed diverged (TPE ranks
    its trials, so the worst possible value only says "avoid this")."""
    name = "accuracy" if task == "classification" else "r2"
    by_point: dict[int, list] = {}
    for trial, result in zip(trials, results):
        by_point.setdefault(trial.point, []).append(result)
    out = []
    for point in sorted(by_point):
        runs = by_point[point]
        if any(r.status == "failed" for r in runs):
            out.append(Objective(None))
            continue
        pruned_at = next((r.stopped_at for r in runs if r.stopped_at is not None), None)
        if pruned_at is not None:
            values = [next(row["score"] for row in r.rungs if row["epoch"] == pruned_at) for r in runs]
        else:
            values = [r.metrics.get(split, {}).get(name, math.nan) if r.status == "finished" else math.nan
                      for r in runs]
        mean = sum(values) / len(values)
        out.append(Objective(mean if math.isfinite(mean) else -math.inf, pruned_at))
    return out
