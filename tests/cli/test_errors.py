"""Bad input that once reached an internal error or a hang: each is one line, a documented exit code, at once."""

import errno
import importlib
import json
import os
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest

from helpers import ROOT, WINE, write_config

WINE_CFG = ROOT / "configs" / "wine_mlp.yaml"
LINEAR = ROOT / "configs" / "linear_regression.yaml"


@contextmanager
def no_hang(seconds: int = 120):
    """Fail instead of waiting forever if the code under test blocks (a regression to the hang it guards)."""
    def stuck(*_):
        raise AssertionError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def one_error(result, *needles):
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("error: ") for line in lines) and "internal error" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
    return result.stderr


@pytest.fixture(scope="module")
def wine_run(tmp_path_factory):
    from helpers import Cli

    cli = Cli(tmp_path_factory.mktemp("runs"))
    return cli.train_json(WINE_CFG, "train.epochs=5")["run_dir"]


@pytest.mark.parametrize("name", ["gpu9", "", "meta", "cuda:x"])
def test_a_device_that_is_not_one_is_a_usage_error_everywhere(cli, wine_run, name):
    shown = f"'{name}'"
    one_error(cli("train", WINE_CFG, f"device={name}", "--out", cli.out, code=2), "device", shown)
    one_error(cli("train", WINE_CFG, "--device", name, "--out", cli.out, code=2), "device", shown)
    one_error(cli("eval", wine_run, "--device", name, code=2), "--device", shown)
    one_error(cli("predict", wine_run, "--data", WINE, "--device", name, code=2), "--device", shown)
    one_error(cli("reproduce", wine_run, "--device", name, code=2), "--device", shown)


@pytest.mark.parametrize("seeds", ["0-100000000", "1000000", "9223372036854775808", "18446744073709551617",
                                   ",".join(map(str, range(20_000)))])
def test_huge_seed_counts_and_seeds_past_2_63_are_refused_before_any_work(cli, seeds):
    result = cli("train", WINE_CFG, "--seeds", seeds, "--out", cli.out, code=2)
    one_error(result, "--seeds")
    assert not cli.out.exists()


def test_a_grid_whose_product_is_huge_is_refused_with_its_size_and_the_limit(cli):
    values = ",".join(str(i / 1000) for i in range(1, 201))
    result = cli("sweep", WINE_CFG, "--grid", f"optimizer.lr={values}", "--grid", f"optimizer.momentum=0,{values}",
                 "--seeds", "3", "--out", cli.out, code=2)
    one_error(result, "200 x 201", "120,600 runs", "10,000")
    one_error(cli("train", WINE_CFG, "--seed", str(2**63), "--out", cli.out, code=2), "seed")


@pytest.mark.parametrize("hidden, needle", [
    ("[100000,100000]", "10,001,800,003 parameters"),
    ("[10000000000000000000000]", "170,000,000,000,000,000,000,003 parameters")])
def test_a_model_too_big_to_build_names_its_key(cli, hidden, needle):
    one_error(cli("train", WINE_CFG, f"model.hidden={hidden}", "--out", cli.out, code=2), "model.hidden", needle)
    one_error(cli("check", WINE_CFG, f"model.hidden={hidden}", code=2), "model.hidden", needle)


def test_synthetic_data_too_big_for_the_memory_names_its_keys(cli):
    result = cli("check", LINEAR, "data.n_samples=100000000000", code=2)
    one_error(result, "data.n_samples", "100,000,000,000 rows")


def test_threads_zero_and_a_bad_stored_thread_count_are_usage_errors(cli):
    from nnlab.errors import ConfigError
    from nnlab.training.device import set_threads

    one_error(cli("train", WINE_CFG, "threads=0", "--out", cli.out, code=2), "threads")
    one_error(cli("train", WINE_CFG, "--threads", "0", "--out", cli.out, code=2), "threads")
    for bad in (0, -1, True, "2", 10_000):
        with pytest.raises(ConfigError, match="thread count"):
            set_threads(bad, "checkpoint threads")


