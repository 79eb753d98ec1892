"""nnlab against hand-written loops and other libraries, in one process run; prints tables, writes JSON.

    python tests/benchmarks/bench.py                  # everything (several minutes on 2 busy cores)
    python tests/benchmarks/bench.py --only single,cli --repeats 5 --out results.json

Sections: single (time per step: nnlab fit() vs a minimal hand-written torch loop, a notebook-style
loop, scikit-learn, Lightning/skorch when installed), multi (K sequential runs vs K stacked, K = 1,
8, 64, 256), cli (startup of --help and check), data (1e4/1e5/1e6-row CSVs: load, one epoch, peak
memory). Timings alternate between contenders and keep the best and the median of the repeats, so
noise from other processes hits both sides alike. Not collected by pytest (not named test_*.py).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
SINGLE_CASES = {  # name: (config, overrides)
    "wine_mlp full batch": ("wine_mlp.yaml", ["train.epochs=300"]),
    "linear batch 32, 10k rows": ("linear_regression.yaml", ["data.n_samples=12500", "train.batch_size=32",
                                                             "train.epochs=2", "train.log_every=1"]),
    "cubic full batch": ("cubic_sine.yaml", ["train.epochs=2000"]),
}


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def alternate(contenders: dict, repeats: int) -> dict:
    """{name: [seconds per repeat]}, running the contenders in turn within each repeat."""
    times = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            times[name].append(fn())
    return times


def best_and_median(seconds: list[float]) -> dict:
    return {"best": min(seconds), "median": statistics.median(seconds), "repeats": len(seconds)}


# ---------------------------------------------------------------- single run


def setup_case(config: str, overrides: list[str]):
    from nnlab.config import load_config
    from nnlab.data import load_data
    from nnlab.training.setup import prepare

    cfg = load_config(ROOT / "configs" / config, overrides)
    splits = load_data(cfg)
    return cfg, splits, prepare(cfg, splits)


def nnlab_loop(cfg, splits):
    """nnlab's own fit() from a fresh prepare(); returns loop seconds, steps and the final metric."""
    from nnlab.training.loop import evaluate, fit
    from nnlab.training.setup import prepare

    setup = prepare(cfg, splits)
    result = fit(setup, cfg.train)
    X, y, X_test, y_test = setup.tensors
    scored = (X_test, y_test) if len(X_test) else (X, y)
    metric = evaluate(setup.model, setup.loss_fn, *scored, cfg.task, prefix="test_" if len(X_test) else "train_")
    return result.seconds, result.steps, metric


def hand_loop(cfg, splits, notebook: bool = False):
    """A minimal clean torch loop (torch.optim foreach SGD, no host sync per step), or a notebook-style
    one (DataLoader for minibatches, whole tensors for full batch, loss.item() every step)."""
    import torch

    from nnlab.training.device import seed_everything
    from nnlab.training.setup import make_loss

    seed_everything(cfg.seed)
    model = cfg.model.build(splits.n_features, splits.n_outputs)
    loss_fn = make_loss(cfg.loss)
    o = cfg.optimizer
    opt = torch.optim.SGD(model.parameters(), lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay,
                          foreach=True)
    X, y, X_test, y_test = splits.tensors("cpu")
    n, bs = len(X), cfg.train.batch_size or len(X)
    gen = torch.Generator().manual_seed(cfg.seed)
    steps, start = 0, time.perf_counter()
    if notebook:
        from torch.utils.data import DataLoader, TensorDataset

        loader = DataLoader(TensorDataset(X, y), batch_size=bs, shuffle=True, generator=gen) if bs < n else [(X, y)]
        for _ in range(cfg.train.epochs):
            running = 0.0
            for xb, yb in loader:
                opt.zero_grad()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
                running += loss.item()
                steps += 1
    else:
        for _ in range(cfg.train.epochs):
            order = torch.randperm(n, generator=gen) if bs < n else None
            for i in range(0, n, bs):
                xb, yb = (X, y) if order is None else (X[order[i:i + bs]], y[order[i:i + bs]])
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
                steps += 1
    seconds = time.perf_counter() - start
    with torch.inference_mode():
        scores = model(X_test if len(X_test) else X)
    return seconds, steps, scores


