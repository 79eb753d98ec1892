"""SIGINT and SIGTERM as a flag: the loop finishes its step, saves, and stops; a second signal changes nothing."""

import signal
from contextlib import contextmanager


class StopFlag:
    """Set by a signal handler; fit() reads `signum` once per step (0: keep going)."""

    def __init__(self):
        self.signum = 0

    def request(self, signum: int, frame=None) -> None:
        if not self.signum:  # the first signal decides the exit code; later ones are no-ops
            self.signum = signum


@contextmanager
def catch_signals(signals=(signal.SIGINT, signal.SIGTERM)):
    """Within the block, SIGINT/SIGTERM only set the yielded flag; the previous handlers come back after."""
    flag = StopFlag()
    previous = {}
    try:
        for sig in signals:
            previous[sig] = signal.signal(sig, flag.request)
    except ValueError:  # not the main thread: signals cannot be caught here, training runs as before
        pass
    try:
        yield flag
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
