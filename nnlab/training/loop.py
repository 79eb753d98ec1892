"""fit(): the one training loop. Forward, backward, update; a row of history every few epochs."""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from nnlab.config import TrainConfig
from nnlab.errors import DivergedError, Interrupted
from nnlab.scoring.metrics import loss_scale, rows_per_step
from nnlab.training.loop_state import LoopState
from nnlab.training.monitor import make_watch
from nnlab.training.schedule import make_schedule, schedule_kind
from nnlab.training.setup import Setup, accumulation_weights
from nnlab.training.signals import StopFlag, interrupted

CHECKPOINT_SECONDS = 60.0  # default cadence: a kill -9 loses at most about a minute of training


@dataclass
class Fit:
    """What fit() returns: the logged rows (plain numbers), optimizer steps taken, loop seconds, where it stopped."""

    history: list[dict]
    steps: int
    seconds: float
    state: LoopState | None = None  # the position to continue from (after the last epoch when finished)
    stopped: str = "epochs"  # why training ended: epochs | early_stopping (interrupted, diverged: the errors)
    stopped_epoch: int | None = None  # the last epoch trained
    best_epoch: int | None = None  # the monitored value's best epoch (None without a validation split)
    monitor: str | None = None  # what was watched: val_loss, val_accuracy or val_r2
    best: float | None = None  # its value at best_epoch

    def stop_info(self) -> dict:
        """The summary's keys for how training ended."""
        return {"stopped": self.stopped, "stopped_epoch": self.stopped_epoch, "best_epoch": self.best_epoch,
                "monitor": self.monitor, "best": self.best}


