"""Tasks on a Dask cluster: connect to a scheduler or start local workers, ship data, collect results.

The layer knows nothing about training. A task is a picklable tuple of arguments for a
module-level function; the function runs on a worker as `fn(data_path, *args)` where
`data_path` is a worker-local copy of the data file (verified against its sha256) or None.
Deterministic failures come back as TaskError values (no retry); a worker that dies
mid-task gets the task rescheduled a bounded number of times, then it is reported failed.
"""

import hashlib
import os
import tempfile
import threading
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from nnlab.errors import DataError, NnlabError, UsageError

INSTALL_HINT = 'pip install "nnlab[cluster]"'
CONNECT_TIMEOUT = 5  # seconds until an unreachable scheduler is an error
RETRIES = 2  # extra attempts for a task whose worker died or that raised unexpectedly
INLINE_BYTES = 16 << 20  # data files up to this size travel inside every task


def import_distributed(flag: str):
    """The `distributed` package, or a UsageError saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise UsageError(f"{flag}: needs Dask distributed, which is not installed; "
                         f"install it with: {INSTALL_HINT}") from None
    return distributed


def check_cluster_options(scheduler: str | None, workers: int | None):
    """Exactly one of --scheduler/--workers, sensible, with Dask installed; returns `distributed`."""
    if (scheduler is None) == (workers is None):
        raise UsageError("give either --scheduler ADDRESS or --workers N, not both")
    if workers is not None and workers < 1:
        raise UsageError(f"--workers: {workers} is not a number of worker processes; use 1 or more")
    return import_distributed("--scheduler" if scheduler else "--workers")


@contextmanager
def open_client(scheduler: str | None = None, workers: int | None = None, preload: tuple = ()):
    """A Client to a running scheduler (`scheduler`) or to a LocalCluster of `workers` processes, each of
    which imports the `preload` modules as it starts (Dask runs their `dask_setup(worker)`)."""
    distributed = check_cluster_options(scheduler, workers)
    import dask

    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as e:
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise UsageError(f"--scheduler {scheduler}: no Dask scheduler answered within {CONNECT_TIMEOUT} s "
                             f"({reason}); start one with `dask scheduler` and pass the address it prints, "
                             "e.g. tcp://127.0.0.1:8786") from None
        cluster = None
    else:
        import logging

        # Bound the scheduler's own rescheduling of tasks whose worker died (default 3).
        with dask.config.set({"distributed.scheduler.allowed-failures": RETRIES}), _workers_ignore_ctrl_c():
            _start_forkserver(preload)  # at once if early_client has not started it already
            cluster = distributed.LocalCluster(
                n_workers=workers, processes=True, threads_per_worker=1, host="127.0.0.1",
                dashboard_address=None, silence_logs=logging.CRITICAL, preload=list(preload),
                # no dashboard; its bare HTTP server on any free loopback port, not a taken 8787
                scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})
        client = distributed.Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _start_forkserver(modules: tuple) -> None:
    """Local workers (and the nanny's restarts of a dead one) fork from one server process that imports torch and
    `modules` once, before any thread or parallel region runs, instead of each spawning an interpreter that imports
    torch itself: 2 workers cost one torch import, not two racing this process's for the same cores. Started now
    (SIGINT ignored by the caller, which the workers inherit) so that it imports while this process does."""
    from multiprocessing import forkserver

    import dask
    from distributed.utils import get_mp_context

    dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"})
    get_mp_context().set_forkserver_preload(["distributed", "torch", "torch.func", "torch.nn.functional", *modules])
    forkserver.ensure_running()


@contextmanager
def early_client(scheduler: str | None = None, workers: int | None = None, preload: tuple = ()):
    """open_client() started now in a background thread, so the workers start while this process reads its
    configs and data; yields `get()`, which waits for the client. Ctrl-C is ignored until then (as while
    a cluster starts in the foreground), so the worker processes start without it reaching them."""
    import signal

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    if scheduler is None:  # the workers' server starts importing torch now, not when the thread below gets the GIL
        _start_forkserver(preload)  # back from this one's imports
    box: dict = {}
    ready, done, restored = threading.Event(), threading.Event(), []

    def start():
        try:
            with open_client(scheduler, workers, preload) as client:
                box["client"] = client
                ready.set()
                done.wait()
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            box["error"] = e
            ready.set()

    def restore():
        if previous is not None and not restored:
            restored.append(signal.signal(signal.SIGINT, previous))

    def get():
        ready.wait()
        restore()
        if "error" in box:
            raise box["error"]
        return box["client"]

    thread = threading.Thread(target=start, name="nnlab-cluster-start", daemon=True)
    thread.start()
    try:
        yield get
    finally:
        restore()
        done.set()
        thread.join()


@contextmanager
def _workers_ignore_ctrl_c():
    """Worker processes started inside inherit an ignored SIGINT: Ctrl-C reaches only this process,
    which cancels the tasks and closes the cluster (instead of every worker printing a traceback)."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# ---------------------------------------------------------------- data that travels with the tasks


@dataclass(frozen=True)
class Blob:
    """A data file's bytes, its sha256 and the client's path to it (for messages)."""

    path: str
    data: bytes = field(repr=False)
    sha256: str

    @classmethod
    def read(cls, path) -> "Blob":
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise DataError(f"{path}: data file not found; check data.path") from None
        except OSError as e:
            raise DataError(f"{path}: cannot read: {e.strerror}") from None
        return cls(str(path), data, hashlib.sha256(data).hexdigest())


_worker_dir: list[Path] = []  # this process's private folder for data copies, made once


def materialize(blob: Blob, sha256: str) -> Path:
    """Check the bytes against the client's sha256 and write them to a private file; return its path."""
    got = hashlib.sha256(blob.data).hexdigest()
    if got != sha256:
        raise DataError(f"{blob.path}: the data that reached this worker has sha256 {got[:12]}…, "
                        f"not the client's {sha256[:12]}…; the file changed or was corrupted in transit; "
                        "rerun the sweep")
    if not _worker_dir:
        import atexit
        import shutil

        _worker_dir.append(Path(tempfile.mkdtemp(prefix="nnlab-data-")))  # mode 0700
        atexit.register(shutil.rmtree, _worker_dir[0], ignore_errors=True)
    path = _worker_dir[0] / f"{sha256}{Path(blob.path).suffix}"
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_bytes(blob.data)
        os.replace(tmp, path)
    return path


# ---------------------------------------------------------------- running tasks


@dataclass(frozen=True)
class Task:
    """One unit of work: a unique key, the arguments after data_path, how many trials it covers, its data file."""

    key: str
    args: tuple
    n_trials: int = 1
    data: str | None = None  # the client's path of the data file the task reads (a key of `blobs`)


@dataclass(frozen=True)
class TaskError:
    """A task that failed for a reason retrying cannot fix (bad data, a version mismatch)."""

    message: str


@dataclass
class Progress:
    """Counts over trials, as the progress bar shows them."""

    total: int
    running: int = 0
    done: int = 0
    retried: int = 0
    failed: int = 0


@dataclass
class Collected:
    """What came back: results and failure reasons by task key; interrupted after Ctrl-C."""

    results: dict
    failed: dict
    interrupted: bool = False


def _hold(blob: Blob) -> Blob:
    return blob


def _execute(fn: Callable, key: str, topic: str, version: str, args: tuple, blob: Blob | None, sha256: str | None):
    """Runs on the worker: announce the start, check versions and data, call fn."""
    import nnlab

    try:
        from distributed import get_worker

        get_worker().log_event(topic, {"key": key})
    except ValueError:  # not on a worker (a direct call in a test)
        pass
    if nnlab.__version__ != version:
        return TaskError(f"worker has nnlab {nnlab.__version__}, the client {version}; install the same version")
    try:
        return fn(materialize(blob, sha256) if blob is not None else None, *args)
    except NnlabError as e:
        return TaskError(str(e))


def run_tasks(client, fn: Callable, tasks: list[Task], blobs: dict[str, Blob] | None = None,
              on_progress: Callable[[Progress], None] | None = None,
              on_result: Callable[[Task, object], None] | None = None) -> Collected:
    """Run every task on the cluster; Ctrl-C cancels what is left and keeps what finished.

    `on_result(task, result)` is called in this thread as each task finishes;
    `on_progress(progress)` after every change, possibly from Dask's event thread.
    """
    from distributed import as_completed

    import nnlab

    if len({t.key for t in tasks}) != len(tasks):
        raise ValueError("task keys must be unique")
    run = uuid.uuid4().hex[:12]
    topic = f"nnlab-{run}"
    progress = Progress(total=sum(t.n_trials for t in tasks))
    by_key = {t.key: t for t in tasks}
    starts: dict[str, int] = {}
    finished: set[str] = set()
    lock = threading.Lock()

    def show():
        if on_progress:
            on_progress(progress)

    def started(event):
        key = event[1]["key"] if isinstance(event, tuple) else event["key"]
        with lock:
            if key not in by_key or key in finished:
                return
            starts[key] = starts.get(key, 0) + 1
            if starts[key] == 1:
                progress.running += by_key[key].n_trials
            else:
                progress.retried += by_key[key].n_trials
        show()

    client.subscribe_topic(topic, started)
    # Small files ride inside each task: no dependency ties the tasks to the worker holding it, so
    # the scheduler spreads them over every worker, including ones that join later. A large file
    # is one task of its own that the others depend on (recomputed from the graph if its holder dies).
    data = {path: blob if len(blob.data) <= INLINE_BYTES else
            client.submit(_hold, blob, key=f"nnlab-data-{run}-{n}", pure=False)
            for n, (path, blob) in enumerate((blobs or {}).items())}
    futures = {client.submit(_execute, fn, t.key, topic, nnlab.__version__, t.args, data.get(t.data),
                             blobs[t.data].sha256 if t.data else None,
                             key=f"nnlab-{run}-{t.key}", retries=RETRIES, pure=False): t for t in tasks}
    collected = Collected({}, {})
    pending = set(futures)
    show()
    try:
        for future in as_completed(futures, loop=client.loop):
            task = futures[future]
            pending.discard(future)
            if future.status == "finished":
                result = future.result()
                if isinstance(result, TaskError):
                    collected.failed[task.key] = result.message
                else:
                    collected.results[task.key] = result
            elif future.status != "cancelled":
                collected.failed[task.key] = describe_failure(future.exception())
            future.release()
            with lock:
                finished.add(task.key)
                if task.key in starts:
                    progress.running -= task.n_trials
                if task.key in collected.failed:
                    progress.failed += task.n_trials
                else:
                    progress.done += task.n_trials
            show()
            if on_result and task.key in collected.results:
                on_result(task, collected.results[task.key])
    except KeyboardInterrupt:
        client.cancel(list(pending))
        collected.interrupted = True
    finally:
        client.unsubscribe_topic(topic)
        for future in data.values():
            if not isinstance(future, Blob):
                future.release()
    return collected


def describe_failure(exc: BaseException) -> str:
    """One line saying why a task failed on the cluster."""
    from distributed import KilledWorker

    if isinstance(exc, KilledWorker):
        deaths = getattr(exc, "allowed_failures", 0) + 1  # the scheduler's bound on reschedules, plus one
        return (f"the worker running it died {deaths} time{'s' if deaths > 1 else ''} (killed, out of memory "
                "or crashed); gave up; see the workers' logs")
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
