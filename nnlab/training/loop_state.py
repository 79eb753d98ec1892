"""Where training stands, as plain data: the loop's position, the optimizer's state and every RNG state.

All of it is stored in a checkpoint as tensors and plain Python values (weights_only loading), so
that --resume continues bit for bit.
"""

import random
from dataclasses import dataclass, field

import numpy as np
import torch


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
    schedule: dict | None = None  # the lr schedule's state (train_state["scheduler"])
    watch: dict | None = None  # the monitor's best value, epoch, patience count, best weights (train_state["early_stopping"])

    def to_dict(self) -> dict:
        cpu = lambda t: None if t is None else t.detach().cpu().clone()  # noqa: E731
        return {"epoch": self.epoch, "batch": self.batch, "steps": self.steps, "seconds": self.seconds,
                "history": [dict(row) for row in self.history], "shuffle": cpu(self.shuffle),
                "order": cpu(self.order), "epoch_loss": cpu(self.epoch_loss)}

    @classmethod
    def from_dict(cls, d: dict) -> "LoopState":
        return cls(int(d["epoch"]), int(d["batch"]), int(d["steps"]), float(d["seconds"]),
                   [dict(row) for row in d["history"]], d["shuffle"], d["order"], d["epoch_loss"])

    @classmethod
    def from_train_state(cls, state: dict) -> "LoopState":
        """The loop's position and, beside it in train_state, the schedule and monitor states."""
        loop = cls.from_dict(state["loop"])
        loop.schedule, loop.watch = state.get("scheduler"), state.get("early_stopping")
        return loop


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


def get_rng(device: torch.device) -> torch.Tensor:
    """The generator state dropout draws from on `device` (torch's CPU or CUDA default generator)."""
    return torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state()


def set_rng(state: torch.Tensor, device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.set_rng_state(state, device)
    else:
        torch.set_rng_state(state)


def restore_rng(states: dict, device: torch.device) -> None:
    version, state, gauss = states["python"]
    random.setstate((version, tuple(state.tolist()), gauss))
    name, key, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((name, key.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"], device)



def train_state(loop: LoopState, optimizer, device, data_sha: str, finished: bool) -> dict:
    """The checkpoint's `train_state`: what fit() needs, beyond the weights, to continue bit for bit."""
    optim = {k: ([t.detach().cpu().clone() for t in v] if isinstance(v, list) else v)
             for k, v in optimizer.state_dict().items()}
    return {"loop": loop.to_dict(), "optimizer": optim, "optimizer_kind": _kind(optimizer),
            "rng": rng_states(device), "data_sha256": data_sha, "finished": finished,
            "scheduler": loop.schedule, "early_stopping": loop.watch}


def _kind(optimizer) -> str:
    from nnlab.training.optim import SGD

    return "sgd" if isinstance(optimizer, SGD) else "adam"  # the state_dict layout


RESULT_NEUTRAL = ("train.checkpoint_every",)  # may change on resume: it moves no number

def restore(checkpoint: dict, optimizer, device) -> None:
    """Load the optimizer and RNG states saved in a checkpoint."""
    state = checkpoint["train_state"]
    if state["optimizer_kind"] == _kind(optimizer):
        optimizer.load_state_dict(state["optimizer"])  # a --force change of optimizer starts it fresh
    restore_rng(state["rng"], device)
