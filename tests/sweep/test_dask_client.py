"""The Dask layer: data shipping, failures, retries after a killed worker, Ctrl-C; against a real LocalCluster."""

import os
import signal
import threading
import time

import pytest

from helpers import ROOT, WINE, free_port
from nnlab.data import load_data
from nnlab.errors import DataError, UsageError
from nnlab.sweep import dask_client as distributed
from nnlab.sweep.dask_client import Blob, Task, TaskError, materialize, open_client, run_tasks
from nnlab.sweep.dask_tasks import group_tasks, train_group_task
from nnlab.sweep.plan import expand, parse_grid, plan
from nnlab.training.group import train_group

WINE_CONFIG = ROOT / "configs" / "wine_mlp.yaml"


def wine_sweep(seeds, epochs: int = 30, grid=(), vectorize: bool = True):
    """(trials, splits, tasks) of a wine sweep, planned as `nnlab sweep` plans it."""
    trials = expand(WINE_CONFIG, [f"train.epochs={epochs}", "device=cpu"], parse_grid(list(grid)), list(seeds))
    splits = [load_data(t.cfg) for t in trials]
    return trials, splits, group_tasks(trials, splits, plan(trials, splits, vectorize=vectorize))[0]


def blobs(tasks):
    return {t.data: Blob.read(t.data) for t in tasks}


def _raise_config_error(data_path, message):
    from nnlab.errors import ConfigError

    raise ConfigError(message)


fails_with_config_error = lambda data_path, message: _raise_config_error(data_path, message)  # noqa: E731


# ---------------------------------------------------------------- without a cluster


def test_data_travels_as_bytes_and_is_checked_against_its_sha256(tmp_path):
    blob = Blob.read(WINE)
    path = materialize(blob, blob.sha256)
    assert path.read_bytes() == WINE.read_bytes() and path != WINE
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"  # a private folder, not a shared /tmp name
    with pytest.raises(DataError, match="wine.csv: the data that reached this worker has sha256"):
        materialize(Blob(blob.path, blob.data + b"1,2\n", blob.sha256), blob.sha256)
    with pytest.raises(DataError, match="data file not found"):
        Blob.read(tmp_path / "missing.csv")


def test_a_group_on_a_local_copy_of_the_data_matches_the_group_trained_here():
    trials, splits, tasks = wine_sweep([0, 1], epochs=10, grid=["optimizer.lr=0.05,0.1"])
    [task] = tasks  # seeds and learning rates stack into one group
    blob = Blob.read(task.data)
    shipped = train_group_task(materialize(blob, blob.sha256), *task.args)
    here = train_group([t.cfg.to_dict() for t in trials], splits, vectorize=True)
    assert [r.metrics for r in shipped] == [r.metrics for r in here] and len(here) == 4
    for a, b in zip(shipped, here):
        assert all((a.model.state_dict()[k] == v).all() for k, v in b.model.state_dict().items())


def test_a_stacked_group_is_one_task_and_a_sequential_group_one_task_per_run():
    _, _, stacked = wine_sweep(range(3), epochs=2)
    _, _, alone = wine_sweep(range(3), epochs=2, vectorize=False)
    assert [(t.n_trials, t.args[1]) for t in stacked] == [(3, True)]
    assert [(t.n_trials, t.args[1]) for t in alone] == [(1, False)] * 3
    assert {t.data for t in stacked + alone} == {str(WINE.resolve())}


def test_nnlab_errors_and_version_mismatches_come_back_as_task_errors():
    assert distributed._execute(fails_with_config_error, "k", "t", distributed_version(), ("bad lr",), None, None) \
        == TaskError("bad lr")
    assert "worker has nnlab" in distributed._execute(train_group_task, "k", "t", "0.0.0", (), None, None).message


def distributed_version():
    import nnlab

    return nnlab.__version__


