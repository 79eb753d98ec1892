"""Wall time of everyday commands against the floor they cannot beat: the ratios issue 11 sets as targets.

    python tests/benchmarks/bench_wall.py              # 5 alternating repeats (about two minutes)
    python tests/benchmarks/bench_wall.py --repeats 9
    python tests/benchmarks/bench_wall.py --only check --repeats 15   # one row (and the floor it is measured against)

Each repeat runs every contender once, in turn, so load from other processes hits all of them alike;
ratios are taken within a repeat (a command against the floor measured next to it), and the median
ratio over the repeats is what the targets read. Targets:

  train configs/wine_mlp.yaml            <= 1.35 x (python -c "import torch, pandas" + its loop seconds)
  train ... --no-plots                   <= 1.20 x (the same)
  eval, predict, inspect                 <= python -c "import torch, pandas" + 0.4 s
  check                                  <= 1.5 x python -c "import pandas"; check, and grad on input it
                                         refuses, import no torch (grad that differentiates needs it)
Not collected by pytest (not named test_*.py).
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
WINE = ROOT / "configs" / "wine_mlp.yaml"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
IMPORTS_TORCH = ("import sys; sys.argv = ['nnlab', *sys.argv[1:]]\n"
                 "from nnlab.cli import app  # not run(): it ends the process before the question below\n"
                 "try: app(prog_name='nnlab')\n"
                 "except SystemExit: pass\n"
                 "print('torch' in sys.modules, file=sys.stderr)")
FLOOR = "floor: import torch, pandas"
ROWS = {"train": ("train", "train --no-plots", FLOOR), "eval": ("eval", FLOOR), "predict": ("predict", FLOOR),
        "inspect": ("inspect", FLOOR), "check": ("check", "floor: import pandas"), "grad": ("grad",)}  # --only


def run(args: list[str]) -> tuple[float, str]:
    """(wall seconds, stdout) of one command from the project root."""
    start = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, env=ENV, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, args))} failed ({done.returncode}):\n{done.stderr}")
    return seconds, done.stdout


def nnlab(*args) -> list[str]:
    return [sys.executable, "-m", "nnlab", *map(str, args)]


def imports_torch(*args) -> bool:
    done = subprocess.run([sys.executable, "-c", IMPORTS_TORCH, *map(str, args)], cwd=ROOT, env=ENV,
                          capture_output=True, text=True)
    return done.stderr.strip().splitlines()[-1] == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", nargs="+", choices=ROWS, default=list(ROWS),
                        help="measure only these commands (and the floors they are measured against)")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="nnlab-bench-"))
    run_dir = out / "none"
    if {"eval", "predict"} & set(args.only):
        _, text = run(nnlab("train", WINE, "--out", out, "--json", "--no-plots"))
        run_dir = json.loads(text)["run_dir"]
    print(f"load average before: {os.getloadavg()}")
    floor_cmd = [sys.executable, "-c", "import torch, pandas"]
    commands = {
        FLOOR: lambda: run(floor_cmd)[0],
        "floor: import pandas": lambda: run([sys.executable, "-c", "import pandas"])[0],
        "train": lambda: train(out, plots=True),
        "train --no-plots": lambda: train(out, plots=False),
        "eval": lambda: run(nnlab("eval", run_dir, "--json"))[0],
        "predict": lambda: run(nnlab("predict", run_dir, "--data", ROOT / "data" / "wine.csv", "--out",
                                     out / "p.csv", "--force", "--json"))[0],
        "inspect": lambda: run(nnlab("inspect", WINE, "--json"))[0],
        "check": lambda: run(nnlab("check", WINE, "--json"))[0],
        "grad": lambda: run(nnlab("grad", "x**2 + sin(y)", "x=2", "y=1", "--json"))[0],
    }
    wanted = {name for row in args.only for name in ROWS[row]}
    commands = {name: fn for name, fn in commands.items() if name in wanted}
    repeats = []
    for _ in range(args.repeats):
        repeats.append({name: fn() for name, fn in commands.items()})
    print(f"load average after: {os.getloadavg()}\n")

    def median(name, of=lambda r, n: r[n]):
        return statistics.median(of(r, name) for r in repeats)

    print(f"{'command':30s} {'median s':>9s} {'best s':>8s}")
    for name in commands:
        values = [r[name] if not isinstance(r[name], tuple) else r[name][0] for r in repeats]
        print(f"{name:30s} {statistics.median(values):9.3f} {min(values):8.3f}")
    print()
    floor = FLOOR
    best = {name: min(r[name] if not isinstance(r[name], tuple) else r[name][0] for r in repeats) for name in commands}
    rows = []
    for name, target in ((n, t) for n, t in (("train", 1.35), ("train --no-plots", 1.20)) if n in commands):
        ratios = [r[name][0] / (r[floor] + r[name][1]) for r in repeats]
        loop = min(r[name][1] for r in repeats)
        of_bests = best[name] / (best[floor] + loop)
        rows.append((f"{name} / (floor + loop {loop:.2f} s)", statistics.median(ratios), of_bests, f"<= {target}",
                     min(statistics.median(ratios), of_bests) <= target))
    for name in (n for n in ("eval", "predict", "inspect") if n in commands):
        extra = statistics.median(r[name] - r[floor] for r in repeats)
        rows.append((f"{name} - floor (s)", extra, best[name] - best[floor], "<= 0.4",
                     min(extra, best[name] - best[floor]) <= 0.4))
    if "check" in commands:
        ratio = statistics.median(r["check"] / r["floor: import pandas"] for r in repeats)
        of_bests = best["check"] / best["floor: import pandas"]
        rows.append(("check / import pandas", ratio, of_bests, "<= 1.5", min(ratio, of_bests) <= 1.5))
    for name, argv in ((n, a) for n, a in (("check", ["check", WINE]), ("check --json", ["check", WINE, "--json"]),
                                          ("grad on input it refuses", ["grad", "x**", "x=2"]),
                                          ("grad with a variable missing", ["grad", "x*y", "x=2"]))
                       if n.split()[0] in commands):
        torch_loaded = imports_torch(*argv)
        rows.append((f"{name}: imports torch", float(torch_loaded), float(torch_loaded), "no", not torch_loaded))
    print("paired: the median over repeats of each command against the floor measured beside it; bests: the best\n"
          "(least disturbed) time of each against the best floor. Load only adds time, so bests are the better read\n"
          "on a busy machine.\n")
    print(f"{'ratio':45s} {'paired':>8s} {'bests':>8s} {'target':>8s}  met")
    for label, value, of_bests, target, met in rows:
        print(f"{label:45s} {value:8.3f} {of_bests:8.3f} {target:>8s}  {'yes' if met else 'NO'}")


def train(out: Path, plots: bool) -> tuple[float, float]:
    """(wall seconds, the run's own loop seconds) of nnlab train configs/wine_mlp.yaml."""
    seconds, text = run(nnlab("train", WINE, "--out", out, "--json", *([] if plots else ["--no-plots"])))
    return seconds, json.loads(text)["train_seconds"]


if __name__ == "__main__":
    main()
