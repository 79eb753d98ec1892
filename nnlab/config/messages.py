"""Validation errors in the user's words: one line per problem, named by dotted key, with the near match."""

import re

from nnlab.config.schema import OPTIMIZERS, SCHEDULES, SOURCES, EarlyStopping, RunConfig, TrainConfig
from nnlab.errors import did_you_mean
from nnlab.models import REGISTRY


def _sections(raw: dict) -> dict[str, type]:
    """Which schema class describes each section of this raw config, for key suggestions."""
    picked = {"": RunConfig, "train": TrainConfig, "train.early_stopping": EarlyStopping}
    train = raw.get("train") if isinstance(raw, dict) else None
    for key, table, tag in (("data", SOURCES, "source"), ("model", REGISTRY, "kind"), ("optimizer", OPTIMIZERS, "name"),
                            ("train.scheduler", SCHEDULES, "name")):
        section = raw.get(key) if isinstance(raw, dict) and "." not in key else \
            train.get("scheduler") if isinstance(train, dict) else None
        tag_value = section.get(tag, "sgd" if key == "optimizer" else None) if isinstance(section, dict) else None
        if isinstance(tag_value, str) and tag_value in table:
            picked[key] = table[tag_value]
    return picked


def describe_error(err: dict, raw: dict) -> str:
    loc = [str(p) for p in err["loc"]]
    # Discriminated unions put the tag in the location (data.csv.path); users wrote data.path.
    tags = {"data": SOURCES, "model": REGISTRY, "optimizer": OPTIMIZERS, "scheduler": SCHEDULES}
    if len(loc) >= 2 and loc[0] in tags and loc[1] in tags[loc[0]]:
        loc = [loc[0], *loc[2:]]
    if loc[:2] == ["train", "scheduler"] and len(loc) >= 3 and loc[2] in SCHEDULES:
        loc = [*loc[:2], *loc[3:]]
    loc = [p for p in loc if not p.startswith(("function-", "constrained-"))]
    key = ".".join(loc) or "(top level)"
    kind, msg, value = err["type"], err["msg"], err.get("input")
    if kind == "extra_forbidden":
        cls = _sections(raw).get(".".join(loc[:-1]))
        options = list(cls.model_fields) if cls else []
        hint = did_you_mean(loc[-1], options) or (f"; keys here are: {', '.join(options)}" if options else "")
        return f"{key}: unknown key{hint}"
    if kind == "missing":
        return f"{key}: required key is missing"
    if kind == "union_tag_invalid":
        table = tags.get(loc[-1] if loc[:1] == ["train"] else loc[0], {})
        return f"{key}: unknown {err['ctx']['discriminator'].strip(chr(39))} '{err['ctx']['tag']}'" \
               f"{did_you_mean(err['ctx']['tag'], table)}; choose one of: {', '.join(table)}"
    if kind == "union_tag_not_found":
        return f"{key}.{err['ctx']['discriminator'].strip(chr(39))}: required key is missing"
    if msg.startswith("Value error, "):  # our own validators: the message is complete
        msg = msg[len("Value error, "):]
        head, sep, rest = msg.partition(": ")
        if sep and re.fullmatch(r"[\w.]+", head):  # the validator names the key: data.fold, train.accumulate
            return f"{head}: {rest}" if key == "(top level)" else f"{key}.{head}: {rest}"
        return f"{key}: {msg}"
    shown = f" (got {value!r})" if value is not None and not isinstance(value, (dict, list)) else ""
    return f"{key}: {msg[0].lower() + msg[1:]}{shown}"

