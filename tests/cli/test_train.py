"""Every bundled config end to end through the CLI, and the CLI's contracts with scripts."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import CONFIGS, ROOT, WINE, interrupt_after, write_config

SUMMARY_KEYS = {"run_dir", "task", "epochs", "epoch", "metrics", "steps", "train_seconds", "status"}


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_bundled_config_trains_as_shipped_and_eval_reproduces_it(cli, config):
    summary = cli.train_json(config)
    assert SUMMARY_KEYS <= set(summary)
    run_dir = summary["run_dir"]
    for name in ("config.yaml", "metrics.csv", "checkpoint.pt", "summary.json"):
        assert (Path(run_dir) / name).is_file()
    assert json.loads(open(f"{run_dir}/summary.json").read()) == summary
    for split, metrics in summary["metrics"].items():
        if metrics:
            evaluated = json.loads(cli("eval", run_dir, "--split", split, "--json").stdout)
            assert evaluated["metrics"] == {split: metrics} and evaluated["split"] == split
            assert evaluated.get("per_class", {}).get(split) == summary.get("per_class", {}).get(split)


@pytest.mark.slow
def test_shipped_results_are_sensible(cli):
    wine = cli.train_json(ROOT / "configs" / "wine_mlp.yaml")
    assert wine["metrics"]["test"]["accuracy"] >= 0.9 and wine["task"] == "classification"
    cubic = cli.train_json(ROOT / "configs" / "cubic_sine.yaml")
    assert len(cubic["coefficients"]) == 4 and cubic["coefficients"][1] == pytest.approx(0.857, abs=0.05)
    assert cubic["metrics"]["test"] == {} and cubic["steps"] == 2000
    linear = cli.train_json(ROOT / "configs" / "linear_regression.yaml")
    assert linear["metrics"]["test"]["r2"] > 0.99
    logistic = cli.train_json(ROOT / "configs" / "logistic_neuron.yaml")
    assert logistic["metrics"]["train"]["accuracy"] > 0.75


def test_human_report_shows_model_loss_table_and_reports(cli):
    out = cli("train", ROOT / "configs" / "wine_mlp.yaml", "train.epochs=30", "train.log_every=10",
              "--out", cli.out).stdout
    for text in ("total", "148", "device cpu", "train 142 rows", "test 36 rows", "test_accuracy",
                 "classification report: train", "classification report: test", "macro avg", "saved"):
        assert text in out, text
    assert [line.split()[0] for line in out.splitlines() if line.strip()[:2] in ("10", "20", "30")][:3] == \
        ["10", "20", "30"]


def test_cubic_prints_the_fitted_polynomial(cli):
    out = cli("train", ROOT / "configs" / "cubic_sine.yaml", "train.epochs=50", "--out", cli.out).stdout
    assert "y = " in out and "·x^3" in out


def test_json_stdout_is_exactly_one_object(cli):
    result = cli("train", ROOT / "configs" / "linear_regression.yaml", "train.epochs=2", "--out", cli.out, "--json")
    assert result.stdout.count("\n") == 1 and isinstance(json.loads(result.stdout), dict)


def test_overrides_and_flags_reach_the_run(cli):
    summary = cli.train_json(ROOT / "configs" / "wine_mlp.yaml", "train.epochs=3", "optimizer.lr=1e-3",
                             "--seed", "5", "--threads", "1")
    saved = (Path(summary["run_dir"]) / "config.yaml").read_text()
    assert "lr: 0.001" in saved and "seed: 5" in saved and summary["epochs"] == 3 and summary["threads"] == 1


def test_same_seed_identical_metrics(cli):
    a = cli.train_json(ROOT / "configs" / "wine_mlp.yaml", "train.epochs=50")
    b = cli.train_json(ROOT / "configs" / "wine_mlp.yaml", "train.epochs=50")
    assert a["metrics"] == b["metrics"] and a["run_dir"] != b["run_dir"]


def test_eval_on_another_csv(cli, tmp_path):
    run_dir = cli.train_json(ROOT / "configs" / "wine_mlp.yaml", "train.epochs=200")["run_dir"]
    out = json.loads(cli("eval", run_dir, "--data", WINE, "--json").stdout)
    assert 0 < out["metrics"]["data"]["accuracy"] <= 1 and out["split"] == "data" and out["data"] == str(WINE)
    (tmp_path / "part.csv").write_text("\n".join(WINE.read_text().splitlines()[:20]).replace(",Hue,", ",Hew,"))
    result = cli("eval", run_dir, "--data", tmp_path / "part.csv", code=3)
    assert "feature column 'Hue' not found" in result.stderr
    (tmp_path / "new.csv").write_text(WINE.read_text().replace("\n3,", "\n4,"))
    assert "were not among the classes" in cli("eval", run_dir, "--data", tmp_path / "new.csv", code=3).stderr


@pytest.mark.parametrize("args, code, message", [
    (["train", "nope.yaml"], 2, "config file not found"),
    (["train", ROOT / "configs" / "wine_mlp.yaml", "optimizer.lr=-1"], 2, "optimizer.lr"),
    (["train", ROOT / "configs" / "wine_mlp.yaml", "data.target=Class"], 3, "did you mean 'class'?"),
    (["train", ROOT / "configs" / "wine_mlp.yaml", "device=cuda:7"], 2, "device: 'cuda:7'"),
    (["eval", "no/such/run"], 2, "no such run directory"),
    (["eval", ROOT, "--split", "valid"], 2, "--split"),
])
def test_errors_are_one_line_with_an_exit_code(cli, args, code, message):
    import torch

    if "cuda:7" in str(args) and torch.cuda.device_count() > 7:
        pytest.skip("this machine has 8 GPUs")
    result = cli(*args, code=code)
    assert message in result.stderr and result.stderr.startswith("error: ") and result.stdout == ""


def test_diverging_run_exits_5(cli):
    result = cli("train", ROOT / "configs" / "linear_regression.yaml", "optimizer.lr=1e4", "--out", cli.out, code=5)
    assert "try a smaller optimizer.lr" in result.stderr


@pytest.mark.parametrize("flag", ["--json", "--jsonl"])
def test_json_ends_with_the_saved_summary_when_a_run_is_interrupted_or_diverges(cli, monkeypatch, tmp_path, flag):
    """README: status/stopped can be interrupted or diverged in the --json object: it is printed, as summary.json."""
    with monkeypatch.context() as m:
        interrupt_after(m, 7)
        stopped = cli("train", ROOT / "configs" / "wine_mlp.yaml", "train.epochs=50", flag,
                      "--run-dir", tmp_path / "stopped", code=130)
    diverged = cli("train", ROOT / "configs" / "cubic_sine.yaml", "optimizer.lr=1", flag,
                   "--run-dir", tmp_path / "diverged", code=5)
    for result, status, error in [(stopped, "interrupted", "interrupted by SIGINT"), (diverged, "diverged", "inf")]:
        last = json.loads(result.stdout.splitlines()[-1])
        saved = json.loads((Path(last["run_dir"]) / "summary.json").read_text())
        assert last == saved and last["status"] == last["stopped"] == status and "event" not in last
        assert result.stderr.startswith("error: ") and error in result.stderr
        if flag == "--json":
            assert result.stdout.count("\n") == 1


def test_json_after_a_signal_past_the_last_step_prints_the_finished_summary(cli, monkeypatch, tmp_path):
    import nnlab.scoring.baselines

    monkeypatch.setattr(nnlab.scoring.baselines, "for_run", _send_then_spin(2, {}))
    result = cli("train", ROOT / "configs" / "wine_mlp.yaml", "train.epochs=5", "--baseline", "--json",
                 "--run-dir", tmp_path / "run", code=130)
    assert json.loads(result.stdout) == json.loads((tmp_path / "run" / "summary.json").read_text())


def test_ctrl_c_while_the_plots_are_drawn_exits_130_with_the_finished_run_saved(cli, monkeypatch, tmp_path):
    from nnlab.views.plotter import Plotter

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Plotter, "wait", interrupted)
    result = cli("train", ROOT / "configs" / "wine_mlp.yaml", "train.epochs=5", "--json", "--run-dir",
                 tmp_path / "run", code=130)
    assert "after the last step" in result.stderr and "internal error" not in result.stderr
    saved = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert json.loads(result.stdout) == saved and saved["status"] == "finished"


def test_a_diverged_run_is_one_error_line_naming_where_what_was_saved_and_what_to_do(cli):
    result = cli("train", ROOT / "configs" / "linear_regression.yaml", "optimizer.lr=1e4", "--out", cli.out, code=5)
    run_dir = next(cli.out.iterdir())
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: loss became"), result.stderr
    for needle in ("at epoch ", ", step ", f"no checkpoint yet in {run_dir}", "metrics.csv and summary.json",
                   "try a smaller optimizer.lr"):
        assert needle in result.stderr, (needle, result.stderr)
    assert {p.name for p in run_dir.iterdir()} >= {"metrics.csv", "summary.json"}


def test_check_validates_without_training(cli, tmp_path):
    out = json.loads(cli("check", ROOT / "configs" / "wine_mlp.yaml", "--json").stdout)
    assert out["ok"] and out["train_rows"] == 142 and out["classes"] == [1, 2, 3]
    assert not cli.out.exists()
    bad = write_config(tmp_path, "data: {source: csv, path: missing.csv, target: y}\nmodel: {kind: mlp}")
    assert "data file not found" in cli("check", bad, code=3).stderr


def test_check_refuses_a_model_too_big_to_train_as_train_does(cli):
    huge = (ROOT / "configs" / "wine_mlp.yaml", "model.hidden=[1000000,100000]")
    refused = cli("check", *huge, code=2).stderr
    assert "model.hidden [1000000, 100000]: 100,014,400,003 parameters need about 1600.2 GB to train" in refused
    assert "free on this machine; use a smaller model" in refused
    assert "100,014,400,003 parameters need about" in cli("train", *huge, "--out", cli.out, code=2).stderr


def run_python(*args, **kw):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, **kw)


@pytest.mark.slow
def test_help_and_check_do_not_import_torch():
    """Nor pandas, for the bundled CSV of plain numbers (its import is most of what check costs)."""
    code = ("import sys; from typer.testing import CliRunner; from nnlab.cli import app; r = CliRunner(); "
            "assert r.invoke(app, ['--help']).exit_code == 0; "
            "assert r.invoke(app, ['check', 'configs/wine_mlp.yaml']).exit_code == 0; "
            "assert r.invoke(app, ['check', 'configs/wine_mlp.yaml', 'model.hidden=[100000,100000]']).exit_code == 2; "
            "heavy = [m for m in ('torch', 'sklearn', 'matplotlib', 'pandas') if m in sys.modules]; print(heavy)")
    assert run_python("-c", code).stdout.strip() == "[]"


@pytest.mark.slow
def test_python_dash_m_and_version():
    result = run_python("-m", "nnlab", "--version")
    assert result.returncode == 0 and result.stdout.startswith("nnlab ")


def test_unexpected_errors_have_no_traceback_unless_debug(cli, monkeypatch):
    import nnlab.data

    monkeypatch.setattr(nnlab.data, "load_data", lambda *a, **k: 1 / 0)
    result = cli("train", ROOT / "configs" / "wine_mlp.yaml", "--out", cli.out, code=1)
    assert "internal error: ZeroDivisionError" in result.stderr and "--debug" in result.stderr


def _send_then_spin(signum, seen: dict):
    """Stands in for a long scikit-learn fit: the signal arrives inside it, then it runs on for up to 30 s."""
    import os
    import time

    def baseline(*args, **kwargs):
        os.kill(os.getpid(), signum)
        for _ in range(3000):
            time.sleep(0.01)
        seen["finished"] = True  # the signal was ignored
        return None
    return baseline


@pytest.mark.parametrize("signum, code", [(2, 130), (15, 143)])
def test_a_signal_while_the_baseline_fits_stops_it_and_keeps_the_finished_run(cli, monkeypatch, signum, code):
    import nnlab.scoring.baselines
    from nnlab.rundir.store import load_run

    seen = {}
    monkeypatch.setattr(nnlab.scoring.baselines, "for_run", _send_then_spin(signum, seen))
    result = cli("train", ROOT / "configs" / "wine_mlp.yaml", "train.epochs=20", "--baseline", "--out", cli.out,
                 code=code)
    assert not seen, "the baseline ran on after the signal"
    run_dir = next(cli.out.iterdir())
    assert f"after the last step; the finished run is saved in {run_dir}" in result.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and "baseline" not in summary and summary["metrics"]["test"]
    assert load_run(run_dir).checkpoint["train_state"]["finished"] and not (run_dir / ".lock").exists()


def test_a_signal_while_scoring_skips_the_baseline_and_exits_with_its_code(cli, monkeypatch):
    import os

    import nnlab.scoring.metrics

    real = nnlab.scoring.metrics.assess_splits

    def scored_then_signalled(*args, **kwargs):
        os.kill(os.getpid(), 15)
        return real(*args, **kwargs)

    monkeypatch.setattr(nnlab.scoring.metrics, "assess_splits", scored_then_signalled)
    result = cli("train", ROOT / "configs" / "linear_regression.yaml", "train.epochs=3", "--out", cli.out, code=143)
    assert "SIGTERM after the last step" in result.stderr
    summary = json.loads((next(cli.out.iterdir()) / "summary.json").read_text())
    assert summary["status"] == "finished" and "baseline" not in summary


@pytest.mark.parametrize("config", [c for c in CONFIGS if "wine" not in c.stem], ids=lambda p: p.stem)
def test_eval_data_works_for_runs_on_synthetic_data(cli, tmp_path, config):
    """A synthetic run's columns are x1..xN and y; a CSV with them is scored like the run's own split."""
    import numpy as np

    from nnlab.config import load_config
    from nnlab.data.sources import read_source

    run_dir = cli.train_json(config, "train.epochs=2")["run_dir"]
    X, y, names, target, _, _ = read_source(load_config(config, []))
    rows = np.column_stack([X, np.asarray(y).reshape(len(X), -1)[:, :1]])[:50]
    (tmp_path / "more.csv").write_text(",".join([*names, target]) + "\n" +
                                       "\n".join(",".join(repr(float(v)) for v in r) for r in rows) + "\n")
    if np.asarray(y).reshape(len(X), -1).shape[1] > 1:  # random data: 10 outputs, one target column
        assert "cannot score it; nnlab predict" in cli("eval", run_dir, "--data", tmp_path / "more.csv", code=3).stderr
        assert cli("predict", run_dir, "--data", tmp_path / "more.csv", "--json").stdout
        return
    out = json.loads(cli("eval", run_dir, "--data", tmp_path / "more.csv", "--json").stdout)
    assert out["split"] == "data" and out["data"] == str(tmp_path / "more.csv") and out["metrics"]["data"]


def test_eval_defaults_to_the_split_train_reported(cli):
    """The cubic has no test split: eval scores train, as train's report and nnlab runs do; asking for test fails."""
    summary = cli.train_json(ROOT / "configs" / "cubic_sine.yaml", "train.epochs=5")
    out = json.loads(cli("eval", summary["run_dir"], "--json").stdout)
    assert out["split"] == "train" and out["metrics"] == {"train": summary["metrics"]["train"]}
    assert "train" in cli("eval", summary["run_dir"]).stdout
    assert "no test split (data.test_size was 0)" in cli("eval", summary["run_dir"], "--split", "test", code=2).stderr
    wine = cli.train_json(ROOT / "configs" / "wine_mlp.yaml", "train.epochs=5")
    assert json.loads(cli("eval", wine["run_dir"], "--json").stdout)["metrics"] == {"test": wine["metrics"]["test"]}


def test_eval_warns_when_the_data_file_changed_since_training(cli, tmp_path):
    import shutil

    shutil.copy(WINE, tmp_path / "wine.csv")
    config = write_config(tmp_path, (ROOT / "configs" / "wine_mlp.yaml").read_text()
                          .replace("../data/wine.csv", "wine.csv"), "wine.yaml")
    run_dir = cli.train_json(config, "train.epochs=20")["run_dir"]
    same = cli("eval", run_dir, "--json")
    assert "warning" not in same.stderr and "data_changed" not in json.loads(same.stdout)
    lines = (tmp_path / "wine.csv").read_text().splitlines()
    (tmp_path / "wine.csv").write_text("\n".join(lines[:1] + lines[2:] + lines[1:2]) + "\n")  # same rows, new order
    changed = cli("eval", run_dir)
    assert "warning: " in changed.stderr and "the file changed since training" in changed.stderr
    assert "the file changed" in json.loads(cli("eval", run_dir, "--json").stdout)["data_changed"]
