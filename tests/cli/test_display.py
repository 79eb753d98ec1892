"""What train shows while it runs: --jsonl events, no progress bar off a terminal, the bar on one."""

import json
import os
import sys

import pytest

from helpers import ROOT

LINEAR = ROOT / "configs" / "linear_regression.yaml"


def test_jsonl_streams_one_event_per_logged_epoch_then_the_json_object(cli):
    result = cli("train", LINEAR, "train.epochs=4", "train.log_every=2", "--out", cli.out, "--jsonl")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["epoch"] for e in lines[:-1]] == [2, 4] and all(e["event"] == "epoch" for e in lines[:-1])
    assert {"train_loss", "test_loss", "test_r2", "seconds"} <= set(lines[0])
    summary = json.loads((cli.out.glob("*/summary.json").__next__()).read_text())
    assert lines[-1] == summary and lines[-1]["metrics"]["test"]["loss"] == lines[-2]["test_loss"]
    assert result.stderr == ""


def test_json_and_jsonl_together_is_a_usage_error(cli):
    result = cli("train", LINEAR, "--out", cli.out, "--json", "--jsonl", code=2)
    assert "--json and --jsonl" in result.stderr and not cli.out.exists()


def test_quiet_prints_only_the_final_report(cli):
    out = cli("train", LINEAR, "train.epochs=2", "--out", cli.out, "--quiet", "--no-plots").stdout
    assert "regression metrics" in out and "train loss" not in out.splitlines()[0] and "saved" not in out
    assert "epoch" not in out


def _train_on_terminal(args, monkeypatch) -> str:
    """Run nnlab in-process with stdout and stderr on a pseudo-terminal; return what the terminal got."""
    import pty
    import threading

    from nnlab.cli import app

    leader, follower = pty.openpty()
    chunks = []

    def drain():  # keep reading so the terminal's buffer never blocks the writer
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the other end closed
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    tty = os.fdopen(follower, "w", encoding="utf-8", buffering=1)
    monkeypatch.setattr(sys, "stdout", tty)
    monkeypatch.setattr(sys, "stderr", tty)
    try:
        app(["train", *map(str, args)], standalone_mode=False)
    finally:
        tty.flush()
        monkeypatch.undo()
        tty.close()
        reader.join(timeout=30)
        os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_no_progress_bar_noise_when_stderr_is_not_a_terminal(cli):
    result = cli("train", ROOT / "configs" / "cubic_sine.yaml", "train.epochs=300", "--out", cli.out)
    assert result.stderr == "" and "\r" not in result.stdout and "\x1b[" not in result.stdout
    assert "300/300" not in result.stdout and "▁" not in result.stdout  # no bar, no sparkline off a terminal
    assert " 300 " in result.stdout and "saved" in result.stdout  # the loss table and the report are there


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_progress_bar_and_sparkline_on_a_terminal_and_no_color_respected(tmp_path, monkeypatch):
    for name, value in (("NO_COLOR", "1"), ("TERM", "xterm"), ("COLUMNS", "100")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    out = _train_on_terminal([ROOT / "configs" / "cubic_sine.yaml", "train.epochs=300", "--out", tmp_path,
                              "--no-plots"], monkeypatch)
    assert "epoch" in out and "300/300" in out and "\r" in out  # the bar, redrawn in place
    assert "train loss" in out and "3238 → 1560" in out and "▁" in out  # the sparkline, first → last loss
    assert " 300 " in out and "saved" in out  # the loss table and the report print above the bar
    assert "\x1b[32m" not in out and "\x1b[91m" not in out  # NO_COLOR: no colour codes


def test_a_closed_pipe_stops_quietly_with_exit_141(cli, monkeypatch):
    import nnlab.training.loop

    def closed(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(nnlab.training.loop, "fit", closed)  # what print does when `| head` has exited
    result = cli("train", LINEAR, "--out", cli.out, "--jsonl", code=141)
    assert result.stderr == ""