def sklearn_run(name: str, cfg, splits):
    """scikit-learn for the same number of steps: MLPClassifier (full-batch SGD) or SGDRegressor (per-sample SGD)."""
    import warnings

    if cfg.model.kind == "mlp":
        from sklearn.neural_network import MLPClassifier

        est = MLPClassifier(hidden_layer_sizes=tuple(cfg.model.hidden), solver="sgd", batch_size=len(splits.X_train),
                            learning_rate_init=cfg.optimizer.lr, momentum=cfg.optimizer.momentum,
                            nesterovs_momentum=False, alpha=0.0, max_iter=cfg.train.epochs, tol=0.0,
                            n_iter_no_change=10**9, shuffle=False, random_state=cfg.seed)
        steps = cfg.train.epochs
    elif cfg.model.kind == "linear":
        from sklearn.linear_model import SGDRegressor

        est = SGDRegressor(learning_rate="constant", eta0=cfg.optimizer.lr / 10, max_iter=cfg.train.epochs, tol=None,
                           penalty=None, random_state=cfg.seed)
        steps = cfg.train.epochs * len(splits.X_train)  # one update per sample
    else:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = splits.y_train if splits.y_train.ndim == 1 else splits.y_train[:, 0]
        seconds = timed(lambda: est.fit(splits.X_train, y))
    X, y = (splits.X_test, splits.y_test) if len(splits.X_test) else (splits.X_train, splits.y_train)
    score = est.score(X, y if y.ndim == 1 else y[:, 0])
    return {"seconds": seconds, "steps": steps, "metric": score,
            "note": "per-sample SGD: a step is one row" if cfg.model.kind == "linear" else "full-batch SGD"}


def bench_single(repeats: int) -> list[dict]:
    import importlib.util

    import torch

    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)  # pay torch.optim's import outside the timings
    rows = []
    for name, (config, overrides) in SINGLE_CASES.items():
        cfg, splits, _ = setup_case(config, overrides)
        out = {}
        contenders = {
            "nnlab": lambda: out.__setitem__("nnlab", nnlab_loop(cfg, splits)) or out["nnlab"][0],
            "hand-written": lambda: out.__setitem__("hand", hand_loop(cfg, splits)) or out["hand"][0],
            "notebook-style": lambda: out.__setitem__("notebook", hand_loop(cfg, splits, True)) or out["notebook"][0],
        }
        times = alternate(contenders, repeats)
        steps = out["nnlab"][1]
        metric = out["nnlab"][2]
        headline = next(k for k in metric if not k.endswith("loss"))
        hand_best = min(times["hand-written"])
        for contender, seconds in times.items():
            stats = best_and_median(seconds)
            rows.append({"case": name, "contender": contender, "steps": steps, **stats,
                         "ms_per_step": 1e3 * stats["best"] / steps,
                         "ratio_vs_hand": stats["best"] / hand_best,
                         "median_ratio_vs_hand": stats["median"] / statistics.median(times["hand-written"]),
                         "metric": {headline: metric[headline]} if contender == "nnlab" else None})
        sk = sklearn_run(name, cfg, splits)
        if sk:
            rows.append({"case": name, "contender": "scikit-learn", "steps": sk["steps"], "best": sk["seconds"],
                         "median": sk["seconds"], "repeats": 1, "ms_per_step": 1e3 * sk["seconds"] / sk["steps"],
                         "ratio_vs_hand": sk["seconds"] / hand_best * steps / sk["steps"],
                         "metric": {"score": sk["metric"]}, "note": sk["note"]})
        for lib in ("lightning", "skorch"):
            if importlib.util.find_spec(lib) is None:
                rows.append({"case": name, "contender": lib, "skipped": f"{lib} is not installed"})
    return rows


# ---------------------------------------------------------------- many runs


