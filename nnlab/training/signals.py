"""SIGINT and SIGTERM as a flag: the loop finishes its step, saves, and stops; a second signal changes nothing."""

import signal
from contextlib import contextmanager

from nnlab.errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopFlag:
    """Set by a signal handler; fit() reads `signum` once per step (0: keep going)."""

    def __init__(self):
        self.signum = 0

    def request(self, signum: int, frame=None) -> None:
        if not self.signum:  # the first signal decides the exit code; later ones are no-ops
            self.signum = signum


@contextmanager
def catch_signals(signals=SIGNALS):
    """Within the block, SIGINT/SIGTERM only set the yielded flag; the previous handlers come back after."""
    flag = StopFlag()
    with _handling(signals, flag.request):
        yield flag


@contextmanager
def signals_interrupt(signals=SIGNALS):
    """Within the block, SIGINT and SIGTERM both raise KeyboardInterrupt (once), for code that stops on Ctrl-C
    itself (waiting on Dask); the yielded flag says which signal came."""
    flag = StopFlag()
    with interruptible(flag, signals):
        yield flag


@contextmanager
def interruptible(flag: StopFlag, signals=SIGNALS):
    """Within the block, the first SIGINT or SIGTERM is recorded in `flag` and raises KeyboardInterrupt, for work
    that cannot poll the flag (a scikit-learn fit); later ones only set the flag (already set)."""
    def handler(signum, frame):
        first = not flag.signum
        flag.request(signum)
        if first:
            raise KeyboardInterrupt

    with _handling(signals, handler):
        yield flag


@contextmanager
def _handling(signals, handler):
    previous = {}
    try:
        for sig in signals:
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: signals cannot be caught here, training runs as before
        pass
    try:
        yield
    finally:
        for sig, before in previous.items():
            signal.signal(sig, before)


def interrupted(signum: int, where: str) -> Interrupted:
    """Interrupted('SIGINT at epoch 3, step 40'), exiting with the shell's 128 + signal number."""
    return Interrupted(f"{signal.Signals(signum).name} at {where}", signum)
