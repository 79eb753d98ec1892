"""fit(): the one training loop, plus the loss and optimizer it runs with."""

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from nnlab.config import AdamConfig, RunConfig, SGDConfig, TrainConfig
from nnlab.errors import DivergedError

LOSSES = {
    "mse": lambda: nn.MSELoss(),
    "sse": lambda: nn.MSELoss(reduction="sum"),  # the notebooks' (y_pred - y).pow(2).sum()
    "bce": lambda: nn.BCEWithLogitsLoss(),  # sigmoid + BCE in one numerically stable op
    "cross_entropy": lambda: nn.CrossEntropyLoss(),  # softmax + NLL on logits
}


def make_loss(name: str) -> nn.Module:
    return LOSSES[name]()


def make_optimizer(params, cfg: SGDConfig | AdamConfig):
    """The config's optimizer: nnlab.optim's foreach SGD/Adam, bit-identical to torch.optim's."""
    from nnlab import optim

    if cfg.name == "sgd":
        return optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                         weight_decay=cfg.weight_decay)
    return optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=cfg.weight_decay,
                      decoupled=cfg.name == "adamw")


@dataclass
class Fit:
    """What fit() returns: the logged rows (plain numbers), optimizer steps taken, loop seconds."""

    history: list[dict]
    steps: int
    seconds: float


def fit(model: nn.Module, loss_fn: nn.Module, optimizer, tensors: tuple,
        cfg: TrainConfig, *, log_every: int, task: str, seed: int,
        on_epoch_end: Callable[[int, dict | None], None] | None = None) -> Fit:
    """Train `model` on (X_train, y_train, X_test, y_test), already on its device.

    One row of history every `log_every` epochs and at the last: epoch, train_loss (mean of the
    epoch's minibatch losses), test_loss and a test metric, seconds since the start.
    `on_epoch_end(epoch, row)` runs after every epoch; `row` is None on epochs that log nothing.
    """
    X, y, X_test, y_test = tensors
    n, device = len(X), X.device
    batch_size = min(cfg.batch_size or n, n)
    shuffle = torch.Generator().manual_seed(seed)  # its own stream: same shuffles on CPU and CUDA
    check_every = 1 if device.type == "cpu" else log_every  # reading a CUDA flag is a host sync
    history, steps, start = [], 0, time.perf_counter()
    model.train()
    for epoch in range(1, cfg.epochs + 1):
        if batch_size == n:
            batches = ((X, y),)
        else:
            order = torch.randperm(n, generator=shuffle).to(device, non_blocking=True)
            batches = ((X[idx], y[idx]) for idx in order.split(batch_size))
        epoch_loss, n_batches = torch.zeros((), device=device), 0
        for xb, yb in batches:
            loss = loss_fn(model(xb), yb)  # forward
            loss.backward()  # backward
            optimizer.step()  # update
            optimizer.zero_grad(set_to_none=True)
            epoch_loss += loss.detach()  # stays on the device: no sync per step
            n_batches += 1
        steps += n_batches
        logged = epoch % log_every == 0 or epoch == cfg.epochs
        if (logged or epoch % check_every == 0) and not torch.isfinite(epoch_loss).item():
            raise DivergedError(f"loss became {epoch_loss.item()} at epoch {epoch}; "
                                "try a smaller optimizer.lr")
        if logged:
            row = {"epoch": epoch, "train_loss": (epoch_loss / n_batches).item(),
                   **evaluate(model, loss_fn, X_test, y_test, task, prefix="test_"),
                   "seconds": round(time.perf_counter() - start, 4)}
            model.train()
            history.append(row)
        if on_epoch_end:
            on_epoch_end(epoch, row if logged else None)
    return Fit(history, steps, time.perf_counter() - start)


@torch.inference_mode()
def evaluate(model: nn.Module, loss_fn: nn.Module, X, y, task: str, prefix: str = "") -> dict:
    """Loss and the headline metric (accuracy or R²) on one split, as plain floats ({} when empty)."""
    if len(X) == 0:
        return {}
    model.eval()
    scores = model(X)
    loss = loss_fn(scores, y)
    if task == "classification":
        hits = scores.argmax(1) == y if scores.shape[1] > 1 else (scores > 0) == (y > 0.5)
        metric = ("accuracy", hits.float().mean())
    else:  # R² per output, averaged (scikit-learn's uniform_average)
        ss_res = (y - scores).pow(2).sum(0)
        ss_tot = (y - y.mean(0)).pow(2).sum(0)
        metric = ("r2", (1 - ss_res / ss_tot).mean())
    values = torch.stack([loss, metric[1]]).tolist()  # one host sync for both
    return {f"{prefix}loss": values[0], f"{prefix}{metric[0]}": values[1]}


@dataclass
class Setup:
    """A model ready to train: module, loss, optimizer and data tensors on one device."""

    model: nn.Module
    loss_fn: nn.Module
    optimizer: object  # nnlab.optim.SGD or Adam
    tensors: tuple
    device: torch.device
    threads: int


def prepare(cfg: RunConfig, splits) -> Setup:
    """Seed, pick device and threads, build the model and optimizer, move the data."""
    from nnlab.device import choose_threads, resolve_device, seed_everything, set_threads

    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    model = cfg.model.build(splits.n_features, splits.n_outputs).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    threads = choose_threads(cfg.threads, n_params, cfg.train.batch_size or len(splits.X_train))
    set_threads(threads)
    optimizer = make_optimizer(model.parameters(), cfg.optimizer)
    return Setup(model, make_loss(cfg.loss).to(device), optimizer, splits.tensors(device), device, threads)
