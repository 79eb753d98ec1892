"""What several test files share: paths, a CLI runner, config files, a free port."""

import json
import os
import signal
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
WINE = ROOT / "data" / "wine.csv"

WINE_YAML = f"""
name: wine
data: {{source: csv, path: {WINE}, target: class}}
model: {{kind: mlp, hidden: [5, 5, 5]}}
optimizer: {{lr: 0.05, momentum: 0.1}}
"""


def error_of(tmp_path, text: str, overrides=()) -> str:
    """The ConfigError message that loading `text` (with `overrides`) gives."""
    import pytest

    from nnlab.config import load_config
    from nnlab.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, text), list(overrides))
    return str(info.value)


class Cli:
    """Runs nnlab in-process, like a shell would, and keeps stdout and stderr apart.

    `train` gets --no-plots unless a test sets `cli.plots = True` (PNGs cost ~1 s a run; tests/test_plots.py
    covers them).
    """

    def __init__(self, out: Path):
        from nnlab.cli import app

        self.app, self.out, self.runner, self.plots = app, out, CliRunner(), False

    def __call__(self, *args, code: int = 0):
        args = [str(a) for a in args]
        if args[:1] == ["train"] and not self.plots and "--plots" not in args:
            args.append("--no-plots")
        result = self.runner.invoke(self.app, args)
        assert code is None or result.exit_code == code, (result.exit_code, result.stdout, result.stderr,
                                                          result.exception)
        if code != 0:
            assert "Traceback" not in result.stderr + result.stdout
        return result

    def train_json(self, config, *overrides) -> dict:
        result = self(*["train", config, *overrides, "--out", self.out, "--json"])
        return json.loads(result.stdout)


@contextmanager
def _signal_after(n_steps: int, signum=signal.SIGINT):
    """Stands in for catch_signals: 'receives' a signal right after optimizer step number `step`."""
    from nnlab.training import optim
    from nnlab.training.signals import StopFlag

    flag, count = StopFlag(), [0]
    originals = {cls: cls.step for cls in (optim.SGD, optim.Adam)}

    def counting(original):
        def counted_step(self):
            original(self)
            count[0] += 1
            if count[0] == n_steps:
                flag.request(signum)
        return counted_step

    for cls, original in originals.items():
        cls.step = counting(original)
    try:
        yield flag
    finally:
        for cls, original in originals.items():
            cls.step = original


def interrupt_after(monkeypatch, step: int, signum=signal.SIGINT):
    import nnlab.training.signals

    monkeypatch.setattr(nnlab.training.signals, "catch_signals", lambda: _signal_after(step, signum))


def graph_node(name: str, children=(), leaf=None) -> dict:
    """A node of a `--graph --json` backward graph: every node has every key."""
    return {"name": name, "leaf": leaf, "children": list(children), "seen": False, "note": None}


