"""Search beyond grids, measured in one process run: halving, TPE vs random, --workers 2, 256 seeds end to end.

    python tests/benchmarks/bench_search.py                      # everything (several minutes on 2 cores)
    python tests/benchmarks/bench_search.py --only cluster --repeats 3

Sections (each prints a table, the quality bar it checks, and the load average before and after):
  halving  successive halving against the full grid on wine and on a synthetic task with a known best
           point, over 10 search seeds (disjoint seed sets): same best point? what share of member-epochs?
  tpe      --search tpe against --search random, 64 trials each, on a 2-parameter training problem
           (SGD lr and momentum on linear regression), averaged over 5 search seeds
  cluster  `nnlab sweep` of 4 grid points x 16 seeds x 1000 epochs (--cluster-seeds), in-process against
           --workers 2, end to end through the CLI (and the training phase alone), contenders alternated
  seeds    256 wine seeds: the stack end to end (build, train, score) against 256 sequential loops, and
           `nnlab train --seeds 256` through the CLI
Not collected by pytest (not named test_*.py). Numbers from a shared machine are only comparable
within one run: ratios are what to read.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
WINE = ROOT / "configs" / "wine_mlp.yaml"
WINE_LRS = ["0.01", "0.02", "0.05", "0.1", "0.2", "0.35", "0.5", "0.7", "1"]


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def synthetic_config(folder: Path) -> Path:
    """A cubic fitted to noisy sin(x) by full-batch gradient descent on the sum of squared errors, 500 steps.
    Its loss is a quadratic whose Hessian 2·AᵀA (A = [1, x, x², x³]) has λmax ≈ 4.5e5: any lr above 2/λmax
    diverges, and below it the slowest direction converges as (1 - lr·λmin)^t, so the largest stable lr of
    the grid is the known best point."""
    path = folder / "synthetic.yaml"
    path.write_text("name: synthetic\ndata: {source: sine, n_samples: 2000, noise: 0.1, test_size: 0.2, "
                    "standardize: false}\nmodel: {kind: polynomial, degree: 3}\nloss: sse\n"
                    "optimizer: {name: sgd, lr: 1e-6}\ntrain: {epochs: 500}\nthreads: 1\n")
    return path


SYNTHETIC_LRS = ["2e-7", "5e-7", "1e-6", "1.5e-6", "2e-6", "2.5e-6", "3e-6", "3.5e-6", "4e-6"]


def known_best_lr(config: Path, seeds: list[int], lrs: list[str]) -> str:
    """The largest lr of the grid below 2/λmax of the loss's Hessian 2·AᵀA on every seed's train split."""
    import numpy as np

    from nnlab.config import load_config
    from nnlab.data import load_data

    limit = math.inf
    for seed in seeds:
        x = load_data(load_config(config, [f"seed={seed}"])).X_train[:, 0].astype(np.float64)
        A = np.column_stack([x ** k for k in range(4)])
        limit = min(limit, 2 / np.linalg.eigvalsh(2 * A.T @ A).max())
    return max((lr for lr in lrs if float(lr) < limit), key=float)


def best_point(config: Path, points: list[dict], seeds: list[int], halving: bool):
    """(the points best first, member-epochs used, full grid's member-epochs, seconds) of one sweep, in process."""
    from nnlab.sweep.aggregate import summarize
    from nnlab.sweep.batch import prepare_batch
    from nnlab.sweep.halving import halving_summary
    from nnlab.sweep.local import run_groups

    b = prepare_batch(config, [], points, seeds, halving=(3, None) if halving else None)
    start = time.perf_counter()
    b.results, _ = run_groups(b.trials, b.splits, b.groups)
    seconds = time.perf_counter() - start
    ranked = summarize(b.trials, b.results, b.trials[0].cfg.task)
    compute = halving_summary(b.trials, b.results, b.groups, "test")
    return ranked, compute["member_epochs"], compute["full_grid_member_epochs"], seconds


def _key(point: dict) -> str:
    return " ".join(map(str, point["overrides"].values()))


def bench_halving(n_searches: int, seeds_per_point: int) -> list[dict]:
    """For each task and search seed (a disjoint set of training seeds): the full grid's best point, halving's,
    and the regret: how far below the full grid's best halving's pick is in the full grid's own table."""
    from nnlab.sweep.plan import grid_points, parse_grid

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tasks = {"wine, 9 lrs 0.01-1, 1000 epochs": (WINE, ["optimizer.lr=" + ",".join(WINE_LRS)]),
                 "wine, 3 lrs x 3 momentums, 1000 epochs": (WINE, ["optimizer.lr=0.1,0.3,1",
                                                                   "optimizer.momentum=0,0.5,0.9"]),
                 "synthetic cubic, 9 lrs, 500 epochs": (synthetic_config(Path(tmp)),
                                                         ["optimizer.lr=" + ",".join(SYNTHETIC_LRS)])}
        for task, (config, grid) in tasks.items():
            points = grid_points(parse_grid(grid))
            same, fractions, times, picks, regrets = 0, [], {"full": 0.0, "halving": 0.0}, [], []
            for s in range(n_searches):
                seeds = list(range(s * seeds_per_point, (s + 1) * seeds_per_point))
                full, _, _, t_full = best_point(config, points, seeds, halving=False)
                halved, used, total, t_half = best_point(config, points, seeds, halving=True)
                headline = next(k for k in full[0]["metrics"]["test"] if k in ("accuracy", "r2"))
                score = {_key(p): p["metrics"]["test"][headline]["mean"] for p in full}
                same += _key(full[0]) == _key(halved[0])
                regrets.append(score[_key(full[0])] - score[_key(halved[0])])
                fractions.append(used / total)
                times["full"] += t_full
                times["halving"] += t_half
                picks.append(f"{_key(full[0])}/{_key(halved[0])}")
            row = {"task": task, "searches": n_searches, "seeds per point": seeds_per_point,
                   "same best point": f"{same} of {n_searches}", "member-epochs used": f"{max(fractions):.0%}",
                   "mean regret": statistics.fmean(regrets), "worst regret": max(regrets),
                   "full grid s": times["full"], "halving s": times["halving"],
                   "wall speedup": times["full"] / times["halving"], "best (full/halving) per search": ", ".join(picks)}
            if "synthetic" in task:
                row["known best lr"] = known_best_lr(config, list(range(n_searches * seeds_per_point)), SYNTHETIC_LRS)
            rows.append(row)
    return rows


def tpe_problem(folder: Path) -> Path:
    """The cubic of the halving section, with less noise and 30 steps: far from converged, so the test R² it
    reaches depends sharply on lr (it diverges above about 4.4e-6, momentum lowers that edge) and on momentum
    (which speeds up the slow direction)."""
    path = folder / "tpe.yaml"
    path.write_text(synthetic_config(folder).read_text().replace("epochs: 500", "epochs: 30")
                    .replace("noise: 0.1", "noise: 0.01"))
    return path


TPE_PARAMS = ["optimizer.lr=loguniform(1e-8,1e-5)", "optimizer.momentum=uniform(0,0.99)"]


def search_best(config: Path, strategy: str, seed: int, trials: int, batch: int) -> float:
    """The best test R² a search of `trials` points finds (in process, the CLI's batches)."""
    from nnlab.sweep import search as sampled
    from nnlab.sweep.batch import prepare_batch
    from nnlab.sweep.local import run_groups

    params = sampled.parse_params(TPE_PARAMS)
    found = []

    def train_points(points, first):
        b = prepare_batch(config, [], points, [0], first=first)
        b.results, _ = run_groups(b.trials, b.splits, b.groups)
        scores = sampled.objectives(b.trials, b.results, "test", "regression")
        found.extend(o.value for o in scores)
        return scores

    sampled.run_search(strategy, params, trials, batch, seed, train_points)
    return max(found)


def bench_tpe(n_searches: int, trials: int, batch: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        config = tpe_problem(Path(tmp))
        best = {strategy: [] for strategy in ("tpe", "random")}
        for seed in range(n_searches):
            for strategy in best:  # alternated
                best[strategy].append(search_best(config, strategy, seed, trials, batch))
    return [{"search": strategy, "trials": trials, "batch": batch if strategy == "tpe" else trials,
             "search seeds": n_searches, "mean best test R²": statistics.fmean(v),
             "mean best 1 - R²": statistics.fmean(1 - x for x in v), "per seed": " ".join(f"{x:.5f}" for x in v)}
            for strategy, v in best.items()]


def cluster_sweep(seeds: int) -> list[str]:
    return ["sweep", str(WINE), "--grid", "optimizer.lr=0.02,0.05,0.1,0.2", "--seeds", str(seeds), "--json",
            "--no-plots", "device=cpu"]


def cli_run(args: list[str], out: Path) -> tuple[float, dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "nnlab", *args, "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    return time.perf_counter() - start, json.loads(done.stdout)


def _stack_loop(epochs: int) -> float:
    """Loop seconds of 32 wine models stacked for `epochs` epochs: one --workers 2 chunk, smaller."""
    import torch

    from nnlab.config import load_config
    from nnlab.data import load_many
    from nnlab.training.group import train_group

    torch.set_num_threads(1)
    cfgs = [load_config(WINE, [f"seed={s}", f"train.epochs={epochs}", "device=cpu"]) for s in range(32)]
    return train_group([c.to_dict() for c in cfgs], load_many(cfgs), vectorize=True)[0].fit.seconds


def parallel_capacity(epochs: int = 300) -> float:
    """How much more two processes training a 32-model stack each get done than one (2.0 on two idle cores):
    the ceiling the machine (and its other users) leave for --workers 2 at the time of the measurement."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_stack_loop, [1, 1])  # both processes started and warm
        one = pool.apply(_stack_loop, (epochs,))
        two = max(pool.map(_stack_loop, [epochs, epochs]))
    return 2 * one / two


def bench_cluster(repeats: int, seeds: int = 16) -> list[dict]:
    contenders = {"in-process": [], "--workers 2": ["--workers", "2"]}
    wall = {name: [] for name in contenders}
    train = {name: [] for name in contenders}
    before = parallel_capacity()
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            for name, extra in contenders.items():
                seconds, summary = cli_run(cluster_sweep(seeds) + extra, Path(tmp) / f"{r}")
                wall[name].append(seconds)
                train[name].append(summary["train_seconds"])
                plan = summary.get("cluster", [""])[0]
    capacity = f"{before:.2f}x before, {parallel_capacity():.2f}x after"
    rows = [{"contender": name, "repeats": repeats, "wall best s": min(wall[name]),
             "wall median s": statistics.median(wall[name]), "training phase best s": min(train[name]),
             "training phase median s": statistics.median(train[name])} for name in contenders]
    rows.append({"contender": "in-process / --workers 2",
                 "wall best s": min(wall["in-process"]) / min(wall["--workers 2"]),
                 "wall median s": statistics.median(wall["in-process"]) / statistics.median(wall["--workers 2"]),
                 "training phase best s": min(train["in-process"]) / min(train["--workers 2"]),
                 "training phase median s": statistics.median(train["in-process"]) /
                 statistics.median(train["--workers 2"])})
    rows.append({"contender": f"two processes training a stack each vs one (2.0 on two idle cores): {capacity}"})
    print(plan)
    return rows


def bench_seeds(k: int, epochs: int) -> list[dict]:
    from nnlab.config import load_config
    from nnlab.data import load_many
    from nnlab.training.group import train_group

    cfgs = [load_config(WINE, [f"seed={s}", f"train.epochs={epochs}", "device=cpu"]) for s in range(k)]
    splits = load_many(cfgs)
    dicts = [c.to_dict() for c in cfgs]
    train_group(dicts[:2], splits[:2], vectorize=True)  # warm: vmap's lazy imports
    start = time.perf_counter()
    stacked = train_group(dicts, splits, vectorize=True)
    stacked_total = time.perf_counter() - start
    start = time.perf_counter()
    alone = train_group(dicts, splits, vectorize=False)
    sequential_total = time.perf_counter() - start
    sequential_loops = sum(r.fit.seconds for r in alone)
    with tempfile.TemporaryDirectory() as tmp:
        cli_s, _ = cli_run(["train", str(WINE), "--seeds", str(k), f"train.epochs={epochs}", "device=cpu", "--json"],
                           Path(tmp))
    same = all(a.metrics == b.metrics for a, b in zip(stacked, alone))
    return [{"K": k, "epochs": epochs, "sequential loops s": sequential_loops, "sequential total s": sequential_total,
             "stacked loop s": stacked[0].fit.seconds, "stacked end to end s": stacked_total,
             "end to end vs sequential loops": sequential_loops / stacked_total,
             "CLI train --seeds s": cli_s, "CLI vs sequential loops": sequential_loops / cli_s,
             "same metrics": same}]


def show(title: str, rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    keys = list(dict.fromkeys(k for r in rows for k in r))
    for k in keys:
        table.add_column(k, justify="left" if k in ("task", "search", "contender", "per seed") else "right")
    for r in rows:
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v if v is not None else "") for v in
                        (r.get(k) for k in keys)])
    Console(width=250).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="halving,tpe,cluster,seeds", help="comma-separated sections")
    parser.add_argument("--repeats", type=int, default=3, help="alternating repeats of the cluster section")
    parser.add_argument("--cluster-seeds", type=int, default=16, help="seeds per grid point of the cluster section "
                        "(16: the issue's sweep; 64: stacks big enough that halving one halves its time)")
    parser.add_argument("--searches", type=int, default=10, help="search seeds of the halving section")
    parser.add_argument("--seeds-k", type=int, default=256, help="models of the seeds section")
    parser.add_argument("--seeds-epochs", type=int, default=200, help="epochs per model in the seeds section")
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "benchmarks" / "results" / "search.json")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    report = {}
    for section in args.only.split(","):
        before = load()
        start = time.perf_counter()
        if section == "halving":
            rows = bench_halving(args.searches, 4)
            title = "successive halving vs the full grid (bar: same best in >= 9 of 10, <= 40% of member-epochs)"
        elif section == "tpe":
            rows = bench_tpe(5, 64, 8)
            title = f"TPE vs random search, 64 trials of {' '.join(TPE_PARAMS)} (bar: TPE's mean best >= random's)"
        elif section == "cluster":
            rows = bench_cluster(args.repeats, args.cluster_seeds)
            title = (f"nnlab sweep 4 points x {args.cluster_seeds} seeds x 1000 epochs: in-process vs --workers 2 "
                     "(bar at 16 seeds: >= 1.4x)")
        elif section == "seeds":
            rows = bench_seeds(args.seeds_k, args.seeds_epochs)
            title = f"{args.seeds_k} wine seeds: stacked end to end vs sequential loops (bar: >= 12x)"
        else:
            raise SystemExit(f"unknown section {section}")
        show(title, rows)
        print(f"load average before {before}, after {load()}; {time.perf_counter() - start:.0f} s")
        report[section] = {"rows": rows, "load_before": before, "load_after": load()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=str))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
