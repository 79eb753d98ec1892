"""The loop state a checkpoint keeps: plain data that round-trips, and RNG states that replay the same draws."""

import random

import numpy as np
import torch

from nnlab.training import optim
from nnlab.training.loop_state import LoopState, restore, restore_rng, rng_states, train_state


def test_loop_state_round_trips_through_plain_data():
    state = LoopState(3, 2, 17, 1.5, [{"epoch": 2, "train_loss": 0.5}], torch.Generator().get_state(),
                      torch.randperm(5), torch.tensor(0.25))
    back = LoopState.from_dict(state.to_dict())
    assert (back.epoch, back.batch, back.steps, back.seconds, back.history) == (3, 2, 17, 1.5, state.history)
    assert torch.equal(back.shuffle, state.shuffle) and torch.equal(back.order, state.order)
    assert back.epoch_loss.item() == 0.25
    assert LoopState.from_dict(LoopState().to_dict()).shuffle is None


def test_restored_rng_states_replay_the_same_draws():
    states = rng_states(torch.device("cpu"))
    first = (random.random(), np.random.rand(), torch.rand(3))
    restore_rng(states, torch.device("cpu"))
    again = (random.random(), np.random.rand(), torch.rand(3))
    assert first[:2] == again[:2] and torch.equal(first[2], again[2])


def test_a_restored_optimizer_takes_the_same_next_step():
    def model_and_step(opt_state=None):
        w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
        opt = optim.Adam([w], lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False)
        if opt_state is not None:
            restore({"train_state": opt_state}, opt, torch.device("cpu"))
        return w, opt

    w, opt = model_and_step()
    for _ in range(3):
        (w ** 2).sum().backward()
        opt.step()
        opt.zero_grad()
    saved = train_state(LoopState(), opt, torch.device("cpu"), "sha", finished=False)
    w2, opt2 = model_and_step(saved)
    with torch.no_grad():
        w2.copy_(w)
    for p, o in ((w, opt), (w2, opt2)):
        (p ** 2).sum().backward()
        o.step()
    assert torch.equal(w, w2) and saved["optimizer_kind"] == "adam" and saved["data_sha256"] == "sha"
