"""Learning-rate schedules, stepped once per epoch, with torch.optim.lr_scheduler's arithmetic.

Why not torch's: its schedulers need a torch.optim optimizer, and building one imports torch._dynamo
(+2.4 s, see optim.py). These classes compute the same Python floats in the same order as StepLR,
CosineAnnealingLR (its recursive form) and ReduceLROnPlateau; tests/training/test_schedule.py compares
them epoch by epoch. Their state is plain numbers, saved in the checkpoint's train_state.
"""

import math


class StepLR:
    """lr × gamma every `step_size` epochs."""

    def __init__(self, lr: float, step_size: int, gamma: float):
        self.lr, self.step_size, self.gamma, self.epoch = lr, step_size, gamma, 0

    def step(self, value: float | None = None) -> None:
        self.epoch += 1
        if self.epoch % self.step_size == 0:
            self.lr = self.lr * self.gamma

    def state_dict(self) -> dict:
        return {"lr": self.lr, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.lr, self.epoch = float(state["lr"]), int(state["epoch"])


class CosineLR:
    """From the base lr down to eta_min along a half cosine over t_max epochs (and back up after, as torch's)."""

    def __init__(self, lr: float, t_max: int, eta_min: float):
        self.base, self.lr, self.t_max, self.eta_min, self.epoch = lr, lr, t_max, eta_min, 0

    def step(self, value: float | None = None) -> None:
        self.epoch += 1
        e, t = self.epoch, self.t_max
        if (e - 1 - t) % (2 * t) == 0:
            self.lr = self.lr + (self.base - self.eta_min) * (1 - math.cos(math.pi / t)) / 2
        else:
            self.lr = (1 + math.cos(math.pi * e / t)) / (1 + math.cos(math.pi * (e - 1) / t)) * \
                (self.lr - self.eta_min) + self.eta_min

    def state_dict(self) -> dict:
        return {"lr": self.lr, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.lr, self.epoch = float(state["lr"]), int(state["epoch"])


class PlateauLR:
    """lr × factor once the watched value has not improved (relative threshold) for more than `patience` epochs."""

    EPS = 1e-8  # torch's: a reduction smaller than this is skipped

    def __init__(self, lr: float, mode: str, factor: float, patience: int, threshold: float, cooldown: int,
                 min_lr: float):
        self.lr, self.mode, self.factor, self.patience = lr, mode, factor, patience
        self.threshold, self.cooldown, self.min_lr = threshold, cooldown, min_lr
        self.best = math.inf if mode == "min" else -math.inf
        self.bad_epochs = self.cooldown_left = 0

    def _better(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best * (1.0 - self.threshold)
        return value > self.best * (self.threshold + 1.0)

    def step(self, value: float | None = None) -> None:
        value = float(value)
        if self._better(value):
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad_epochs = 0  # bad epochs in a cooldown do not count
        if self.bad_epochs > self.patience:
            new = max(self.lr * self.factor, self.min_lr)
            if self.lr - new > self.EPS:
                self.lr = new
            self.cooldown_left, self.bad_epochs = self.cooldown, 0

    def state_dict(self) -> dict:
        return {"lr": self.lr, "best": self.best, "bad_epochs": self.bad_epochs, "cooldown_left": self.cooldown_left}

    def load_state_dict(self, state: dict) -> None:
        self.lr, self.best = float(state["lr"]), float(state["best"])
        self.bad_epochs, self.cooldown_left = int(state["bad_epochs"]), int(state["cooldown_left"])


def make_schedule(cfg, lr: float, epochs: int):
    """The schedule train.scheduler describes, starting from `lr`; None without one."""
    if cfg is None:
        return None
    if cfg.name == "step":
        return StepLR(lr, cfg.step_size, cfg.gamma)
    if cfg.name == "cosine":
        return CosineLR(lr, cfg.t_max or epochs, cfg.eta_min)
    return PlateauLR(lr, "max" if cfg.monitor in ("val_accuracy", "val_r2") else "min", cfg.factor, cfg.patience,
                     cfg.threshold, cfg.cooldown, cfg.min_lr)


def schedule_kind(cfg) -> str | None:
    """What a saved schedule state belongs to (a --force resume with another schedule starts it fresh)."""
    return None if cfg is None else cfg.name
