"""`nnlab sweep --scheduler/--workers`: the same table, CSVs and JSON as the in-process sweep; failures; Ctrl-C."""

import csv
import json
from pathlib import Path

import pytest
import torch

from helpers import ROOT
from nnlab.sweep import dask_client as distributed
from nnlab.sweep import dask_tasks as cluster

WINE_CFG = ROOT / "configs" / "wine_mlp.yaml"
# Two architectures x two learning rates x two seeds: 8 runs in 2 stacked groups (2 tasks).
SWEEP = ["sweep", WINE_CFG, "--grid", "model.hidden=[5],[4,4]", "--grid", "optimizer.lr=0.05,0.1", "--seeds", "2",
         "train.epochs=30", "device=cpu"]
TIMINGS = {"run_dir", "train_seconds"}


def sweep_dir(out: Path) -> Path:
    [path] = out.iterdir()
    return path


def without(d: dict, keys) -> dict:
    return {k: v for k, v in d.items() if k not in keys}


@pytest.mark.slow
@pytest.mark.cluster
def test_sweep_on_the_cluster_gives_the_same_table_csvs_and_runs_as_in_process(cli, client):
    here = cli(*SWEEP, "--out", cli.out / "here")
    there = cli(*SWEEP, "--out", cli.out / "there", "--scheduler", client.scheduler.address)
    assert here.stdout.split("saved ")[0] == there.stdout.split("saved ")[0]  # the summary table
    a, b = sweep_dir(cli.out / "here"), sweep_dir(cli.out / "there")
    assert (a / "points.csv").read_bytes() == (b / "points.csv").read_bytes()
    assert (a / "runs.csv").read_text().replace(str(a), "") == (b / "runs.csv").read_text().replace(str(b), "")
    summary_a, summary_b = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    assert without(summary_a, TIMINGS) == without(summary_b, TIMINGS | {"cluster"}) and summary_b["runs"] == 8
    [plan] = summary_b["cluster"]  # the slots: the workers connected then (a killed one may be restarting)
    assert plan.startswith("cluster plan: 8 runs in 2 task(s) of 4 + 4 model(s) on ") and \
        plan.endswith("worker slot(s); each stack is cut into about one chunk per slot by its share of the work "
                      "(models x epochs x rows), at multiples of 16 models so every model trains as it would in one "
                      "stack")
    assert summary_b["errors"] == [] and summary_b["status"] == "finished"
    for sub in sorted(p.name for p in a.iterdir() if p.is_dir()):
        run_a, run_b = (json.loads((d / sub / "summary.json").read_text()) for d in (a, b))
        assert without(run_a, TIMINGS) == without(run_b, TIMINGS)
        weights_a, weights_b = (torch.load(d / sub / "checkpoint.pt", weights_only=True)["model_state"] for d in (a, b))
        assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)


def fail_every_task(real):
    """run_tasks, but every task raises a config error on its worker (as a broken worker setup would)."""
    def run_tasks(client, fn, tasks, blobs=None, **kwargs):
        return real(client, lambda data_path, *args: (_ for _ in ()).throw(
            distributed.UsageError("worker cannot train: no torch")), tasks, blobs, **kwargs)
    return run_tasks


@pytest.mark.slow
@pytest.mark.cluster
def test_runs_that_fail_on_the_cluster_are_reported_with_their_reason(cli, client, monkeypatch):
    monkeypatch.setattr(cluster, "run_tasks", fail_every_task(distributed.run_tasks))
    result = cli("sweep", WINE_CFG, "--seeds", "2", "train.epochs=5", "--out", cli.out, "--json",
                 "--scheduler", client.scheduler.address)
    summary = json.loads(result.stdout)
    assert summary["failed"] == 2 and [e["error"] for e in summary["errors"]] == ["worker cannot train: no torch"] * 2
    assert "failed seed 0: worker cannot train: no torch" in result.stderr
    sub = json.loads((Path(summary["errors"][0]["run_dir"]) / "summary.json").read_text())
    assert sub["status"] == "failed" and sub["error"] == "worker cannot train: no torch"
    rows = list(csv.DictReader(open(Path(summary["run_dir"]) / "runs.csv")))
    assert [r["status"] for r in rows] == ["failed", "failed"]