def test_without_dask_the_cluster_options_say_how_to_install_it(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name == "distributed" or name.startswith(("distributed.", "dask")):
            raise ImportError(f"No module named '{name}'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    for kwargs, flag in (({"workers": 2}, "--workers"), ({"scheduler": "tcp://127.0.0.1:8786"}, "--scheduler")):
        with pytest.raises(UsageError, match=f'{flag}: needs Dask distributed.*pip install "nnlab\\[cluster\\]"') as e:
            with open_client(**kwargs):
                pass
        assert e.value.exit_code == 2


@pytest.mark.slow
def test_an_unreachable_scheduler_is_a_usage_error_not_a_hang(monkeypatch):
    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT", 1)  # 5 s in use; 1 s keeps the suite quick
    start = time.perf_counter()
    with pytest.raises(UsageError, match="no Dask scheduler answered within 1 s.*dask scheduler"):
        with open_client(scheduler=f"tcp://127.0.0.1:{free_port()}"):
            pass
    assert time.perf_counter() - start < 15  # bounded (Dask's own default would wait 30 s), whatever the load


def test_scheduler_and_workers_exclude_each_other():
    with pytest.raises(UsageError, match="either --scheduler ADDRESS or --workers N"):
        with open_client("tcp://127.0.0.1:8786", 2):
            pass
    with pytest.raises(UsageError, match="--workers: 0"):
        with open_client(workers=0):
            pass


# ---------------------------------------------------------------- on a LocalCluster of 2 processes


@pytest.mark.slow
@pytest.mark.cluster
def test_deterministic_failures_are_reported_with_their_reason_and_not_retried(client):
    tasks = [Task("bad", ("optimizer.lr: must be > 0",)), Task("also-bad", ("data.path: not found",))]
    collected = run_tasks(client, fails_with_config_error, tasks)
    assert collected.failed == {"bad": "optimizer.lr: must be > 0", "also-bad": "data.path: not found"}
    assert collected.results == {}


@pytest.mark.slow
@pytest.mark.cluster
def test_ctrl_c_cancels_outstanding_tasks_and_keeps_finished_ones(client, monkeypatch):
    monkeypatch.setattr(distributed, "INLINE_BYTES", 0)  # the data as a task of its own, as for a large file
    _, _, tasks = wine_sweep(range(8), epochs=100, vectorize=False)

    def interrupt(task, result):
        raise KeyboardInterrupt

    collected = run_tasks(client, train_group_task, tasks, blobs(tasks), on_result=interrupt)
    assert collected.interrupted and len(collected.results) == 1
    assert not collected.failed
    def nnlab_tasks(dask_scheduler):
        return [key for key in dask_scheduler.tasks if str(key).startswith("nnlab-")]

    deadline = time.monotonic() + 20
    while client.run_on_scheduler(nnlab_tasks) and time.monotonic() < deadline:
        time.sleep(0.1)  # polling for a state, bounded
    assert client.run_on_scheduler(nnlab_tasks) == []  # cancelled and released on the scheduler


def executing(dask_worker) -> list[str]:
    return [str(ts.key) for ts in dask_worker.state.executing]


@pytest.mark.slow
@pytest.mark.cluster
def test_killing_a_worker_mid_sweep_still_completes_every_trial(client):
    _, _, tasks = wine_sweep(range(6), epochs=800, vectorize=False)  # one task per run, ~1 s or more each
    pids = client.run(os.getpid)
    progress, killed, retried, over = [None], [], [], threading.Event()

    def kill_a_busy_worker():
        """After two runs are done, SIGKILL a worker that has just started a run: it must run again elsewhere."""
        first_seen: dict[str, float] = {}
        deadline = time.monotonic() + 60
        while not killed and not over.is_set() and time.monotonic() < deadline:
            now = time.monotonic()
            for address, keys in client.run(executing).items():
                for key in keys:
                    first_seen.setdefault(key, now)
                young = [key for key in keys if now - first_seen[key] < 0.5]  # far from its end
                if young and progress[0] and progress[0].done >= 2 and not killed:
                    os.kill(pids[address], signal.SIGKILL)
                    killed.append(address)
            time.sleep(0.02)  # polling for a state, bounded by the deadline

    def record(p):
        progress[0] = p
        retried.append(p.retried)

    watcher = threading.Thread(target=kill_a_busy_worker)
    watcher.start()
    collected = run_tasks(client, train_group_task, tasks, blobs(tasks), on_progress=record)
    over.set()
    watcher.join()
    assert killed
    assert not collected.failed and set(collected.results) == {t.key for t in tasks}
    assert max(retried) >= 1  # the killed worker's run started again elsewhere


kill_own_worker = lambda data_path: os.kill(os.getpid(), signal.SIGKILL)  # noqa: E731 - pickled by value


@pytest.mark.slow
@pytest.mark.cluster
def test_a_task_that_keeps_killing_its_worker_is_reported_failed_after_bounded_retries(client):
    collected = run_tasks(client, kill_own_worker, [Task("crash", ())])
    assert collected.failed == {"crash": f"the worker running it died {distributed.RETRIES + 1} times (killed, "
                                         "out of memory or crashed); gave up; see the workers' logs"}
    assert collected.results == {}
