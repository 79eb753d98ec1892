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
    assert without(summary_a, TIMINGS) == without(summary_b, TIMINGS) and summary_b["runs"] == 8
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