@pytest.mark.slow
@pytest.mark.cluster
def test_ctrl_c_saves_the_finished_runs_and_exits_130(cli, client, monkeypatch):
    real = distributed.run_tasks

    def interrupted_after_first_group(client, fn, tasks, blobs=None, on_result=None, **kwargs):
        def stop(task, result):
            on_result(task, result)
            raise KeyboardInterrupt
        return real(client, fn, tasks, blobs, on_result=stop, **kwargs)

    monkeypatch.setattr(cluster, "run_tasks", interrupted_after_first_group)
    result = cli(*SWEEP, "--out", cli.out, "--json", "--scheduler", client.scheduler.address, code=130)
    summary = json.loads(result.stdout)
    assert summary["status"] == "interrupted" and summary["runs"] == 4  # one group of the two came back
    assert "interrupted: 4 of 8 runs had finished; saved them in" in result.stderr
    assert len([p for p in Path(summary["run_dir"]).iterdir() if p.is_dir()]) == 4


def test_cluster_options_are_checked_before_anything_runs(cli, monkeypatch):
    assert "either --scheduler ADDRESS or --workers N" in cli("sweep", WINE_CFG, "--workers", "2", "--scheduler",
                                                               "tcp://127.0.0.1:8786", code=2).stderr
    assert "--workers: 0" in cli("sweep", WINE_CFG, "--workers", "0", code=2).stderr
    monkeypatch.setattr(distributed, "import_distributed", lambda flag: (_ for _ in ()).throw(distributed.UsageError(
        f'{flag}: needs Dask distributed, which is not installed; install it with: {distributed.INSTALL_HINT}')))
    assert 'pip install "nnlab[cluster]"' in cli("sweep", WINE_CFG, "--workers", "2", code=2).stderr


@pytest.mark.slow
def test_an_unreachable_scheduler_exits_2_with_a_hint(cli, monkeypatch):
    from helpers import free_port

    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT", 1)
    result = cli("sweep", WINE_CFG, "train.epochs=2", "--out", cli.out, "--scheduler",
                 f"tcp://127.0.0.1:{free_port()}", code=2)
    assert "no Dask scheduler answered within 1 s" in result.stderr and "dask scheduler" in result.stderr
    assert not cli.out.exists() or not any(cli.out.iterdir())  # nothing written


# ---------------------------------------------------------------- chunks: stacks cut for the workers


def planned(grid, seeds, epochs=5, **halving):
    from nnlab.data import load_many
    from nnlab.sweep.plan import expand, parse_grid, plan

    trials = expand(WINE_CFG, [f"train.epochs={epochs}"], parse_grid(grid), list(range(seeds)))
    splits = load_many([t.cfg for t in trials])
    groups = plan(trials, splits)
    if halving:
        from nnlab.sweep.halving import plan_halving

        groups = plan_halving(trials, groups, halving["eta"], None)
    return trials, splits, groups


@pytest.mark.parametrize("grid, seeds, slots, sizes", [
    (["optimizer.lr=0.05,0.1,0.2,0.4"], 16, 2, [32, 32]),  # the benchmark's 4 points x 16 seeds
    (["optimizer.lr=0.05,0.1"], 20, 2, [16, 24]),  # a stack of 40: 2 tasks, cut at a multiple of 16
    (["optimizer.lr=0.05,0.1,0.2,0.4"], 16, 4, [16, 16, 16, 16]),  # a bigger cluster: more chunks
    (["optimizer.lr=0.05,0.1"], 5, 2, [10]),  # under 2 x 16 models: not worth cutting
    (["model.hidden=[5],[4,4]"], 16, 2, [16, 16]),  # two stacks already fill two slots
    (["optimizer.lr=0.05,0.1"], 16, 1, [32]),  # one slot: nothing to share
])
def test_stacks_are_cut_into_about_one_chunk_per_worker_slot(grid, seeds, slots, sizes):
    trials, splits, groups = planned(grid, seeds)
    chunked, text = cluster.chunk_groups(trials, splits, groups, slots)
    assert [len(g.trials) for g in chunked] == sizes
    assert sorted(i for g in chunked for i in g.trials) == list(range(len(trials)))
    assert all(g.trials[0] % 16 == 0 for g in chunked if len(groups) == 1)  # a chunk starts at a multiple of 16
    assert f"in {len(sizes)} task(s) of {' + '.join(map(str, sizes))} model(s) on {slots} worker slot(s)" in text