@pytest.mark.parametrize("summary", ["[" * 100_000 + "]" * 100_000, "[1, 2]", '"text"', "5",
                                     json.dumps({"metrics": 5, "status": [1], "epochs": "x", "epoch": {}}),
                                     json.dumps({"metrics": {"test": {"accuracy": "high"}, "train": [1]}}),
                                     json.dumps({"a": {"b": {"c": {"d": {"e": {"f": {}}}}}}} | {"deep": [[[[[]]]]]})])
def test_runs_and_compare_survive_any_summary_json(cli, wine_run, tmp_path, summary):
    odd = tmp_path / "odd-20260101-000000"
    odd.mkdir()
    (odd / "summary.json").write_text(summary)
    (odd / "config.yaml").write_text("name: odd\nmodel: [1, 2]\n")
    rows = json.loads(cli("runs", tmp_path, "--json").stdout)
    assert rows[0]["run"] == odd.name and rows[0]["status"] in ("finished", "unreadable summary")
    assert "odd-2026" in cli("runs", tmp_path).stdout
    compared = json.loads(cli("compare", wine_run, odd, "--json").stdout)
    assert compared["runs"] == [wine_run, str(odd)]
    cli("compare", wine_run, odd)


def test_a_deeply_nested_config_yaml_is_read_as_garbled(cli, tmp_path, wine_run):
    odd = tmp_path / "deep-20260101-000000"
    odd.mkdir()
    (odd / "config.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "no config.yaml" in one_error(cli("compare", wine_run, odd, code=2))


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EROFS])
def test_a_disk_that_refuses_the_first_write_is_exit_4(cli, tmp_path, monkeypatch, err):
    import nnlab.rundir.safefile

    def refuse(*args):
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(nnlab.rundir.safefile.os, "replace", refuse)
    result = cli("train", LINEAR, "--run-dir", tmp_path / "run", "--quiet", code=4)
    hint = "free some space" if err == errno.ENOSPC else "make it writable"
    one_error(result, os.strerror(err), hint)


def test_a_read_only_run_folder_on_resume_is_exit_4_before_training(cli, tmp_path, monkeypatch):
    import nnlab.rundir.safefile
    import nnlab.training.loop

    config = write_config(tmp_path, "data: {source: linear, n_samples: 60}\nmodel: {kind: linear}\n"
                                    "train: {epochs: 4, checkpoint_every: 1}\n")
    run_dir = tmp_path / "run"
    real_fit = nnlab.training.loop.fit
    cli("train", config, "--run-dir", run_dir, "--quiet", "train.epochs=2")
    monkeypatch.setattr(nnlab.rundir.safefile.os, "replace",
                        lambda *a: (_ for _ in ()).throw(OSError(errno.EROFS, os.strerror(errno.EROFS))))
    trained = []
    monkeypatch.setattr(nnlab.training.loop, "fit", lambda *a, **k: trained.append(1) or real_fit(*a, **k))
    result = cli("train", "--resume", run_dir, "train.epochs=4", "--force", code=4)
    one_error(result, "Read-only file system", "make it writable")
    assert not trained


def test_plots_on_a_full_disk_are_exit_4(cli, tmp_path, monkeypatch):
    from nnlab.views import plots, plotter

    def full(jobs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(plotter.Plotter, "__enter__", lambda self: self)  # no helper: draw here
    monkeypatch.setattr(plots, "draw", full)
    cli.plots = True
    one_error(cli("train", LINEAR, "train.epochs=2", "--out", cli.out, code=4), "No space left")


def test_fifos_are_refused_not_waited_on(cli, tmp_path, wine_run):
    fifo_yaml, fifo_csv = tmp_path / "config.yaml", tmp_path / "data.csv"
    os.mkfifo(fifo_yaml)
    os.mkfifo(fifo_csv)
    with no_hang():
        one_error(cli("check", fifo_yaml, code=2), "not a regular file")
        one_error(cli("check", WINE_CFG, f"data.path={fifo_csv}", code=3), "not a regular file")
        one_error(cli("predict", wine_run, "--data", fifo_csv, code=3), "not a regular file")
        one_error(cli("eval", wine_run, "--data", fifo_csv, code=3), "not a regular file")
        odd = tmp_path / "fifo-run"
        odd.mkdir()
        os.mkfifo(odd / "summary.json")
        os.mkfifo(odd / "receipt.json")
        (odd / "config.yaml").write_text("name: fifo\n")
        assert json.loads(cli("runs", tmp_path, "--json").stdout)[0]["run"] == "fifo-run"
        one_error(cli("reproduce", odd, code=4), "not a regular file")


def test_a_csv_with_too_many_columns_is_refused_from_its_header(cli, tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(200_000)) + ",y\n" + "0," * 200_000 + "1\n")
    config = write_config(tmp_path, f"data: {{source: csv, path: {path}, target: y}}\nmodel: {{kind: logistic}}\n")
    with no_hang():
        one_error(cli("check", config, code=3), "200,001 columns", "100,000")


