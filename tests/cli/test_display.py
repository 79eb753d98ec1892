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


def test_quiet_prints_only_the_final_report_and_where_it_was_saved(cli):
    out = cli("train", LINEAR, "train.epochs=2", "--out", cli.out, "--quiet", "--no-plots").stdout
    assert out.startswith("regression metrics") and "epoch" not in out and "plots" not in out
    assert out.splitlines()[-1] == f"saved {next(cli.out.iterdir())}"


def _train_on_terminal(args, monkeypatch) -> str:
    """Run nnlab in-process with stdout and stderr on a pseudo-terminal; return the bytes the terminal got."""
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
    assert "train_loss" in out and "3238 → 1560" in out and "▁" in out  # the sparkline, first → last loss
    assert " 300 " in out and "saved" in out  # the loss table and the report print above the bar
    assert "\x1b[32m" not in out and "\x1b[91m" not in out  # NO_COLOR: no colour codes


def test_a_closed_pipe_stops_quietly_with_exit_141(cli, monkeypatch):
    import nnlab.training.loop

    def closed(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(nnlab.training.loop, "fit", closed)  # what print does when `| head` has exited
    result = cli("train", LINEAR, "--out", cli.out, "--jsonl", code=141)
    assert result.stderr == ""


def _final_screen(stream: str, columns: int) -> list[str]:
    """The screen a terminal of `columns` shows after `stream` (pyte emulates it), trailing blanks dropped."""
    import pyte

    screen = pyte.Screen(columns, 3000)  # tall enough that nothing scrolls away
    pyte.Stream(screen).feed(stream.replace("\n", "\r\n"))  # the tty's onlcr: newline returns the carriage too
    lines = [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    return lines


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
@pytest.mark.parametrize("columns, no_color", [(100, True), (100, False), (200, True), (200, False)])
def test_the_final_screen_has_whole_table_rows_and_no_bar_left(tmp_path, monkeypatch, columns, no_color):
    import re

    pytest.importorskip("pyte", reason="needs the test extra: pip install -e '.[test]'")
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setenv("LINES", "50")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    stream = _train_on_terminal([ROOT / "configs" / "wine_mlp.yaml", "train.epochs=4000", "train.log_every=400",
                                 "--out", tmp_path, "--no-plots"], monkeypatch)
    assert len(re.findall(r"\d+/4000", stream)) > 3  # the bar was drawn, several times, while rows printed
    screen = _final_screen(stream, columns)
    bar = re.compile(r"\d+/4000|[╸╺]|━ *loss|loss (…|\d)|\d:\d\d:\d\d")  # pieces of a bar frame
    assert not any(bar.search(line) for line in screen), "\n".join(screen)
    header = next(i for i, line in enumerate(screen) if line.split()[:2] == ["epoch", "train_loss"])
    assert screen[header].split() == ["epoch", "train_loss", "test_loss", "test_accuracy", "time"]
    rows = screen[header + 1:header + 11]
    assert [row.split()[0] for row in rows] == [str(e) for e in range(400, 4001, 400)], "\n".join(screen)
    assert all(re.fullmatch(r" *\d+ +[\d.e-]+ +[\d.e-]+ +[01]\.\d{4} +\d+\.\d\ds", row) for row in rows), \
        "\n".join(rows)
    assert len({len(row) for row in rows + [screen[header]]}) == 1  # every row lines up with the header
    assert screen[header + 11].startswith("classification report: train") and screen[-1].startswith("saved ")


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_a_terminal_narrower_than_the_table_gets_each_row_as_one_line(tmp_path, monkeypatch):
    """nnlab never breaks a row (copying it, or a `script` log, gives it whole); the terminal wraps what does not
    fit, and the final screen still has no bar left."""
    import re

    pytest.importorskip("pyte", reason="needs the test extra: pip install -e '.[test]'")
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", "60")
    monkeypatch.setenv("LINES", "50")
    monkeypatch.setenv("NO_COLOR", "1")
    stream = _train_on_terminal([ROOT / "configs" / "wine_mlp.yaml", "data.val_size=0.15", "train.epochs=2000",
                                 "train.log_every=400", "--out", tmp_path, "--no-plots"], monkeypatch)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stream)  # colours and cursor moves out
    row = r" +[\d.e-]+ +[\d.e-]+ +[01]\.\d{4} +[\d.e-]+ +[01]\.\d{4} +\d+\.\d\ds"  # 7 columns: wider than 60
    # a row follows a newline, or the carriage return of the bar frame it replaces, and ends its line
    assert all(re.search(rf"(?m)(?:^|\r) *{epoch}{row} *\r?$", plain) for epoch in range(400, 2001, 400)), plain
    screen = _final_screen(stream, 60)
    assert not any(re.search(r"\d+/2000|━╸|loss …", line) for line in screen), "\n".join(screen)
