"""A run ready to train: its model, loss and optimizer, and the data tensors, on one device and thread count."""

from dataclasses import dataclass

import torch
from torch import nn

from nnlab.config import AdamConfig, RunConfig, SGDConfig
from nnlab.training.losses import MEAN_REDUCED, make_loss


def make_optimizer(params, cfg: SGDConfig | AdamConfig):
    """The config's optimizer: nnlab's foreach SGD/Adam, bit-identical to torch.optim's."""
    from nnlab.training import optim

    if cfg.name == "sgd":
        return optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                         weight_decay=cfg.weight_decay)
    return optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=cfg.weight_decay,
                      decoupled=cfg.name == "adamw")


@dataclass
class Setup:
    """What fit() trains: module, loss, optimizer and data tensors on one device; the task and the shuffle seed."""

    model: nn.Module
    loss_fn: nn.Module
    optimizer: object  # nnlab.training.optim.SGD or Adam
    tensors: tuple  # (X_train, y_train, X_test, y_test)
    device: torch.device
    threads: int
    task: str  # classification | regression: which metric the loss table logs
    seed: int  # the minibatch shuffling stream
    val: tuple | None = None  # (X_val, y_val), 0 rows without a validation split
    loss_name: str = "mse"  # the config's loss: how gradient accumulation weighs minibatches


def prepare(cfg: RunConfig, splits) -> Setup:
    """Seed, pick device and threads, build the model and optimizer, move the data."""
    from nnlab.training.device import check_memory, resolve_device, seed_everything, set_threads, threads_for

    device = resolve_device(cfg.device)
    check_memory(cfg, splits.n_features, splits.n_outputs, device)
    seed_everything(cfg.seed)
    model = cfg.model.build(splits.n_features, splits.n_outputs).to(device)
    threads = threads_for(cfg, model, len(splits.X_train))
    set_threads(threads)
    optimizer = make_optimizer(model.parameters(), cfg.optimizer)
    return Setup(model, make_loss(cfg.loss, splits.class_weight).to(device), optimizer, splits.tensors(device), device,
                 threads, cfg.task, cfg.seed, splits.val_tensors(device), cfg.loss)


def accumulation_weights(loss: str, n: int, batch_size: int, accumulate: int) -> list[float] | None:
    """What each minibatch's loss is multiplied by before backward() when gradients add up over `accumulate`
    minibatches: its share of its group's rows for mean-reduced losses (so a group's gradient is the gradient
    of the mean over the group's rows, as one batch of them gives), 1 for sse. None when accumulate is 1."""
    if accumulate == 1:
        return None
    n_batches = -(-n // batch_size)
    rows = [min(batch_size, n - i * batch_size) for i in range(n_batches)]
    if loss not in MEAN_REDUCED:
        return [1.0] * n_batches
    group = [sum(rows[i - i % accumulate:i - i % accumulate + accumulate]) for i in range(n_batches)]
    return [r / g for r, g in zip(rows, group)]