def test_a_wide_csv_reads_whole_and_its_errors_stay_short(tmp_path):
    from nnlab.data.csvfile import read_csv
    from nnlab.errors import DataError

    n = 5_000
    path = tmp_path / "wide.csv"
    rows = [",".join(str((r * n + c) % 7) for c in range(n)) + f",{r % 2}" for r in range(6)]
    path.write_text(",".join(f"c{i}" for i in range(n)) + ",y\n" + "\n".join(rows) + "\n")
    X, y, features, _ = read_csv(path, "y", None)
    assert X.shape == (6, n) and X[1, 3] == (n + 3) % 7 and y.tolist() == [0, 1, 0, 1, 0, 1]
    path.write_text(path.read_text().replace("\n1,", "\n,", 1).replace(",1,", ",,"))
    with pytest.raises(DataError) as info:
        read_csv(path, "y", None)
    assert "missing or infinite" in str(info.value) and len(str(info.value)) < 600
    with pytest.raises(DataError) as info:
        read_csv(path, "nope", None)
    assert f"({n + 1:,} columns)" in str(info.value) and len(str(info.value)) < 600


@pytest.mark.slow
def test_many_unknown_keys_are_counted_not_each_described(cli, tmp_path):
    text = "data: {source: linear}\nmodel: {kind: linear}\n" + "".join(f"k{i}: 1\n" for i in range(100_000))
    with no_hang():
        lines = one_error(cli("check", write_config(tmp_path, text), code=2)).splitlines()
    assert len(lines) == 21 and lines[-1].endswith("... and 99,980 more problems (100,000 in all)")


def test_an_expression_starting_with_a_minus_is_told_to_follow_dashes(cli):
    result = cli("grad", "-x**2", "x=3", code=2)
    one_error(result, "'-x**2' starts with '-'", "nnlab grad -- '-x**2' x=3")
    assert json.loads(cli("grad", "--json", "--", "-x**2", "x=3").stdout)["value"] == -9
    one_error(cli("train", WINE_CFG, "--jsn", code=2), "train: No such option: --jsn")
    one_error(cli("eval", code=2), "eval: Missing argument")


@pytest.mark.parametrize("command", ["eval", "reproduce", "predict", "train --resume"])
def test_a_sweep_folder_is_named_as_one_with_a_run_to_give_instead(cli, command):
    summary = json.loads(cli("sweep", WINE_CFG, "--seeds", "2", "train.epochs=2", "--out", cli.out, "--json").stdout)
    extra = ["--data", WINE] if command == "predict" else []
    result = cli(*command.split(), summary["run_dir"], *extra, code=2)
    one_error(result, "is a sweep folder", f"{summary['run_dir']}/seed0")
    assert "0.2" not in result.stderr and "finished?" not in result.stderr


def test_a_data_path_override_resolves_against_the_current_folder(cli, tmp_path, monkeypatch):
    from nnlab.config import load_config

    folder = tmp_path / "configs"
    folder.mkdir()
    config = write_config(folder, "data: {source: csv, path: wine.csv, target: class}\nmodel: {kind: mlp}\n")
    assert load_config(config).data.path == str(folder / "wine.csv")  # written in the file: the file's folder
    monkeypatch.chdir(tmp_path)
    assert load_config(config, ["data.path=here.csv"]).data.path == str(tmp_path / "here.csv")  # typed: cwd
    (tmp_path / "here.csv").write_text(WINE.read_text())
    assert json.loads(cli("check", config, "data.path=here.csv", "--json").stdout)["train_rows"] == 142


