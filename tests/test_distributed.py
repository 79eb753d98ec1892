"""The Dask layer: data shipping, failures, retries after a killed worker, Ctrl-C; against a real LocalCluster."""

import os
import signal
import socket
import threading
import time

import pytest

from conftest import ROOT, WINE
from nnlab import distributed
from nnlab.config import load_config
from nnlab.distributed import Blob, Task, TaskError, materialize, open_client, run_tasks
from nnlab.errors import DataError, UsageError
from nnlab.trial import resolve_threads, run_trial

WINE_CONFIG = ROOT / "configs" / "wine_mlp.yaml"


def wine_trial(seed: int, epochs: int = 30, lr: float = 0.05) -> Task:
    """A Task training the wine MLP: args are the resolved config dict and the thread count."""
    from nnlab.data import load_data

    cfg = load_config(WINE_CONFIG, [f"seed={seed}", f"train.epochs={epochs}", f"optimizer.lr={lr}", "device=cpu"])
    return Task(f"seed{seed}-lr{lr}", (cfg.to_dict(), resolve_threads(cfg, load_data(cfg))))


def _raise_config_error(data_path, message):
    from nnlab.errors import ConfigError

    raise ConfigError(message)


fails_with_config_error = lambda data_path, message: _raise_config_error(data_path, message)  # noqa: E731


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def test_a_trial_on_a_local_copy_of_the_data_matches_the_trial_on_the_original():
    task = wine_trial(seed=3)
    raw, threads = task.args
    blob = Blob.read(raw["data"]["path"])
    here, shipped = run_trial(None, raw, threads), run_trial(materialize(blob, blob.sha256), raw, threads)
    assert shipped["metrics"] == here["metrics"] and shipped["history"][-1]["train_loss"] == here["history"][-1]["train_loss"]
    assert all((shipped["model_state"][k] == v).all() for k, v in here["model_state"].items())


def test_nnlab_errors_and_version_mismatches_come_back_as_task_errors():
    assert distributed._execute(fails_with_config_error, "k", "t", distributed_version(), ("bad lr",), None, None) \
        == TaskError("bad lr")
    assert "worker has nnlab" in distributed._execute(run_trial, "k", "t", "0.0.0", (), None, None).message


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


def test_an_unreachable_scheduler_is_a_usage_error_not_a_hang(monkeypatch):
    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT", 1)  # 5 s in use; 1 s keeps the suite quick
    start = time.perf_counter()
    with pytest.raises(UsageError, match="no Dask scheduler answered within 1 s.*dask scheduler"):
        with open_client(scheduler=f"tcp://127.0.0.1:{free_port()}"):
            pass
    assert time.perf_counter() - start < 4 * distributed.CONNECT_TIMEOUT  # bounded, whatever the load


def test_scheduler_and_workers_exclude_each_other():
    with pytest.raises(UsageError, match="either --scheduler ADDRESS or --workers N"):
        with open_client("tcp://127.0.0.1:8786", 2):
            pass
    with pytest.raises(UsageError, match="--workers: 0"):
        with open_client(workers=0):
            pass


# ---------------------------------------------------------------- on a LocalCluster of 2 processes


@pytest.fixture(scope="module")
def client():
    with open_client(workers=2) as client:
        yield client


@pytest.mark.cluster
def test_trials_on_the_cluster_equal_the_same_trials_run_here(client):
    tasks = [wine_trial(seed) for seed in (0, 1, 2)] + [wine_trial(0, lr=0.1)]
    blob = Blob.read(WINE)
    seen = []
    collected = run_tasks(client, run_trial, tasks, blob, on_progress=lambda p: seen.append(
        (p.running, p.done, p.failed)))
    assert not collected.failed and not collected.interrupted and set(collected.results) == {t.key for t in tasks}
    for task in tasks:
        remote, local = collected.results[task.key], run_trial(None, *task.args)
        assert remote["metrics"] == local["metrics"] and remote["threads"] == local["threads"] == 1
        assert [{k: v for k, v in r.items() if k != "seconds"} for r in remote["history"]] == \
               [{k: v for k, v in r.items() if k != "seconds"} for r in local["history"]]
        assert all((remote["model_state"][k] == v).all() for k, v in local["model_state"].items())
    assert seen[-1] == (0, 4, 0)


@pytest.mark.cluster
def test_deterministic_failures_are_reported_with_their_reason_and_not_retried(client):
    tasks = [Task("bad", ("optimizer.lr: must be > 0",)), Task("also-bad", ("data.path: not found",))]
    collected = run_tasks(client, fails_with_config_error, tasks)
    assert collected.failed == {"bad": "optimizer.lr: must be > 0", "also-bad": "data.path: not found"}
    assert collected.results == {}


@pytest.mark.cluster
def test_ctrl_c_cancels_outstanding_tasks_and_keeps_finished_ones(client):
    tasks = [wine_trial(seed, epochs=100) for seed in range(8)]

    def interrupt(task, result):
        raise KeyboardInterrupt

    collected = run_tasks(client, run_trial, tasks, Blob.read(WINE), on_result=interrupt)
    assert collected.interrupted and len(collected.results) == 1
    assert not collected.failed
    def nnlab_tasks(dask_scheduler):
        return [key for key in dask_scheduler.tasks if str(key).startswith("nnlab-")]

    deadline = time.monotonic() + 20
    while client.run_on_scheduler(nnlab_tasks) and time.monotonic() < deadline:
        time.sleep(0.1)  # polling for a state, bounded
    assert client.run_on_scheduler(nnlab_tasks) == []  # cancelled and released on the scheduler


@pytest.mark.cluster
def test_killing_a_worker_mid_sweep_still_completes_every_trial(client):
    tasks = [wine_trial(seed, epochs=300) for seed in range(6)]
    pids = list(client.run(os.getpid).values())
    killed, states = threading.Event(), []

    def kill_when_busy(progress):
        states.append((progress.running, progress.retried))
        # Both workers inside the last two trials: the survivor, already warm, reruns the killed one.
        if progress.running >= 2 and progress.done >= len(tasks) - 2 and not killed.is_set():
            killed.set()
            os.kill(pids[0], signal.SIGKILL)

    collected = run_tasks(client, run_trial, tasks, Blob.read(WINE), on_progress=kill_when_busy)
    assert killed.is_set()
    assert not collected.failed and set(collected.results) == {t.key for t in tasks}
    assert max(retried for _, retried in states) >= 1  # the killed worker's trial ran again elsewhere


kill_own_worker = lambda data_path: os.kill(os.getpid(), signal.SIGKILL)  # noqa: E731 - pickled by value


@pytest.mark.cluster
def test_a_task_that_keeps_killing_its_worker_is_reported_failed_after_bounded_retries(client):
    collected = run_tasks(client, kill_own_worker, [Task("crash", ())])
    assert collected.failed == {"crash": f"the worker running it died {distributed.RETRIES + 1} times (killed, "
                                         "out of memory or crashed); gave up; see the workers' logs"}
    assert collected.results == {}
