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
from nnlab.training.setup import Setup
from nnlab.training.signals import StopFlag, interrupted

CHECKPOINT_SECONDS = 60.0  # default cadence: a kill -9 loses at most about a minute of training


@dataclass
class Fit:
    """What fit() returns: the logged rows (plain numbers), optimizer steps taken, loop seconds, where it stopped."""

    history: list[dict]
    steps: int
    seconds: float
    state: LoopState | None = None  # the position to continue from (after the last epoch when finished)


def fit(setup: Setup, cfg: TrainConfig, *, on_epoch_end: Callable[[int, dict | None], None] | None = None,
        start: LoopState | None = None, stop: StopFlag | None = None,
        checkpoint: Callable[[LoopState], None] | None = None) -> Fit:
    """Train `setup.model` on `setup.tensors` (X_train, y_train, X_test, y_test), already on its device.

    One row of history every `cfg.log_interval` epochs and at the last: epoch, train_loss (mean of the
    epoch's minibatch losses), test_loss and a test metric, seconds since the start.
    `on_epoch_end(epoch, row)` runs after every epoch; `row` is None on epochs that log nothing.
    `start` continues a saved LoopState. `checkpoint(state)` runs every `cfg.checkpoint_every` epochs
    (None: at the first epoch end CHECKPOINT_SECONDS after the last), never after a non-finite loss. When
    `stop.signum` is set, the loop ends after the current step and raises Interrupted; a non-finite
    loss raises DivergedError. Both carry `.result`, a Fit with the history so far.
    """
    model, loss_fn, optimizer, task = setup.model, setup.loss_fn, setup.optimizer, setup.task
    X, y, X_test, y_test = setup.tensors
    log_every, checkpoint_every = cfg.log_interval, cfg.checkpoint_every
    n, device = len(X), X.device
    batch_size = min(cfg.batch_size or n, n)
    n_batches = -(-n // batch_size)
    test_scale = loss_scale(loss_fn, len(X_test), rows_per_step(n, cfg.batch_size))  # sse: train's scale
    shuffle = torch.Generator().manual_seed(setup.seed)  # its own stream: same shuffles on CPU and CUDA
    at = start or LoopState()
    if at.shuffle is not None:
        shuffle.set_state(at.shuffle)
    stop = stop or StopFlag()
    check_every = 1 if device.type == "cpu" else log_every  # reading a CUDA flag is a host sync
    history, steps, clock = list(at.history), at.steps, time.perf_counter() - at.seconds
    saved_at = time.perf_counter()
    unchecked = []  # (epoch, steps before it, its step losses, its loss sum) not yet checked for finiteness

    def state(epoch, batch=0, order=None, epoch_loss=None) -> LoopState:
        return LoopState(epoch, batch, steps, time.perf_counter() - clock, list(history), shuffle.get_state(),
                         order, epoch_loss)

    def check_finite():
        sums = unchecked[0][3] if len(unchecked) == 1 else torch.stack([entry[3] for entry in unchecked])
        if not torch.isfinite(sums).all().item():
            raise _diverged(unchecked, Fit(history, steps, time.perf_counter() - clock))
        unchecked.clear()

    model.train()
    for epoch in range(at.epoch, cfg.epochs + 1):
        first = at.batch if epoch == at.epoch else 0  # minibatches of this epoch done before a resume
        if first and (batch_size == n or at.order is None or len(at.order) != n or first >= n_batches):
            first = 0  # resumed with --force on other data or batches: redo the interrupted epoch
        order = at.order if first else None
        if batch_size == n:
            batches = ((X, y),)
        else:
            if order is None:
                order = torch.randperm(n, generator=shuffle)
            batches = ((X[idx], y[idx]) for idx in order.to(device, non_blocking=True).split(batch_size)[first:])
        epoch_loss = at.epoch_loss.to(device) if first else torch.zeros((), device=device)
        losses, done = [], first
        for xb, yb in batches:
            loss = loss_fn(model(xb), yb)  # forward
            loss.backward()  # backward
            optimizer.step()  # update
            optimizer.zero_grad(set_to_none=True)
            loss = loss.detach()
            epoch_loss += loss  # stays on the device: no sync per step
            losses.append(loss)  # kept to name the first non-finite step, read only if the sum is not finite
            done += 1
            if stop.signum and done < n_batches:  # a signal: finish this step, stop inside the epoch
                break
        unchecked.append((epoch, steps, losses if device.type == "cpu" else torch.stack(losses), epoch_loss))
        steps += done - first
        if done < n_batches:
            check_finite()
            raise _interrupted(stop.signum, epoch, steps, Fit(history, steps, time.perf_counter() - clock,
                                                              state(epoch, done, order, epoch_loss)))
        logged = epoch % log_every == 0 or epoch == cfg.epochs
        saving = checkpoint is not None and epoch < cfg.epochs and (
            epoch % checkpoint_every == 0 if checkpoint_every else time.perf_counter() - saved_at >= CHECKPOINT_SECONDS)
        if logged or saving or stop.signum or epoch % check_every == 0:
            check_finite()
        if logged:
            row = {"epoch": epoch, "train_loss": (epoch_loss / n_batches).item(),
                   **evaluate(model, loss_fn, X_test, y_test, task, prefix="test_", scale=test_scale),
                   "seconds": round(time.perf_counter() - clock, 4)}
            model.train()
            history.append(row)
        if saving:
            checkpoint(state(epoch + 1))
            saved_at = time.perf_counter()
        if on_epoch_end:
            on_epoch_end(epoch, row if logged else None)
        if stop.signum:
            raise _interrupted(stop.signum, epoch, steps, Fit(history, steps, time.perf_counter() - clock,
                                                              state(epoch + 1)))
    return Fit(history, steps, time.perf_counter() - clock, state(cfg.epochs + 1))


def _diverged(unchecked: list, result: Fit) -> DivergedError:
    """DivergedError naming the epoch and the (1-based, whole-run) step of the first non-finite loss."""
    for epoch, steps_before, losses, _ in unchecked:
        # A non-finite loss makes every later running sum non-finite; an overflowing sum is caught too.
        running = (losses if isinstance(losses, torch.Tensor) else torch.stack(losses)).cumsum(0)
        bad = (~torch.isfinite(running)).nonzero()
        if len(bad):
            i = int(bad[0, 0])
            value = losses[i].item()
            error = DivergedError(f"loss became {value if not math.isfinite(value) else 'too large'} at epoch "
                                  f"{epoch}, step {steps_before + i + 1}; try a smaller optimizer.lr")
            break
    else:
        epoch = unchecked[-1][0]
        error = DivergedError(f"loss became non-finite at epoch {epoch}; try a smaller optimizer.lr")
    error.result, error.epoch = result, epoch
    return error


def _interrupted(signum: int, epoch: int, steps: int, result: Fit) -> Interrupted:
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
