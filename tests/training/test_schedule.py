"""nnlab's lr schedules against torch.optim.lr_scheduler, epoch by epoch (torch's are built only here)."""

import math

import pytest
import torch

from nnlab.config.schema import CosineSchedule, PlateauSchedule, StepSchedule
from nnlab.training.schedule import make_schedule


def torch_lrs(make, epochs: int, values=None, lr: float = 0.05) -> list[float]:
    """The lr torch's scheduler gives each epoch (the lr an epoch trains with), stepped once per epoch."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = make(optimizer)
    lrs = []
    for epoch in range(epochs):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step(*([values[epoch]] if values is not None else []))
    return lrs


def ours(cfg, epochs: int, values=None, lr: float = 0.05) -> list[float]:
    schedule = make_schedule(cfg, lr, epochs)
    lrs = []
    for epoch in range(epochs):
        lrs.append(schedule.lr)
        schedule.step(values[epoch] if values is not None else None)
    return lrs


@pytest.mark.parametrize("step_size, gamma", [(1, 0.5), (7, 0.1), (30, 0.9), (3, 1.5)])
def test_step_matches_steplr(step_size, gamma):
    cfg = StepSchedule(name="step", step_size=step_size, gamma=gamma)
    assert ours(cfg, 200) == torch_lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size, gamma), 200)


@pytest.mark.parametrize("t_max, eta_min, epochs", [(100, 0.0, 100), (10, 1e-4, 95), (50, 0.001, 300), (1, 0.0, 7)])
def test_cosine_matches_cosineannealinglr_bit_for_bit(t_max, eta_min, epochs):
    """The recursive form torch steps with (not the closed form): the same floats, also past t_max."""
    cfg = CosineSchedule(name="cosine", t_max=t_max, eta_min=eta_min)
    theirs = torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, t_max, eta_min), epochs)
    assert ours(cfg, epochs) == theirs
    assert ours(cfg.model_copy(update={"t_max": None}), epochs)[-1] == pytest.approx(
        eta_min + (0.05 - eta_min) * (1 + math.cos(math.pi * (epochs - 1) / epochs)) / 2, rel=1e-9)


@pytest.mark.parametrize("monitor, mode", [("val_loss", "min"), ("val_accuracy", "max"), ("train_loss", "min")])
@pytest.mark.parametrize("patience, cooldown, min_lr", [(0, 0, 0.0), (3, 2, 1e-3), (10, 0, 0.0)])
def test_plateau_matches_reducelronplateau(monitor, mode, patience, cooldown, min_lr):
    values = [1.0 / (1 + (e % 17)) + 0.001 * ((e * 7919) % 13) for e in range(300)]  # falls, then jumps back
    if mode == "max":
        values = [1 - v for v in values]
    cfg = PlateauSchedule(name="plateau", monitor=monitor, factor=0.5, patience=patience, cooldown=cooldown,
                          min_lr=min_lr)
    theirs = torch_lrs(lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(
        o, mode=mode, factor=0.5, patience=patience, cooldown=cooldown, min_lr=min_lr), 300, values)
    assert ours(cfg, 300, values) == theirs
    assert len(set(theirs)) > 2  # the schedule did reduce, more than once


def test_a_saved_state_continues_the_same_floats():
    cfg = PlateauSchedule(name="plateau", patience=2, factor=0.3)
    values = [1, 0.9, 0.95, 0.96, 0.97, 0.5, 0.6, 0.7, 0.8, 0.9] * 3
    straight = ours(cfg, 30, values)
    first = make_schedule(cfg, 0.05, 30)
    for v in values[:13]:
        first.step(v)
    second = make_schedule(cfg, 0.05, 30)
    second.load_state_dict(first.state_dict())
    rest = []
    for v in values[13:]:
        rest.append(second.lr)
        second.step(v)
    assert rest == straight[13:]
    assert make_schedule(None, 0.05, 30) is None
