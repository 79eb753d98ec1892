"""The bounds nnlab checks before it starts work, so that a typo is refused at once instead of hanging or
running out of memory: the limits themselves, and the memory a machine has free."""

import os

MAX_RUNS = 10_000  # runs in one sweep (grid points x seeds)
MAX_COLUMNS = 100_000  # columns of a CSV (a 200,000-column file is refused, not parsed for minutes)
MAX_PROBLEMS = 20  # config problems listed one per line; the rest are counted
MEMORY_SHARE = 0.8  # of the free memory, what one run may plan to use


def free_bytes() -> int | None:
    """The machine's available memory in bytes (None when the platform does not say)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def size_text(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.1f} GB" if n_bytes >= 1e8 else f"{n_bytes / 1e6:.0f} MB"


def fits(n_bytes: float, free: int | None) -> bool:
    """Whether planning to use `n_bytes` leaves a margin in `free` bytes (unknown: assume it does)."""
    return free is None or n_bytes <= MEMORY_SHARE * free
