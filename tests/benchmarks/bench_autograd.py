"""Timings for nnlab grad and nnlab inspect: refusing hostile input, a notebook gradient, inspect per config.

Run: python tests/benchmarks/bench_autograd.py   (prints numbers; asserts nothing about time)
"""

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = {
    "__import__('os')": "__import__('os')",
    "9**9**9": "9**9**9",
    "900 unary minus": "-" * 900 + "x",
    "1000-char chain": "+".join(["x"] * 500),
    "linspace(0,1,10**9)": "linspace(0,1,10**9)",
}


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    sys.path.insert(0, str(ROOT))
    from nnlab.autograd.expr import parse
    from nnlab.errors import ConfigError

    print("refusing hostile expressions in-process (parse only; torch not imported):")
    for label, text in HOSTILE.items():
        def attempt():
            try:
                parse(text)
            except ConfigError:
                pass
        print(f"  {label:<22} {best_of(attempt) * 1e6:8.0f} µs   torch imported: {'torch' in sys.modules}")

    def cli(*args) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "nnlab", *args], cwd=ROOT, capture_output=True, check=False)
        return time.perf_counter() - start

    print("whole commands (python -m nnlab, median of 3 wall times):")
    for args in (["--help"], ["grad", "__import__('os')", "x=1"], ["grad", "2*x**3 + 3*y**2 + c", "x=2", "y=3", "c=1"],
                 ["grad", "sum(m**2)", "m=linspace(-10,10,100000)", "--json"],
                 *[["inspect", str(p), "--json"] for p in sorted((ROOT / "configs").glob("*.yaml"))]):
        label = " ".join(a if len(a) < 40 else a[:37] + "..." for a in args)
        print(f"  {statistics.median(cli(*args) for _ in range(3)):6.2f} s  nnlab {label}")


if __name__ == "__main__":
    main()
