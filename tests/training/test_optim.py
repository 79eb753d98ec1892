"""nnlab.optim must match torch.optim's foreach implementations bit for bit."""

import pytest
import torch

from nnlab.training import optim


def train_pair(ours, reference, steps=30):
    torch.manual_seed(0)
    make = lambda: torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))  # noqa
    a, b = make(), make()
    b.load_state_dict(a.state_dict())
    opt_a, opt_b = ours(a.parameters()), reference(b.parameters())
    X, y = torch.randn(40, 6), torch.randint(0, 3, (40,))
    for _ in range(steps):
        for model, opt in ((a, opt_a), (b, opt_b)):
            torch.nn.functional.cross_entropy(model(X), y).backward()
            opt.step()
            opt.zero_grad()
    return list(a.parameters()), list(b.parameters())


@pytest.mark.parametrize("kw", [dict(), dict(momentum=0.9), dict(momentum=0.1, weight_decay=0.01),
                                dict(momentum=0.9, nesterov=True, weight_decay=1e-3)])
def test_sgd_is_bit_identical_to_torch(kw):
    ours, ref = train_pair(lambda p: optim.SGD(p, lr=0.05, **kw),
                           lambda p: torch.optim.SGD(p, lr=0.05, foreach=True, **kw))
    assert all(torch.equal(x, y) for x, y in zip(ours, ref))


@pytest.mark.parametrize("name, kw", [("adam", dict()), ("adam", dict(weight_decay=0.01)),
                                      ("adamw", dict(weight_decay=0.01)), ("adam", dict(betas=(0.8, 0.99)))])
def test_adam_is_bit_identical_to_torch(name, kw):
    reference = torch.optim.Adam if name == "adam" else torch.optim.AdamW
    ours, ref = train_pair(lambda p: optim.Adam(p, lr=0.01, decoupled=name == "adamw", **kw),
                           lambda p: reference(p, lr=0.01, foreach=True, **kw))
    assert all(torch.equal(x, y) for x, y in zip(ours, ref))


def test_state_dict_round_trip_continues_identically():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(5))
    opt = optim.Adam([w], lr=0.1)
    for _ in range(3):
        (w ** 2).sum().backward()
        opt.step()
        opt.zero_grad()
    w2 = torch.nn.Parameter(w.detach().clone())
    opt2 = optim.Adam([w2], lr=0.1)
    opt2.load_state_dict(opt.state_dict())
    for p, o in ((w, opt), (w2, opt2)):
        (p ** 2).sum().backward()
        o.step()
    assert torch.equal(w, w2)


def test_keep_selects_the_stacked_models_state_rows():
    """Stacked params (K, ...): keep() keeps the momentum buffers or Adam moments of the models that stay."""
    from nnlab.training.optim import SGD, Adam

    params = [torch.randn(4, 3, requires_grad=True), torch.randn(4, 2, requires_grad=True)]
    for opt in (SGD(params, lr=0.1, momentum=0.9), Adam(params, lr=0.1)):
        for _ in range(2):
            sum((p ** 2).sum() for p in params).backward()
            opt.step()
            opt.zero_grad()
        state = [t.clone() for t in (opt.momentum_buffers if isinstance(opt, SGD) else opt.exp_avgs)]
        kept = [p.detach()[[3, 1]].clone().requires_grad_() for p in params]
        opt.keep([3, 1], kept)
        now = opt.momentum_buffers if isinstance(opt, SGD) else opt.exp_avgs
        assert opt.params == kept and all(torch.equal(n, s[[3, 1]]) for n, s in zip(now, state))
    plain = SGD(params, lr=0.1)
    plain.keep([0], [p[:1] for p in params])
    assert plain.momentum_buffers is None


@pytest.mark.parametrize("nesterov", [False, True])
def test_stacked_sgd_is_bit_identical_to_each_models_own_sgd(nesterov):
    """Per-model lr, momentum and weight decay in one stack: model k's weights are those its own SGD gives."""
    torch.manual_seed(0)
    lrs, momentums, decays = [0.05, 0.2, 0.013, 0.7], [0.9, 0.0, 0.5, 0.1], [0.0, 0.01, 1e-3, 0.0]
    if nesterov:
        momentums = [0.9, 0.3, 0.5, 0.1]
    K, shapes = len(lrs), [(5, 3), (5,), (2, 5)]
    stacked = [torch.randn(K, *s).requires_grad_() for s in shapes]
    alone = [[p[k].detach().clone().requires_grad_() for p in stacked] for k in range(K)]
    opt = optim.StackedSGD(stacked, lrs, momentums, decays, nesterov)
    own = [optim.SGD(params, lr=lr, momentum=m, weight_decay=wd, nesterov=nesterov)
           for params, lr, m, wd in zip(alone, lrs, momentums, decays)]
    for _ in range(40):
        grads = [torch.randn(K, *s) for s in shapes]
        for p, g in zip(stacked, grads):
            p.grad = g.clone()
        opt.step()
        for k, (params, o) in enumerate(zip(alone, own)):
            for p, g in zip(params, grads):
                p.grad = g[k].clone()
            o.step()
    for k in range(K):
        assert all(torch.equal(p[k], q) for p, q in zip(stacked, alone[k])), k
