"""One name for every number: the vocabulary itself, the README's statement of it, and every output using it."""

import csv
import json
import re
from pathlib import Path

import pytest

from helpers import ROOT
from nnlab.vocabulary import FLAT, NAMES, PER_CLASS, SPLITS, STATS, flat, flatten_metrics, nest_metrics, parse_flat

WINE = ROOT / "configs" / "wine_mlp.yaml"
LINEAR = ROOT / "configs" / "linear_regression.yaml"
METRIC_WORD = re.compile(r"loss|acc|f1|mse|mae|r2|R²", re.I)
HUMAN_ODDITIES = ("test acc ", "train acc ", "R²", "test accuracy", "train accuracy", "test loss", "train loss",
                  "f1-score")


def test_flat_and_nested_names_are_one_scheme():
    nested = {"train": {"loss": 0.5, "accuracy": 1.0}, "test": {"macro_f1": 0.9}}
    assert flatten_metrics(nested) == {"train_loss": 0.5, "train_accuracy": 1.0, "test_macro_f1": 0.9}
    assert nest_metrics({**flatten_metrics(nested), "epoch": 3, "seconds": 1.0}) == nested
    assert parse_flat("val_macro_f1") == ("val", "macro_f1") and parse_flat("test_precision") is None
    assert all(FLAT.match(flat(s, n)) for s in SPLITS for n in NAMES)


def test_the_readme_states_the_vocabulary_the_code_uses():
    section = (ROOT / "README.md").read_text().split("## Names", 1)[1].split("\n## ", 1)[0]
    for word in (*SPLITS, *NAMES, *PER_CLASS, *STATS[:-1], "metrics.{split}.{name}", "{split}_{name}"):
        assert f"`{word}`" in section, word


def leaves(tree, path=()):
    """(path of keys, value) of every leaf; dotted keys (compare's) split into their parts."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from leaves(value, path + tuple(str(key).split(".")))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from leaves(value, path + (str(i),))
    else:
        yield path, tree


def check_json(obj, where: str, flat_rows: bool = False, splits=SPLITS):
    """Every metric-like key is a vocabulary name right under a split (or a per-class figure under a label)."""
    for path, _ in leaves(obj):
        if "config" in path or "parameters" in path:  # config keys (loss: sse) and learned weights are not numbers
            continue
        for i, part in enumerate(path):
            if not METRIC_WORD.search(part):
                continue
            if flat_rows and FLAT.match(part):
                continue
            context = f"{where}: {'.'.join(path)}"
            if part in PER_CLASS:
                assert path[i - 3] == "per_class" and path[i - 2] in splits, context
            else:
                assert part in NAMES and path[i - 1] in splits, context


def check_columns(header: list[str], where: str):
    for column in header:
        if METRIC_WORD.search(column):
            stat = column.rsplit("_", 1)[-1]
            name = column[: -len(stat) - 1] if stat in STATS else column
            assert FLAT.match(name), f"{where}: column {column}"


def check_human(text: str, where: str):
    for odd in HUMAN_ODDITIES:
        assert odd not in text, f"{where}: {odd!r}"


@pytest.mark.slow
def test_every_output_uses_the_vocabulary(cli, tmp_path):
    wine = cli.train_json(WINE, "train.epochs=30")
    check_json(wine, "train --json")
    assert set(wine["per_class"]["test"]["1"]) == set(PER_CLASS)
    run = Path(wine["run_dir"])
    check_json(json.loads((run / "summary.json").read_text()), "summary.json")
    check_columns(next(csv.reader(open(run / "metrics.csv"))), "metrics.csv")
    linear = cli.train_json(LINEAR, "train.epochs=3")
    check_json(linear, "train --json (regression)")
    events = [json.loads(line) for line in cli("train", LINEAR, "train.epochs=3", "--out", cli.out,
                                              "--jsonl").stdout.splitlines()]
    for event in events[:-1]:
        check_json(event, "--jsonl event", flat_rows=True)
        assert all(FLAT.match(k) for k in event if k not in ("event", "epoch", "seconds")), event
    check_json(events[-1], "--jsonl summary")
    for split in ("train", "test"):
        check_json(json.loads(cli("eval", run, "--split", split, "--json").stdout), "eval --json")
    check_json(json.loads(cli("eval", run, "--data", ROOT / "data" / "wine.csv", "--json").stdout), "eval --data",
               splits=(*SPLITS, "data"))  # eval --data names the file's rows `data`
    check_json(json.loads(cli("reproduce", run, "--json").stdout), "reproduce --json")
    check_json(json.loads(cli("compare", run, linear["run_dir"], "--json").stdout), "compare --json")
    check_json(json.loads(cli("runs", cli.out, "--json").stdout), "runs --json")
    sweep = json.loads(cli("sweep", WINE, "--grid", "optimizer.lr=0.05,0.1", "--seeds", "2", "train.epochs=5",
                           "--out", tmp_path, "--json").stdout)
    check_json(sweep, "sweep --json")
    assert FLAT.match(sweep["headline"])
    folder = Path(sweep["run_dir"])
    for name in ("points.csv", "runs.csv"):
        check_columns(next(csv.reader(open(folder / name))), name)
    check_json(json.loads((folder / "summary.json").read_text()), "sweep summary.json")
    for args in (("train", WINE, "train.epochs=30", "--out", cli.out), ("train", LINEAR, "train.epochs=3", "--out",
                                                                         cli.out, "--baseline"),
                 ("eval", run), ("runs", cli.out), ("compare", run, linear["run_dir"]), ("reproduce", run),
                 ("sweep", WINE, "--seeds", "2", "train.epochs=3", "--out", tmp_path),
                 ("sweep", WINE, "--grid", "optimizer.lr=0.05,0.1", "train.epochs=9", "--halving", "--out", tmp_path),
                 ("sweep", LINEAR, "--grid", "optimizer.lr=0.01,0.03", "train.epochs=3", "--out", tmp_path)):
        check_human(cli(*args).stdout, " ".join(map(str, args[:1])))
