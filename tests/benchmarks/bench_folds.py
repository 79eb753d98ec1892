"""k-fold on the stacked path: `nnlab train wine --folds 5` against 5 sequential runs of its folds, in one run.

    python tests/benchmarks/bench_folds.py [--repeats 3] [--epochs 1000]

Two comparisons, contenders alternated within each repeat (best and median of the repeats):
  end to end:  one `nnlab train configs/wine_mlp.yaml --folds 5` process, against five
               `nnlab train configs/wine_mlp.yaml data.folds=5 data.fold=K` processes one after another
               (what a user would run without --folds);
  in process:  train_group() of the 5 fold configs stacked, against the same 5 one after another
               (set-up, loop and scoring: no start-up cost on either side), and the training loops alone.
The 5 stacked models' metrics are checked against the sequential ones (float rounding). Not collected
by pytest (not named test_*.py).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
WINE = ROOT / "configs" / "wine_mlp.yaml"
K = 5


def cli(*args: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nnlab", "train", str(WINE), *args, "--json", "--no-plots", "--out",
                    "/tmp/nnlab-bench-folds"], check=True, capture_output=True, env=env, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1000, help="train.epochs (the bundled config: 1000)")
    args = parser.parse_args()
    epochs = [f"train.epochs={args.epochs}"]

    from nnlab.config import load_config
    from nnlab.data import load_many
    from nnlab.training.group import train_group

    cfgs = [load_config(WINE, [*epochs, f"data.folds={K}", f"data.fold={k}"]) for k in range(K)]
    splits, dicts = load_many(cfgs), [c.to_dict() for c in cfgs]
    times = {"cli --folds 5": [], "cli 5 sequential": [], "in-process stacked": [], "in-process sequential": [],
             "loop stacked": [], "loop sequential": []}
    for _ in range(args.repeats):
        times["cli --folds 5"].append(cli(*epochs, "--folds", str(K)))
        times["cli 5 sequential"].append(sum(cli(*epochs, f"data.folds={K}", f"data.fold={k}") for k in range(K)))
        start = time.perf_counter()
        stacked = train_group(dicts, splits, vectorize=True)
        times["in-process stacked"].append(time.perf_counter() - start)
        start = time.perf_counter()
        alone = train_group(dicts, splits, vectorize=False)
        times["in-process sequential"].append(time.perf_counter() - start)
        times["loop stacked"].append(stacked[0].fit.seconds)  # the training loops alone, no set-up or scoring
        times["loop sequential"].append(sum(r.fit.seconds for r in alone))
    same = all(s.metrics["test"]["accuracy"] == a.metrics["test"]["accuracy"] for s, a in zip(stacked, alone))
    best = {name: min(t) for name, t in times.items()}
    report = {"epochs": args.epochs, "folds": K, "repeats": args.repeats, "load": os.getloadavg(),
              "seconds": {name: {"best": min(t), "median": statistics.median(t)} for name, t in times.items()},
              "speedup_end_to_end": best["cli 5 sequential"] / best["cli --folds 5"],
              "speedup_in_process": best["in-process sequential"] / best["in-process stacked"],
              "speedup_loop": best["loop sequential"] / best["loop stacked"],
              "same_test_accuracy": same}
    print(f"wine, {K} folds, {args.epochs} epochs, best of {args.repeats} alternating repeats; "
          f"load average {' '.join(f'{v:.2f}' for v in report['load'])}")
    for name, t in report["seconds"].items():
        print(f"  {name:24s} {t['best']:7.2f} s (median {t['median']:.2f} s)")
    print(f"  speedup end to end:  {report['speedup_end_to_end']:.1f}x  (5 sequential `nnlab train` / one --folds 5)")
    print(f"  speedup in process:  {report['speedup_in_process']:.1f}x  (train_group one after another / stacked)")
    print(f"  speedup of the loops: {report['speedup_loop']:.1f}x  (fit() x 5 / fit_stacked)")
    print(f"  stacked test accuracies equal the sequential ones: {same}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