def bench_multi(ks: list[int], epochs: int) -> list[dict]:
    from nnlab.config import load_config
    from nnlab.data import load_data
    from nnlab.training.group import train_group

    rows = []
    for K in ks:
        cfgs = [load_config(ROOT / "configs" / "wine_mlp.yaml", [f"seed={s}", f"train.epochs={epochs}"])
                for s in range(K)]
        splits = [load_data(c) for c in cfgs]
        dicts = [c.to_dict() for c in cfgs]
        train_group(dicts[:2], splits[:2], vectorize=True)  # warm: vmap's lazy imports, sklearn
        repeats = 3 if K <= 8 else 2 if K <= 64 else 1
        seq_loop, vec_loop, seq_all, vec_all = [], [], [], []
        for _ in range(repeats):
            start = time.perf_counter()
            results = train_group(dicts, splits, vectorize=False)
            seq_all.append(time.perf_counter() - start)
            seq_loop.append(sum(r.fit.seconds for r in results))
            start = time.perf_counter()
            stacked = train_group(dicts, splits, vectorize=K > 1)
            vec_all.append(time.perf_counter() - start)
            vec_loop.append(stacked[0].fit.seconds if K > 1 else results[0].fit.seconds)
        same = all(a.metrics == b.metrics for a, b in zip(results, stacked))
        rows.append({"K": K, "epochs": epochs, "repeats": repeats,
                     "sequential_loop_s": min(seq_loop), "vectorized_loop_s": min(vec_loop),
                     "loop_speedup": min(seq_loop) / min(vec_loop),
                     "sequential_total_s": min(seq_all), "vectorized_total_s": min(vec_all),
                     "total_speedup": min(seq_all) / min(vec_all),
                     "end_to_end_vs_sequential_loops": min(seq_loop) / min(vec_all), "same_metrics": same})
    return rows


# ---------------------------------------------------------------- CLI startup


def bench_cli(repeats: int) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    commands = {"python -c pass (floor)": [sys.executable, "-c", "pass"],
                "nnlab --help": [sys.executable, "-m", "nnlab", "--help"],
                "nnlab check wine_mlp.yaml": [sys.executable, "-m", "nnlab", "check", "configs/wine_mlp.yaml"]}
    contenders = {name: (lambda c=c: timed(lambda: subprocess.run(c, cwd=ROOT, env=env, capture_output=True, check=True)))
                  for name, c in commands.items()}
    times = alternate(contenders, repeats)
    return [{"command": name, **best_and_median(s)} for name, s in times.items()]


# ---------------------------------------------------------------- large data

DATA_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[3])
import torch
import dataclasses
from nnlab.config import load_config
from nnlab.data import load_data
from nnlab.training.loop import fit
from nnlab.training.setup import prepare
torch.set_num_threads(1)
def status(key):  # VmHWM (peak) and VmRSS from /proc: ru_maxrss would inherit the parent's peak across exec
    line = next(l for l in open("/proc/self/status") if l.startswith(key + ":"))
    return int(line.split()[1]) * 1024
rss = lambda: status("VmHWM")
baseline = status("VmRSS")
cfg = load_config(sys.argv[1])
start = time.perf_counter(); splits = load_data(cfg); load_s = time.perf_counter() - start
after_load = rss()
setup = prepare(cfg, splits)
X, y = setup.tensors[0], setup.tensors[1]
epoch = {"nnlab": [], "hand": []}
for r in range(int(sys.argv[2]) + 1):  # the first round warms up and is dropped
    s = dataclasses.replace(prepare(cfg, splits), tensors=(X, y, X[:0], y[:0]))
    epoch["nnlab"].append(fit(s, cfg.train.model_copy(update={"log_every": 1})).seconds)
    s = prepare(cfg, splits)
    gen = torch.Generator().manual_seed(0)
    t = time.perf_counter()
    order = torch.randperm(len(X), generator=gen)
    for idx in order.split(1024):
        loss = s.loss_fn(s.model(X[idx]), y[idx]); loss.backward(); s.optimizer.step(); s.optimizer.zero_grad()
    epoch["hand"].append(time.perf_counter() - t)
