"""Plots drawn by a helper process that `nnlab train` starts first, so matplotlib imports while torch does.

Importing matplotlib costs about half a second, as long as the whole training loop of a small model.
The helper (`python -m nnlab.views.plotter`) imports it on another core, waits for plots.plot_jobs()
on its stdin (pickled plain data from this process: nothing a user wrote), draws them, and answers
`ok`. Closing its stdin without jobs (an error, Ctrl-C) ends it; it ignores SIGINT, which the
terminal sends to the whole process group. If it cannot start or fails, the plots are drawn here.

    with Plotter(enabled=plots) as plotter:
        ...                                   # load data, train (the helper imports matplotlib meanwhile)
        plotter.start(plots.plot_jobs(...))   # it draws while the run is saved
        ...
        written = plotter.wait()
"""

import pickle
import subprocess
import sys
from pathlib import Path

READY = b"ok\n"


class Plotter:
    """A context manager holding the helper process (none when not `enabled`)."""

    def __init__(self, enabled: bool = True):
        self.enabled, self.process, self.jobs = enabled, None, []

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

    def start(self, jobs: list[tuple]) -> None:
        """Hand plot_jobs() to the helper, which draws them while this process goes on (saving the run)."""
        self.jobs = jobs
        if self.process is not None and jobs:
            try:
                with self.process.stdin:
                    pickle.dump(jobs, self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            except OSError:  # it died: wait() draws here
                self._end()

    def wait(self) -> list[Path]:
        """The paths of the started jobs once the files are written: by the helper, or here if it failed."""
        from nnlab.views import plots

        jobs, self.jobs = self.jobs, []
        if not jobs:
            self._end()
            return []
        if self.process is not None:
            answer = self.process.stdout.read()
            process, self.process = self.process, None
            process.stdout.close()
            if process.wait() == 0 and answer == READY:
                return [Path(kwargs["path"]) for _, kwargs in jobs]
        return plots.draw(jobs)

    def draw(self, jobs: list[tuple]) -> list[Path]:
        """start() then wait()."""
        self.start(jobs)
        return self.wait()

    def _end(self) -> None:
        process, self.process = self.process, None
        if process is not None:  # not drawing (an error, Ctrl-C): end it now, not after its imports
            process.kill()
            process.wait()
            for pipe in (process.stdin, process.stdout):
                pipe.close()

    def __exit__(self, *exc):
        self._end()
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
