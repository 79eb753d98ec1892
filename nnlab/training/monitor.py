"""What training watches every epoch: the monitored value's best epoch, early stopping, and the best weights.

Keras' EarlyStopping rule: an epoch improves on the best when its value beats it by more than
`min_delta`; after `patience` epochs in a row without improvement, training stops. With
`restore_best`, the model that is saved (and scored) carries the best epoch's weights.
"""

import math

import torch

MAXIMIZED = ("val_accuracy", "val_r2")


class Watch:
    """The monitored value of one model: best value and epoch, epochs since, and (when kept) the best weights."""

    def __init__(self, monitor: str, patience: int | None = None, min_delta: float = 0.0, keep_best: bool = False):
        self.monitor, self.patience, self.min_delta, self.keep_best = monitor, patience, min_delta, keep_best
        self.sign = -1.0 if monitor in MAXIMIZED else 1.0  # compare sign·value: lower is better
        self.best, self.best_epoch, self.wait = math.inf, None, 0
        self.best_state: list[torch.Tensor] | None = None  # the best epoch's weights (keep_best)
        self.last_state: list[torch.Tensor] | None = None  # the last epoch's, once restore() swapped them out

    def improved(self, value: float) -> bool:
        return self.sign * value < self.best - self.min_delta  # NaN never improves

    def update(self, epoch: int, value: float, params: list[torch.Tensor]) -> bool:
        """Record epoch `epoch`'s value (and its weights when it is the best); True when training should stop."""
        if self.improved(value):
            self.best, self.best_epoch, self.wait = self.sign * value, epoch, 0
            if self.keep_best:
                if self.best_state is None:
                    self.best_state = [p.detach().clone() for p in params]
                else:
                    torch._foreach_copy_(self.best_state, [p.detach() for p in params])
        else:
            self.wait += 1
        return self.patience is not None and self.wait >= self.patience

    @property
    def best_value(self) -> float | None:
        return None if self.best_epoch is None else self.sign * self.best

    @torch.no_grad()
    def restore(self, params: list[torch.Tensor]) -> None:
        """Put the best epoch's weights into `params`, keeping the last epoch's (a --force resume continues them)."""
        if self.best_state is None:
            return
        self.last_state = [p.detach().clone() for p in params]
        torch._foreach_copy_(params, self.best_state)

    def state_dict(self) -> dict:
        cpu = lambda ts: None if ts is None else [t.detach().cpu().clone() for t in ts]  # noqa: E731
        return {"monitor": self.monitor, "best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "best_state": cpu(self.best_state), "last_state": cpu(self.last_state)}

    def load_state_dict(self, state: dict, device) -> None:
        if state.get("monitor") != self.monitor:
            return  # a --force resume that watches something else starts watching afresh
        self.best, self.wait = float(state["best"]), int(state["wait"])
        self.best_epoch = None if state["best_epoch"] is None else int(state["best_epoch"])
        on = lambda ts: None if ts is None else [t.to(device, copy=True) for t in ts]  # noqa: E731
        self.best_state = on(state.get("best_state")) if self.keep_best else None
        self.last_state = on(state.get("last_state"))


def make_watch(cfg, has_val: bool) -> Watch | None:
    """train.early_stopping's watch; without it, one that only records the best val_loss epoch (None: no val)."""
    stopping = cfg.early_stopping
    if stopping is not None:
        return Watch(stopping.monitor, stopping.patience, stopping.min_delta, stopping.restore_best)
    return Watch("val_loss") if has_val else None
