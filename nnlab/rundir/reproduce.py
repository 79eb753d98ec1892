"""Train a run again from its receipt and compare the numbers with the ones it recorded."""

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from nnlab.errors import CheckpointError, DataError, UsageError


@dataclass
class Reproduction:
    """The recorded and reproduced numbers, and every way the two runs' conditions differ."""

    rows: list[dict]  # {"key", "recorded", "reproduced"}
    data_changed: str | None = None  # why the data file no longer matches, or None
    differences: list[str] = field(default_factory=list)  # versions, device, threads

    @property
    def identical(self) -> bool:
        return all(row["recorded"] == row["reproduced"] for row in self.rows)

    def to_dict(self) -> dict:
        return {"identical": self.identical, "data_changed": self.data_changed,
                "conditions_differ": self.differences, "numbers": self.rows}


def reproduce(run_dir: Path, device_name: str | None = None) -> Reproduction:
    """Re-run training from receipt.json (config, seeds, thread count); compare with summary.json."""
    from nnlab.config import validate
    from nnlab.data import load_data
    from nnlab.rundir.receipt import data_change, load_receipt, versions
    from nnlab.scoring.metrics import assess_splits
    from nnlab.training.device import resolve_device
    from nnlab.training.loop import fit
    from nnlab.training.setup import prepare

    run_dir = Path(run_dir)
    receipt = load_receipt(run_dir)
    recorded = _summary(run_dir)
    where = str(run_dir / "receipt.json")
    if device_name is not None:
        resolve_device(device_name, "--device")  # a bad name is refused before anything trains
    config = validate(receipt["config"], where).to_dict()
    cfg = validate({**config, "threads": receipt.get("threads", config["threads"]),
                    "device": device_name or receipt.get("device") or config["device"]}, where)
    if cfg.data.source == "csv" and not Path(cfg.data.path).is_file():
        raise DataError(f"{cfg.data.path}: the run's data file is gone; restore it to reproduce {run_dir}")
    data_changed = data_change(cfg, receipt)
    then = receipt.get("versions") or {}
    differences = [f"{name} {then.get(name)} then, {now} now" for name, now in versions().items()
                   if then.get(name) != now]

    if receipt.get("stack"):
        outcome, device = _train_stack(cfg, receipt["stack"], where)
    else:
        splits = load_data(cfg)
        setup = prepare(cfg, splits)
        fit(setup, cfg.train)
        outcome = assess_splits(setup.model, cfg, splits, setup.tensors, setup.loss_fn, val=setup.val)
        device = setup.device
    if str(device) != receipt.get("device"):
        differences.append(f"device {receipt.get('device')} then, {device} now")
    again = {"metrics": outcome.metrics, **({"per_class": outcome.per_class} if outcome.per_class else {}),
             **outcome.extras}
    return Reproduction(_rows(recorded, again), data_changed, differences)


def _train_stack(cfg, stack: dict, where: str):
    """A sweep's stacked run, trained again in its stack (a batched product may round unlike a single one):
    (its outcome, the device)."""
    from nnlab.config import validate
    from nnlab.data import load_many
    from nnlab.rundir.receipt import unpack_stack
    from nnlab.training.group import train_group

    try:
        base = cfg.to_dict()
        index, stacked, halved = unpack_stack(stack)
        members = [validate({**base, "seed": m["seed"], "optimizer": {**base["optimizer"], **m["optimizer"]},
                             "data": {**base["data"], **({"fold": m["fold"]} if "fold" in m else {})}}, where)
                   for m in stacked]
        halving = {"rungs": [int(e) for e in halved["rungs"]],  # halving: drop members where they were
                   "stopped_at": [m.get("stopped_at") for m in stacked]} if halved else None
    except (KeyError, TypeError, ValueError):
        members, index = [], -1
    if not 0 <= index < len(members):
        raise CheckpointError(f"{where}: its 'stack' entry is garbled; it cannot be reproduced")
    mine = train_group([m.to_dict() for m in members], load_many(members), vectorize=len(members) > 1,
                       halving=halving)[index]
    if mine.outcome is None:
        raise CheckpointError(f"{where}: the run {mine.status} when trained again; the recorded one finished")
    return mine.outcome, mine.device


def _summary(run_dir: Path) -> dict:
    path = run_dir / "summary.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing; the run did not finish, so there are no numbers to compare") from None
    except (OSError, UnicodeDecodeError, ValueError):
        raise CheckpointError(f"{path}: unreadable; there are no numbers to compare") from None
    status = summary.get("status", "finished")
    if status not in ("finished", "pruned"):  # a usage mistake: this run has no final numbers to compare with
        todo = {"diverged": "train the config again with a smaller optimizer.lr, then reproduce that run",
                "interrupted": f"finish it first with nnlab train --resume {shlex.quote(str(run_dir))}"}
        raise UsageError(f"{run_dir}: the run {status}, so it has no final numbers to compare (only finished runs "
                         f"can be reproduced); {todo.get(status, 'give a finished run directory')}")
    return summary


def _rows(recorded: dict, again: dict) -> list[dict]:
    from nnlab.rundir.listing import flatten

    old, new = flatten({k: recorded.get(k) for k in again}), flatten(again)
    return [{"key": key, "recorded": old.get(key), "reproduced": new.get(key)} for key in dict.fromkeys([*old, *new])]