def write_config(folder: Path, text: str, name: str = "config.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(path: Path, process_alive, timeout: float = 60.0, after_ns: int = -1) -> None:
    """Poll until `path` exists, modified after `after_ns` (the process has saved once)."""
    deadline = time.monotonic() + timeout
    while not path.exists() or path.stat().st_mtime_ns <= after_ns:
        assert process_alive(), "the training process ended before it saved"
        assert time.monotonic() < deadline, f"{path} was never written"
        time.sleep(0.002)


def fork_cli(args: list, stderr: Path | None = None, stdout=None, gate: int | None = None) -> int:
    """Run `nnlab ARGS` in a forked child (torch already imported: no start-up cost); its pid.

    `stdout`: a path, a file descriptor (a pipe's write end) or None (/dev/null). `gate`: a pipe's read end; the
    child waits for one byte on it first, so that many children start at the same instant.
    """
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 70
        try:
            if gate is not None:
                os.read(gate, 1)
            if isinstance(stdout, int):
                os.dup2(stdout, 1)
                sys.stdout = open(1, "w", closefd=False)
            else:
                sys.stdout = open(stdout or os.devnull, "w")  # pytest's capture objects are not the child's to use
            sys.stderr = open(stderr or os.devnull, "w", buffering=1)
            from nnlab.cli import app

            app([str(a) for a in args])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        finally:
            sys.stderr.flush()
            os._exit(code)
    return pid


def exit_code(pid: int) -> int:
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def alive(pid: int) -> bool:
    return os.waitpid(pid, os.WNOHANG) == (0, 0)


def _set(path: str, value):
    """An edit that sets a dotted key of a checkpoint payload (value DELETE removes it)."""
    def edit(payload):
        *parents, last = path.split(".")
        target = payload
        for key in parents:
            target = target[key]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value(target[last]) if callable(value) else value
    return edit


DELETE = object()
# Checkpoints of the wine run (classification, 13 standardized features, 3 classes) edited the way a hostile or
# careless hand would, their sha256 fixed up: (id, edit, a word the error must contain). Each is exit 4.
CRAFTED = [
    ("no-n_features", _set("n_features", DELETE), "n_features"),
    ("n_features-zero", _set("n_features", 0), "n_features"),
    ("n_features-text", _set("n_features", "13"), "n_features"),
    ("n_features-bool", _set("n_features", True), "n_features"),
    ("n_features-too-many", _set("n_features", 14), "feature_names"),
    ("no-n_outputs", _set("n_outputs", DELETE), "n_outputs"),
    ("n_outputs-wrong", _set("n_outputs", 2), "n_outputs"),
    ("no-feature_names", _set("feature_names", DELETE), "feature_names"),
    ("feature_names-short", _set("feature_names", lambda v: v[:-1]), "feature_names"),
    ("feature_names-numbers", _set("feature_names", lambda v: list(range(len(v)))), "feature_names"),
    ("no-target_name", _set("target_name", DELETE), "target_name"),
    ("target_name-other", _set("target_name", "Class"), "target_name"),
    ("mean-short", _set("preprocessing.mean", lambda v: v[:-1]), "preprocessing.mean"),
    ("mean-long", _set("preprocessing.mean", lambda v: v + [0.0]), "preprocessing.mean"),
    ("mean-missing", _set("preprocessing.mean", None), "preprocessing.mean"),
    ("mean-text", _set("preprocessing.mean", "abc"), "preprocessing.mean"),
    ("mean-nan", _set("preprocessing.mean", lambda v: [float("nan")] + v[1:]), "preprocessing.mean"),
    ("scale-zero", _set("preprocessing.scale", lambda v: [0.0] + v[1:]), "preprocessing.scale"),
    ("scale-inf", _set("preprocessing.scale", lambda v: [float("inf")] + v[1:]), "preprocessing.scale"),
    ("classes-one", _set("preprocessing.classes", [1]), "preprocessing.classes"),
    ("classes-repeated", _set("preprocessing.classes", [1, 1, 2]), "preprocessing.classes"),
    ("classes-missing", _set("preprocessing.classes", None), "preprocessing.classes"),
    ("no-preprocessing", _set("preprocessing", DELETE), "preprocessing"),
    ("preprocessing-list", _set("preprocessing", [1, 2]), "preprocessing"),
    ("no-model_state", _set("model_state", DELETE), "model_state"),
    ("model_state-text", _set("model_state", "weights"), "model_state"),
    ("model_state-list", _set("model_state", lambda v: {k: t.tolist() for k, t in v.items()}), "model_state"),
    ("tensor-missing", _set("model_state", lambda v: {k: t for k, t in v.items() if k != "2.bias"}), "2.bias"),
    ("tensor-shape", _set("model_state", lambda v: {**v, "2.weight": v["2.weight"][:3]}), "2.weight"),
    ("tensor-extra", _set("model_state", lambda v: {**v, "9.weight": v["0.weight"]}), "9.weight"),
    ("threads-zero", _set("threads", 0), "threads"),
    ("threads-text", _set("threads", "many"), "threads"),
    ("no-config", _set("config", DELETE), "config"),
    ("config-invalid", _set("config", lambda c: {**c, "model": {"kind": "nope"}}), "unknown kind"),
    ("no-format", _set("format", DELETE), "format"),
]


def craft_checkpoint(run_dir: Path, edit) -> None:
    """Rewrite RUN/checkpoint.pt with `edit(payload)` applied and its sha256 record fixed up, as an attacker would."""
    import io

    import torch

    from nnlab.rundir.safefile import write_verified

    path = Path(run_dir) / "checkpoint.pt"
    payload = torch.load(path, weights_only=True)
    edit(payload)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_verified(path, buffer.getvalue())
