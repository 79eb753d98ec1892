"""Exact resume: the loop's position, the optimizer and every RNG state, and the check that it is the same run.

All of it is stored in the checkpoint as tensors and plain Python values (weights_only loading).
"""

import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from nnlab.config import RunConfig
from nnlab.errors import CheckpointError, UsageError


@dataclass
class LoopState:
    """Where fit() stands: `batch` minibatches of `epoch` are done (0: the epoch has not started)."""

    epoch: int = 1
    batch: int = 0
    steps: int = 0
    seconds: float = 0.0  # training wall time so far
    history: list[dict] = field(default_factory=list)
    shuffle: torch.Tensor | None = None  # the shuffling generator's state (after this epoch's permutation)
    order: torch.Tensor | None = None  # this epoch's permutation, when stopped inside a minibatch epoch
    epoch_loss: torch.Tensor | None = None  # this epoch's running loss sum, when stopped inside it

    def to_dict(self) -> dict:
        cpu = lambda t: None if t is None else t.detach().cpu().clone()  # noqa: E731
        return {"epoch": self.epoch, "batch": self.batch, "steps": self.steps, "seconds": self.seconds,
                "history": [dict(row) for row in self.history], "shuffle": cpu(self.shuffle),
                "order": cpu(self.order), "epoch_loss": cpu(self.epoch_loss)}

    @classmethod
    def from_dict(cls, d: dict) -> "LoopState":
        return cls(int(d["epoch"]), int(d["batch"]), int(d["steps"]), float(d["seconds"]),
                   [dict(row) for row in d["history"]], d["shuffle"], d["order"], d["epoch_loss"])


def rng_states(device: torch.device) -> dict:
    """python, numpy, torch and (when used) CUDA generator states, as tensors (fast to save, weights_only-safe)."""
    version, state, gauss = random.getstate()
    name, key, pos, has_gauss, cached = np.random.get_state()
    states = {"python": [version, torch.tensor(state, dtype=torch.int64), gauss],
              "numpy": [name, torch.from_numpy(key.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
              "torch": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def restore_rng(states: dict, device: torch.device) -> None:
    version, state, gauss = states["python"]
    random.setstate((version, tuple(state.tolist()), gauss))
    name, key, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((name, key.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"], device)


def data_fingerprint(splits) -> str:
    """sha256 of the preprocessed train and test arrays: a resumed run must see the same numbers."""
    import hashlib

    digest = hashlib.sha256()
    for a in (splits.X_train, splits.y_train, splits.X_test, splits.y_test):
        a = np.ascontiguousarray(a)
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def train_state(loop: LoopState, optimizer, device, data_sha: str, finished: bool) -> dict:
    """The checkpoint's `train_state`: what fit() needs, beyond the weights, to continue bit for bit."""
    optim = {k: ([t.detach().cpu().clone() for t in v] if isinstance(v, list) else v)
             for k, v in optimizer.state_dict().items()}
    return {"loop": loop.to_dict(), "optimizer": optim, "optimizer_kind": _kind(optimizer),
            "rng": rng_states(device), "data_sha256": data_sha, "finished": finished}


def _kind(optimizer) -> str:
    from nnlab.optim import SGD

    return "sgd" if isinstance(optimizer, SGD) else "adam"  # the state_dict layout


RESULT_NEUTRAL = ("train.checkpoint_every",)  # may change on resume: it moves no number


def check_same_run(where: str, saved_cfg: dict, cfg: RunConfig, saved_sha: str, data_sha: str, force: bool) -> None:
    """Refuse (UsageError) to resume with another config or other data, unless `force`."""
    if force:
        return
    changed = [k for k in _changed_keys(saved_cfg, cfg.to_dict()) if k not in RESULT_NEUTRAL]
    if changed:
        shown = ", ".join(changed[:5]) + (" ..." if len(changed) > 5 else "")
        raise UsageError(f"{where}: the config differs from the run's ({shown}); resume without changes "
                         "to continue as it was, or add --force to continue with the new one")
    if saved_sha != data_sha:
        raise UsageError(f"{where}: the data differs from the data the run trained on (sha256 changed); "
                         "restore the original file, or add --force to continue on the new data")


def _changed_keys(a, b, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [k for key in dict.fromkeys([*a, *b])
                for k in _changed_keys(a.get(key), b.get(key), f"{prefix}{key}.")]
    return [] if a == b else [prefix.rstrip(".")]


def open_run(run_dir: Path):
    """The run to resume: stale temporaries removed, checkpoint verified, training state present."""
    from nnlab.runs import load_run
    from nnlab.safefile import remove_stale_temporaries

    run = load_run(run_dir)  # a missing folder is a UsageError there
    remove_stale_temporaries(run.path)
    if not isinstance(run.checkpoint.get("train_state"), dict):
        raise CheckpointError(f"{run_dir / 'checkpoint.pt'}: holds no training state to resume from")
    return run


def config_for(run, config: Path | None, overrides: list[str]) -> RunConfig:
    """The run's stored config with `overrides`, or another config file (checked by continue_run)."""
    from nnlab.config import apply_overrides, load_config, validate

    if config is not None:
        return load_config(config, overrides)
    if not overrides:
        return run.cfg  # load_run validated it
    where = str(run.path / "config.yaml")
    return validate(apply_overrides(run.checkpoint["config"], overrides, where), where)


def continue_run(run, cfg: RunConfig, setup, data_sha: str, force: bool) -> LoopState:
    """Check the run is the same, load weights, optimizer and RNG states; the loop position to start from."""
    state = run.checkpoint["train_state"]
    try:
        loop = LoopState.from_dict(state["loop"])
        finished, saved_sha = state["finished"], state["data_sha256"]
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{run.path / 'checkpoint.pt'}: its training state lacks or garbles {e}") from None
    if finished and loop.epoch > cfg.train.epochs:
        raise UsageError(f"{run.path}: the run already finished its {cfg.train.epochs} epochs; to train longer, "
                         "add train.epochs=N --force")
    check_same_run(str(run.path), run.checkpoint["config"], cfg, saved_sha, data_sha, force)
    run.load_weights(setup.model)
    try:
        restore(run.checkpoint, setup.optimizer, setup.device)
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as e:
        raise CheckpointError(f"{run.path / 'checkpoint.pt'}: cannot restore its optimizer or RNG state "
                              f"({str(e).splitlines()[0][:120] if str(e) else type(e).__name__})") from None
    return loop


def restore(checkpoint: dict, optimizer, device) -> None:
    """Load the optimizer and RNG states saved in a checkpoint."""
    state = checkpoint["train_state"]
    if state["optimizer_kind"] == _kind(optimizer):
        optimizer.load_state_dict(state["optimizer"])  # a --force change of optimizer starts it fresh
    restore_rng(state["rng"], device)