def test_a_sweep_without_seeds_uses_the_configs_seed(cli):
    summary = json.loads(cli("sweep", WINE_CFG, "--grid", "optimizer.lr=0.05,0.1", "train.epochs=2", "--out",
                             cli.out, "--json").stdout)
    assert summary["seeds"] == [6202] and [p["overrides"]["optimizer.lr"] for p in summary["points"]] != []
    assert {type(p["overrides"]["optimizer.lr"]) for p in summary["points"]} == {float}
    hidden = json.loads(cli("sweep", WINE_CFG, "--grid", "model.hidden=[4],[4,4]", "train.epochs=2", "seed=3",
                            "--out", cli.out, "--json").stdout)
    assert hidden["seeds"] == [3] and sorted(p["overrides"]["model.hidden"] for p in hidden["points"]) == [[4], [4, 4]]


def test_piped_output_keeps_paths_keys_and_rows_whole(cli, tmp_path, wine_run):
    deep = tmp_path / ("a-rather-long-folder-name-" * 6) / "and" / "deeper"
    out = cli("train", LINEAR, "train.epochs=2", "--out", deep).stdout
    saved = out.splitlines()[-1]
    assert saved.startswith("saved ") and Path(saved[len("saved "):]).parent == deep
    assert all(len(line) > 80 for line in out.splitlines() if "a-rather-long" in line)  # not cut at 80 columns
    compared = cli("compare", wine_run, saved[len("saved "):]).stdout
    assert "metrics.train.accuracy" in compared and "metrics.train.ac…" not in compared
    assert max(map(len, compared.splitlines())) > 80
    listed = cli("runs", deep).stdout
    assert any(Path(saved[len("saved "):]).name in line and "test_r2" in line for line in listed.splitlines())


@pytest.mark.parametrize("args", [["eval", "/nonexistent/run"], ["check", WINE_CFG, "device=gpu9"]])
def test_debug_prints_the_traceback_then_exits_with_the_documented_code(cli, args):
    plain = cli(*args, code=2)
    debug = cli.runner.invoke(cli.app, ["--debug", *map(str, args)])
    assert debug.exit_code == 2, debug.stderr
    assert "Traceback" in debug.stderr and debug.stderr.endswith(plain.stderr)  # the same error line, last


def test_an_option_names_itself_in_the_hint_not_a_config_key(cli, wine_run, tmp_path):
    for command in ("predict", "eval"):
        stderr = one_error(cli(command, wine_run, "--data", tmp_path / "nonexist.csv", code=3), "check --data")
        assert "data.path" not in stderr
    one_error(cli("eval", wine_run, "--data", tmp_path, code=3), "--data must name a CSV file")
    (tmp_path / "semi.csv").write_text(WINE.read_text().replace(",", ";"))
    stderr = one_error(cli("predict", wine_run, "--data", tmp_path / "semi.csv", code=3), "';'-separated")
    assert "set data.sep" not in stderr and "save this one with ','" in stderr


def test_a_bad_grid_value_is_named_as_the_grid_option_that_gave_it(cli):
    stderr = one_error(cli("sweep", WINE_CFG, "--grid", "optimizer.lr=0.1,abc", "--out", cli.out, code=2),
                       "error: --grid optimizer.lr=abc: input should be a valid number")
    assert str(WINE_CFG) not in stderr and "wine_mlp.yaml" not in stderr and not cli.out.exists()
    one_error(cli("sweep", WINE_CFG, "--grid", "model.hidden=[4],[x]", code=2),
              "--grid model.hidden=[x]: model.hidden.0")
    one_error(cli("sweep", WINE_CFG, "--grid", "optimizer.lr=0.1", "optimizer.momentum=7", code=2),
              f"{WINE_CFG}: optimizer.momentum")  # an override keeps naming the file it changes


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_an_out_that_is_a_file_is_named_as_one(cli, tmp_path, command):
    afile = tmp_path / "afile"
    afile.write_text("mine\n")
    for out in (afile, afile / "deeper"):
        stderr = one_error(cli(command, LINEAR, "train.epochs=2", "--out", out, code=2),
                           f"{afile}: is a file, not a folder; pick another --out")
        assert "File exists" not in stderr and "Not a directory" not in stderr
    assert afile.read_text() == "mine\n"


