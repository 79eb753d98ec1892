"""One name for every number nnlab reports: the public vocabulary of every output (README: "Names").

A number is a metric `name` measured on a `split`. JSON nests it: `metrics.{split}.{name}`
(`metrics.test.accuracy`); flat rows (metrics.csv, --jsonl events, sweep CSVs, history rows) join
the two with an underscore: `{split}_{name}` (`test_accuracy`). Sweep aggregates add a statistic:
`{split}_{name}_{stat}` in CSV columns, `metrics.{split}.{name}.{stat}` in JSON.
"""

import re

SPLITS = ("train", "val", "test")
CLASSIFICATION = ("loss", "accuracy", "macro_f1")
REGRESSION = ("loss", "mse", "mae", "r2")
NAMES = ("loss", "accuracy", "macro_f1", "mse", "mae", "r2")
PER_CLASS = ("precision", "recall", "f1", "support")  # per_class.{split}.{label}.{figure}
STATS = ("mean", "std", "min", "max", "n")  # a sweep point's aggregate of one metric over its seeds
HEADLINE = {"classification": "accuracy", "regression": "r2"}  # the one number tables lead with

FLAT = re.compile(rf"^({'|'.join(SPLITS)})_({'|'.join(NAMES)})$")


def flat(split: str, name: str) -> str:
    """`test`, `accuracy` -> `test_accuracy`."""
    return f"{split}_{name}"


def parse_flat(key: str) -> tuple[str, str] | None:
    """`test_macro_f1` -> ("test", "macro_f1"); None for a key outside the vocabulary."""
    match = FLAT.match(key)
    return (match.group(1), match.group(2)) if match else None


def flatten_metrics(metrics: dict) -> dict:
    """{"test": {"accuracy": 1.0}} -> {"test_accuracy": 1.0}, splits in the vocabulary's order."""
    return {flat(split, name): value for split in SPLITS for name, value in (metrics.get(split) or {}).items()}


def nest_metrics(row: dict) -> dict:
    """The vocabulary's flat keys of a row, nested: {"test_accuracy": 1.0, "epoch": 3} -> {"test": {"accuracy": 1.0}}."""
    nested: dict = {}
    for key, value in row.items():
        parsed = parse_flat(key)
        if parsed:
            nested.setdefault(parsed[0], {})[parsed[1]] = value
    return nested
