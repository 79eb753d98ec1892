"""Plots drawn by a helper process that `nnlab train` starts first, so matplotlib imports while torch does.

Importing matplotlib costs about half a second, as long as the whole training loop of a small model.
The helper (`python -m nnlab.views.plotter`) imports it on another core, waits for plots.plot_jobs()
on its stdin (pickled plain data from this process: nothing a user wrote), draws them, and answers
`ok`. Closing its stdin without jobs (an error, Ctrl-C) ends it; it ignores SIGINT, which the
terminal sends to the whole process group. If it cannot start or fails, the plots are drawn here.

    with Plotter(enabled=plots) as plotter:
        ...                                   # load data, train (the helper imports matplotlib meanwhile)
        written = plotter.draw(plots.plot_jobs(...))
"""

import pickle
import subprocess
import sys
from pathlib import Path

READY = b"ok\n"


class Plotter:
    """A context manager holding the helper process (none when not `enabled`)."""

    def __init__(self, enabled: bool = True):
        self.enabled, self.process = enabled, None

    def __enter__(self):
        if self.enabled:
            import os

            import nnlab

            here = str(Path(nnlab.__file__).resolve().parents[1])  # the helper runs this very nnlab
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
            try:
                self.process = subprocess.Popen([sys.executable, "-m", "nnlab.views.plotter"], stdin=subprocess.PIPE,
                                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
            except OSError:  # no process to spare: draw here later
                self.process = None
        return self

    def draw(self, jobs: list[tuple]) -> list[Path]:
        """Draw plot_jobs() in the helper (waiting until the files are written), or here if it is not there."""
        from nnlab.views import plots

        process, self.process = self.process, None
        if process is not None:
            try:
                with process.stdin:
                    pickle.dump(jobs, process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                answer = process.stdout.read()
                if process.wait() == 0 and answer == READY:
                    return [Path(kwargs["path"]) for _, kwargs in jobs]
            except OSError:  # it died: a closed pipe
                process.kill()
                process.wait()
            finally:
                process.stdout.close()
        return plots.draw(jobs)

    def __exit__(self, *exc):
        process, self.process = self.process, None
        if process is not None:  # never asked to draw (an error, Ctrl-C): end it now, not after its imports
            process.kill()
            process.wait()
            process.stdin.close()
            process.stdout.close()
        return False


def main() -> None:
    """The helper: import matplotlib now, then draw the jobs that arrive on stdin."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it closes our stdin
    from nnlab.views import plots

    plots.preload()
    try:
        jobs = pickle.load(sys.stdin.buffer)
    except EOFError:  # the parent ended without plotting
        return
    plots.draw(jobs)
    sys.stdout.buffer.write(READY)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