print(json.dumps({"load_s": load_s, "torch_baseline_bytes": baseline, "peak_bytes": rss(),
                  "after_load_bytes": after_load, "epoch_nnlab_s": min(epoch["nnlab"][1:]),
                  "epoch_hand_s": min(epoch["hand"][1:]), "steps": -(-len(X) // 1024)}))
"""


def bench_data(sizes: list[int], repeats: int) -> list[dict]:
    import numpy as np

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"rows{n}.csv"
            rng = np.random.default_rng(0)
            X = rng.standard_normal((n, 20)).astype(np.float32)
            y = X[:, :3].sum(1) + 0.1 * rng.standard_normal(n).astype(np.float32)
            with open(path, "w") as f:  # written in chunks: the writer should not dominate peak memory
                f.write(",".join([f"x{i}" for i in range(20)] + ["y"]) + "\n")
                for lo in range(0, n, 100_000):
                    np.savetxt(f, np.column_stack([X[lo:lo + 100_000], y[lo:lo + 100_000]]), fmt="%.6g", delimiter=",")
            config = Path(tmp) / "big.yaml"
            config.write_text(f"data: {{source: csv, path: {path}, target: y}}\nmodel: {{kind: mlp, hidden: [32]}}\n"
                              "loss: mse\ntrain: {epochs: 1, batch_size: 1024}\nthreads: 1\n")
            out = subprocess.run([sys.executable, "-c", DATA_CHILD, str(config), str(repeats), str(ROOT)],
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout)
            data_bytes = n * 21 * 4
            rows.append({"rows": n, "float32_data_mb": data_bytes / 2**20, "load_s": r["load_s"],
                         "epoch_nnlab_s": r["epoch_nnlab_s"], "epoch_hand_s": r["epoch_hand_s"],
                         "epoch_ratio": r["epoch_nnlab_s"] / r["epoch_hand_s"], "steps": r["steps"],
                         "torch_baseline_mb": r["torch_baseline_bytes"] / 2**20,
                         "peak_mb": r["peak_bytes"] / 2**20,
                         "peak_over_baseline_in_data_sizes": (r["peak_bytes"] - r["torch_baseline_bytes"]) / data_bytes})
    return rows


# ---------------------------------------------------------------- report


def show(title: str, rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    keys = list(dict.fromkeys(k for r in rows for k in r))
    for k in keys:
        table.add_column(k, justify="right" if k not in ("case", "contender", "command", "note", "skipped") else "left")
    for r in rows:
        table.add_row(*[_cell(r.get(k)) for k in keys])
    Console(width=250).print(table)


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k} {_cell(x)}" for k, x in v.items())
    return str(v)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="single,multi,cli,data", help="comma-separated sections")
    parser.add_argument("--repeats", type=int, default=5, help="repeats per timing (best and median kept)")
    parser.add_argument("--ks", default="1,8,64,256", help="K values for the many-runs section")
    parser.add_argument("--multi-epochs", type=int, default=200, help="epochs per wine model in the many-runs section")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="CSV row counts for the data section")
    parser.add_argument("--out", type=Path, default=None, help="JSON output path (default tests/benchmarks/results/)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    sections = args.only.split(",")
    report = {"torch": torch.__version__, "cpus": os.cpu_count(), "load_average": os.getloadavg(),
              "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    if "single" in sections:
        report["single"] = bench_single(args.repeats)
        show("single run: seconds for the same steps (best of repeats), ratio vs the hand-written loop", report["single"])
    if "multi" in sections:
        report["multi"] = bench_multi([int(k) for k in args.ks.split(",")], args.multi_epochs)
        show(f"K wine models: sequential vs stacked ({args.multi_epochs} epochs each)", report["multi"])
    if "cli" in sections:
        report["cli"] = bench_cli(args.repeats)
        show("CLI startup (seconds)", report["cli"])
    if "data" in sections:
        report["data"] = bench_data([int(n) for n in args.sizes.split(",")], max(2, args.repeats // 2))
        show("large CSV: 20 numeric columns, MLP 20-32-1, batch 1024", report["data"])
    report["load_average_end"] = os.getloadavg()
    out = args.out or ROOT / "tests" / "benchmarks" / "results" / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
