"""What several test files share: paths, a CLI runner, config files, a free port."""

import json
import os
import socket
import sys
import time
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


def fork_cli(args: list, stderr: Path | None = None) -> int:
    """Run `nnlab ARGS` in a forked child (torch already imported: no start-up cost); its pid."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 70
        try:
            sys.stdout = open(os.devnull, "w")  # pytest's capture objects are not the child's to use
            sys.stderr = open(stderr or os.devnull, "w", buffering=1)
            from nnlab.cli import app

            app([str(a) for a in args])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        finally:
            sys.stderr.flush()
            os._exit(code)
    return pid


def alive(pid: int) -> bool:
    return os.waitpid(pid, os.WNOHANG) == (0, 0)