def test_a_stack_being_halved_stays_whole():
    trials, splits, groups = planned(["optimizer.lr=0.05,0.1,0.2,0.4"], 16, epochs=30, eta=3)
    chunked, text = cluster.chunk_groups(trials, splits, groups, 2)
    assert [len(g.trials) for g in chunked] == [64] and chunked[0].halving and "halved stay whole" in text


@pytest.mark.slow
@pytest.mark.cluster
def test_a_chunked_sweep_gives_every_run_its_in_process_numbers_and_reproduces_exactly(cli, client):
    """Chunks start at multiples of 16 models: each model trains where it would in the one in-process stack."""
    client.wait_for_workers(2)  # a worker the fault tests killed may still be restarting
    args = ["sweep", WINE_CFG, "--grid", "optimizer.lr=0.05,0.2", "--seeds", "16", "train.epochs=40", "device=cpu",
            "--no-plots"]
    here = cli(*args, "--out", cli.out / "here")
    there = cli(*args, "--out", cli.out / "there", "--scheduler", client.scheduler.address)
    assert "cluster plan: 32 runs in 2 task(s) of 16 + 16 model(s) on 2 worker slot(s)" in there.stderr
    assert here.stdout.split("saved ")[0] == there.stdout.split("saved ")[0]
    a, b = sweep_dir(cli.out / "here"), sweep_dir(cli.out / "there")
    for sub in ("g00-seed3", "g01-seed15"):  # one in each chunk
        weights_a, weights_b = (torch.load(d / sub / "checkpoint.pt", weights_only=True)["model_state"] for d in (a, b))
        assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
        receipt = json.loads((b / sub / "receipt.json").read_text())
        assert receipt["stack"]["size"] == 16  # the chunk it trained in, not the whole stack
    reproduced = json.loads(cli("reproduce", b / "g01-seed15", "--json").stdout)
    assert reproduced["identical"] is True


HEAP_PROBE = """
import ctypes, sys
libc = ctypes.CDLL("libc.so.6")

class Info(ctypes.Structure):  # glibc's struct mallinfo2: ten size_t fields, hblks the fifth
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]

def mapped_while_held(size=256 * 1024):  # is a block of a stack's activation size mmap'ed (hblks), not on the heap?
    held = libc.mallinfo2().hblks
    p = libc.malloc(size)
    mapped = libc.mallinfo2().hblks - held
    libc.free(p)
    return mapped

for _ in range(3):  # glibc's dynamic threshold (when it is not frozen) rises after the first free
    mapped_while_held()
before = mapped_while_held()
from nnlab.sweep.dask_tasks import heap_for_training
heap_for_training()
print(before, mapped_while_held())
"""


@pytest.mark.slow
@pytest.mark.parametrize("trim, expected", [("65536", "1 0"), (None, "0 0")])
def test_a_worker_started_with_dasks_malloc_trim_gets_a_heap_for_training(trim, expected):
    """Dask's nanny sets MALLOC_TRIM_THRESHOLD_, freezing glibc's mmap threshold at 128 KiB: every activation of a
    stack was mapped and unmapped each step (2x slower training). heap_for_training puts blocks that size back
    on the heap; without the variable it changes nothing."""
    import ctypes
    import os
    import subprocess
    import sys

    if not hasattr(ctypes.CDLL(None), "mallinfo2"):
        pytest.skip("needs glibc 2.33 or newer (mallinfo2)")
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    if trim is not None:
        env["MALLOC_TRIM_THRESHOLD_"] = trim
    out = subprocess.run([sys.executable, "-c", HEAP_PROBE], env={**env, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == expected.split()