def fit(setup: Setup, cfg: TrainConfig, *, on_epoch_end: Callable[[int, dict | None], None] | None = None,
        start: LoopState | None = None, stop: StopFlag | None = None,
        checkpoint: Callable[[LoopState], None] | None = None) -> Fit:
    """Train `setup.model` on `setup.tensors` (X_train, y_train, X_test, y_test), already on its device.

    One row of history every `cfg.log_interval` epochs, at the last and at an early stop: epoch, train_loss
    (mean of the epoch's minibatch losses), val_loss and a val metric (with a validation split, `setup.val`),
    test_loss and a test metric, lr (with a schedule), seconds since the start. The validation split is
    scored every epoch: early stopping, a plateau schedule and the best epoch watch it.
    `on_epoch_end(epoch, row)` runs after every epoch; `row` is None on epochs that log nothing.
    `start` continues a saved LoopState. `checkpoint(state)` runs every `cfg.checkpoint_every` epochs
    (None: at the first epoch end CHECKPOINT_SECONDS after the last), never after a non-finite loss. When
    `stop.signum` is set, the loop ends after the current optimizer step and raises Interrupted; a non-finite
    loss raises DivergedError. Both carry `.result`, a Fit with the history so far.
    """
    model, loss_fn, optimizer, task = setup.model, setup.loss_fn, setup.optimizer, setup.task
    X, y, X_test, y_test = setup.tensors
    X_val, y_val = setup.val if setup.val is not None else (X[:0], y[:0])
    log_every, checkpoint_every, accumulate = cfg.log_interval, cfg.checkpoint_every, cfg.accumulate
    n, device = len(X), X.device
    batch_size = min(cfg.batch_size or n, n)
    n_batches = -(-n // batch_size)
    weights = accumulation_weights(setup.loss_name, n, batch_size, accumulate)  # None: one step per minibatch
    step_rows = rows_per_step(n, cfg.batch_size)  # sse: every split's loss on train's per-step scale
    test_scale, val_scale = loss_scale(loss_fn, len(X_test), step_rows), loss_scale(loss_fn, len(X_val), step_rows)
    shuffle = torch.Generator().manual_seed(setup.seed)  # its own stream: same shuffles on CPU and CUDA
    at = start or LoopState()
    if at.shuffle is not None:
        shuffle.set_state(at.shuffle)
    stop = stop or StopFlag()
    check_every = 1 if device.type == "cpu" else log_every  # reading a CUDA flag is a host sync
    history, steps, clock = list(at.history), at.steps, time.perf_counter() - at.seconds
    saved_at = time.perf_counter()
    unchecked = []  # (epoch, steps before it, its step losses, its loss sum) not yet checked for finiteness
    params = list(model.parameters())
    watch, schedule = _resumed_watch(cfg, len(X_val) > 0, at, params, device), \
        _resumed_schedule(cfg, optimizer, at)

    def state(epoch, batch=0, order=None, epoch_loss=None) -> LoopState:
        return LoopState(epoch, batch, steps, time.perf_counter() - clock, list(history), shuffle.get_state(),
                         order, epoch_loss, schedule_state(cfg, schedule), watch.state_dict() if watch else None)

    def check_finite():
        if not unchecked:
            return
        sums = unchecked[0][3] if len(unchecked) == 1 else torch.stack([entry[3] for entry in unchecked])
        if not torch.isfinite(sums).all().item():
            raise _diverged(unchecked, Fit(history, steps, time.perf_counter() - clock, stopped="diverged"), accumulate)
        unchecked.clear()

    def finished(stopped: str, epoch: int) -> Fit:
        if watch is not None and watch.keep_best:
            watch.restore(params)  # restore_best: the saved model is the best epoch's
        return Fit(history, steps, time.perf_counter() - clock, state(epoch + 1), stopped, epoch,
                   *((watch.best_epoch, watch.monitor, watch.best_value) if watch else (None, None, None)))

    model.train()
    for epoch in range(at.epoch, cfg.epochs + 1):
        first = at.batch if epoch == at.epoch else 0  # minibatches of this epoch done before a resume
        if first and (batch_size == n or at.order is None or len(at.order) != n or first >= n_batches
                      or first % accumulate):
            first = 0  # resumed with --force on other data or batches: redo the interrupted epoch
        order = at.order if first else None
        if batch_size == n:
            batches = ((X, y),)
        else:
            if order is None:
                order = torch.randperm(n, generator=shuffle)
            batches = ((X[idx], y[idx]) for idx in order.to(device, non_blocking=True).split(batch_size)[first:])
        epoch_loss = at.epoch_loss.to(device) if first else torch.zeros((), device=device)
        losses, done, steps_before = [], first, steps
        for xb, yb in batches:
            loss = loss_fn(model(xb), yb)  # forward
            (loss if weights is None else loss * weights[done]).backward()  # backward (gradients add up)
            done += 1
            if weights is None or done % accumulate == 0 or done == n_batches:
                optimizer.step()  # update
                optimizer.zero_grad(set_to_none=True)
                steps += 1
            loss = loss.detach()
            epoch_loss += loss  # stays on the device: no sync per step
            losses.append(loss)  # kept to name the first non-finite step, read only if the sum is not finite
            if stop.signum and done < n_batches and done % accumulate == 0:  # a signal: stop after this update
                break
        unchecked.append((epoch, steps_before, losses if device.type == "cpu" else torch.stack(losses), epoch_loss))
        if done < n_batches:
            check_finite()
            raise _interrupted(stop.signum, epoch, steps, Fit(history, steps, time.perf_counter() - clock,
                                                              state(epoch, done, order, epoch_loss)))
        logged = epoch % log_every == 0 or epoch == cfg.epochs
        if logged or stop.signum or epoch % check_every == 0 or watch is not None or schedule is not None:
            check_finite()
        lr = optimizer.lr
        val = evaluate(model, loss_fn, X_val, y_val, task, prefix="val_", scale=val_scale)  # {}: no validation split
        if val:
            model.train()
        stopping = watch is not None and watch.update(epoch, val[watch.monitor], params)
        if schedule is not None:
            schedule.step(_watched(cfg.scheduler, val, epoch_loss, n_batches))
            optimizer.lr = schedule.lr
        saving = checkpoint is not None and epoch < cfg.epochs and not stopping and (
            epoch % checkpoint_every == 0 if checkpoint_every else time.perf_counter() - saved_at >= CHECKPOINT_SECONDS)
        if saving and not logged:
            check_finite()
        if logged or stopping:
            row = {"epoch": epoch, "train_loss": (epoch_loss / n_batches).item(), **val,
                   **evaluate(model, loss_fn, X_test, y_test, task, prefix="test_", scale=test_scale),
                   **({"lr": lr} if schedule is not None else {}), "seconds": round(time.perf_counter() - clock, 4)}
            model.train()
            history.append(row)
        if saving:
            checkpoint(state(epoch + 1))
            saved_at = time.perf_counter()
        if on_epoch_end:
            on_epoch_end(epoch, row if logged or stopping else None)
        if stopping:
            return finished("early_stopping", epoch)
        if stop.signum:
            raise _interrupted(stop.signum, epoch, steps, Fit(history, steps, time.perf_counter() - clock,
                                                              state(epoch + 1)))
    return finished("epochs", cfg.epochs)


def schedule_state(cfg: TrainConfig, schedule) -> dict | None:
    """The checkpoint's record of a schedule: its kind and plain-number state."""
    return None if schedule is None else {"kind": schedule_kind(cfg.scheduler), **schedule.state_dict()}


def _resumed_schedule(cfg: TrainConfig, optimizer, at: LoopState):
    """train.scheduler from the optimizer's lr, or as saved (then the optimizer takes the saved lr)."""
    schedule = make_schedule(cfg.scheduler, optimizer.lr, cfg.epochs)
    saved = at.schedule
    if schedule is not None and saved is not None and saved.get("kind") == schedule_kind(cfg.scheduler):
        schedule.load_state_dict(saved)
        optimizer.lr = schedule.lr
    return schedule


def _resumed_watch(cfg: TrainConfig, has_val: bool, at: LoopState, params, device):
    """The monitor's watch, as saved; a finished run's restored best weights give way to its last ones."""
    watch = make_watch(cfg, has_val)
    if watch is not None and at.watch is not None:
        watch.load_state_dict(at.watch, device)
        if watch.last_state is not None:  # --force continues a finished restore_best run from its last weights
            with torch.no_grad():
                torch._foreach_copy_(params, watch.last_state)
            watch.last_state = None
    return watch


def _watched(scheduler, val: dict, epoch_loss, n_batches: int) -> float | None:
    """The value a plateau schedule watches this epoch (None for the others)."""
    monitor = getattr(scheduler, "monitor", None)
    if monitor is None:
        return None
    return (epoch_loss / n_batches).item() if monitor == "train_loss" else val[monitor]


def _diverged(unchecked: list, result: Fit, accumulate: int = 1) -> DivergedError:
    """DivergedError naming the epoch and the (1-based, whole-run) optimizer step of the first non-finite loss."""
    for epoch, steps_before, losses, _ in unchecked:
        # A non-finite loss makes every later running sum non-finite; an overflowing sum is caught too.
        running = (losses if isinstance(losses, torch.Tensor) else torch.stack(losses)).cumsum(0)
        bad = (~torch.isfinite(running)).nonzero()
        if len(bad):
            i = int(bad[0, 0])
            value = losses[i].item()
            result.stopped_epoch = epoch
            where = (f"loss became {value if not math.isfinite(value) else 'too large'} at epoch {epoch}, "
                     f"step {steps_before + i // accumulate + 1}")
            break
    else:
        epoch = unchecked[-1][0]
        where = f"loss became non-finite at epoch {epoch}"
    advice = "try a smaller optimizer.lr"
    error = DivergedError(f"{where}; {advice}")
    error.result, error.epoch, error.where, error.advice = result, epoch, where, advice
    return error


def _interrupted(signum: int, epoch: int, steps: int, result: Fit) -> Interrupted:
    result.stopped, result.stopped_epoch = "interrupted", epoch
    error = interrupted(signum, f"epoch {epoch}, step {steps}")
    error.result = result
    return error


@torch.inference_mode()
def evaluate(model: nn.Module, loss_fn: nn.Module, X, y, task: str, prefix: str = "", scale: float = 1.0) -> dict:
    """Loss (times `scale`: a sum-reduced loss on train's scale) and the headline metric (accuracy or R²) on
    one split, as plain floats ({} when empty). The loss is the one scoring.metrics reports for the split."""
    if len(X) == 0:
        return {}
    model.eval()
    scores = model(X)
    loss = loss_fn(scores, y) * scale
    if task == "classification":
        hits = scores.argmax(1) == y if scores.shape[1] > 1 else (scores > 0) == (y > 0.5)
        metric = ("accuracy", hits.double().mean())  # k / n exactly, as the final metrics have it
    else:  # R² per output, averaged (scikit-learn's uniform_average), in float64 as the final metrics have it
        y64, scores64 = y.double(), scores.double()
        ss_res = (y64 - scores64).pow(2).sum(0)
        ss_tot = (y64 - y64.mean(0)).pow(2).sum(0)
        metric = ("r2", (1 - ss_res / ss_tot).mean())
    values = torch.stack([loss.double(), metric[1].double()]).tolist()  # one host sync for both
    return {f"{prefix}loss": values[0], f"{prefix}{metric[0]}": values[1]}