@pytest.mark.parametrize("command, patched", [("train", "nnlab.data.load_data"),
                                              ("sweep", "nnlab.sweep.plan.expand"),
                                              ("lr-find", "nnlab.config.load_config")])
def test_ctrl_c_before_training_starts_says_nothing_was_saved(cli, monkeypatch, command, patched):
    module, _, name = patched.rpartition(".")

    def interrupted(*args, **kwargs):
        signal.raise_signal(signal.SIGINT)  # Python's own handler: KeyboardInterrupt, as while torch imports

    monkeypatch.setattr(importlib.import_module(module), name, interrupted)
    result = cli(command, WINE_CFG, "--out", cli.out, code=130)
    assert result.stderr == "error: interrupted before training started: nothing saved\n"
    assert not cli.out.exists()


def test_ctrl_c_once_the_run_is_claimed_stops_after_one_step_and_saves_a_run_to_resume(cli, monkeypatch):
    from nnlab.rundir.run import Run

    start = Run.start

    def start_then_ctrl_c(self, *args, **kwargs):
        start(self, *args, **kwargs)
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(Run, "start", start_then_ctrl_c)
    result = cli("train", LINEAR, "--out", cli.out, "--quiet", code=130)
    one_error(result, "interrupted by SIGINT at epoch 1", "resume with: nnlab train --resume")
    run_dir = next(cli.out.iterdir())
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "interrupted"
    assert (run_dir / "checkpoint.pt").is_file()


def test_piped_tables_have_no_blank_first_line_and_no_trailing_spaces(cli, wine_run):
    listed = cli("runs", Path(wine_run).parent).stdout
    assert listed.splitlines()[0].split() == ["run", "time", "model", "overrides", "epochs", "train_loss",
                                              "final", "metric", "status"]
    assert Path(wine_run).name in listed.splitlines()[2] and listed.endswith("finished\n")
    evaluated = cli("eval", wine_run).stdout
    assert evaluated.startswith("classification report: test\n")
    for out in (listed, evaluated):
        assert not [line for line in out.splitlines() if line != line.rstrip()], out


@pytest.fixture(scope="module")
def diverged_run(tmp_path_factory):
    from helpers import Cli

    cli = Cli(tmp_path_factory.mktemp("runs"))
    cli("train", LINEAR, "optimizer.lr=1e4", "--out", cli.out, "--quiet", code=5)
    return next(cli.out.iterdir())


def test_reproduce_of_a_diverged_run_is_a_usage_mistake_saying_what_to_do(cli, diverged_run):
    one_error(cli("reproduce", diverged_run, code=2), f"{diverged_run}: the run diverged",
              "only finished runs can be reproduced", "smaller optimizer.lr")


@pytest.fixture(scope="module")
def lr_find_folder(tmp_path_factory):
    from helpers import Cli

    cli = Cli(tmp_path_factory.mktemp("runs"))
    return json.loads(cli("lr-find", LINEAR, "--num", "3", "--epochs", "2", "--no-plots", "--json", "--out",
                          cli.out).stdout)


@pytest.mark.parametrize("command", ["eval", "reproduce", "predict", "export", "train --resume"])
def test_an_lr_find_folder_is_named_as_one_with_the_run_to_train_instead(cli, lr_find_folder, command):
    extra = {"predict": ["--data", WINE], "export": ["--format", "torchscript"]}.get(command, [])
    stderr = one_error(cli(*command.split(), lr_find_folder["run_dir"], *extra, code=2), "is an lr-find folder",
                       f"nnlab train {LINEAR} optimizer.lr={lr_find_folder['suggested_lr']:g}")
    assert "finished?" not in stderr
