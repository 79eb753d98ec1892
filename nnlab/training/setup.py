"""A run ready to train: its model, loss and optimizer, and the data tensors, on one device and thread count."""

from dataclasses import dataclass

import torch
from torch import nn

from nnlab.config import AdamConfig, RunConfig, SGDConfig

LOSSES = {
    "mse": lambda: nn.MSELoss(),
    "sse": lambda: nn.MSELoss(reduction="sum"),  # the notebooks' (y_pred - y).pow(2).sum()
    "bce": lambda: nn.BCEWithLogitsLoss(),  # sigmoid + BCE in one numerically stable op
    "cross_entropy": lambda: nn.CrossEntropyLoss(),  # softmax + NLL on logits
}


def make_loss(name: str) -> nn.Module:
    return LOSSES[name]()


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
    return Setup(model, make_loss(cfg.loss).to(device), optimizer, splits.tensors(device), device, threads,
                 cfg.task, cfg.seed)
