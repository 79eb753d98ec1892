"""Training K models of one architecture at once: stacked parameters, one batched step for all.

Each model k sees what a single run with its seed would see: its own initial weights, its own
data split (stacked when the splits differ), its own shuffle order, its own lr/momentum/weight
decay. The arithmetic is the single run's, batched, so the models come out equal to training
each alone (bit for bit in the cases tests/test_vectorized.py checks, to float rounding otherwise).
"""

import copy
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from nnlab.config import RunConfig, TrainConfig
from nnlab.training.loop import Fit
from nnlab.training.signals import StopFlag, interrupted

_ACTIVATIONS = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU)


def _linear_stack(module: nn.Module) -> list | None:
    """The layers of a Linear or a Sequential of Linears and activations (the batched-matmul fast path)."""
    layers = [module] if isinstance(module, nn.Linear) else list(module) if isinstance(module, nn.Sequential) else None
    if not layers or not all(isinstance(m, (nn.Linear, *_ACTIVATIONS)) for m in layers):
        return None
    return layers


class Stacked:
    """K models as stacked leaf tensors (K, *shape); forward maps X (K, N, F) to scores (K, N, n_outputs)."""

    def __init__(self, modules: list[nn.Module], device):
        # torch.func.stack_module_state, minus its same-class check (a polynomial's class is made per build)
        named = [(dict(m.named_parameters()), dict(m.named_buffers())) for m in modules]
        self.params = {k: torch.stack([p[k].detach() for p, _ in named]).to(device).requires_grad_()
                       for k in named[0][0]}
        self.buffers = {k: torch.stack([b[k] for _, b in named]).to(device) for k in named[0][1]}
        self.template = copy.deepcopy(modules[0]).to(device)
        self.k = len(modules)
        self.layers = _linear_stack(modules[0])
        self._vmapped = None

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        if self.layers is not None:  # batched matmuls: the same sums as nn.Linear, model by model
            h, index = X, 0
            for layer in self.layers:
                if isinstance(layer, nn.Linear):
                    prefix = f"{index}." if isinstance(self.template, nn.Sequential) else ""
                    W, b = self.params[f"{prefix}weight"], self.params.get(f"{prefix}bias")
                    h = torch.bmm(h, W.transpose(1, 2)) if b is None else torch.baddbmm(b.unsqueeze(1), h, W.transpose(1, 2))
                else:
                    h = layer(h)
                index += 1
            return h
        if self._vmapped is None:
            from torch.func import functional_call, vmap

            base = self.template
            self._vmapped = vmap(lambda p, b, x: functional_call(base, (p, b), (x,)))
        return self._vmapped(self.params, self.buffers, X)

    def keep(self, index: list[int]) -> None:
        """Keep only the models at `index` (in that order): fresh leaf tensors, so the next steps are cheaper."""
        at = torch.tensor(index, dtype=torch.long, device=next(iter(self.params.values())).device)
        self.params = {k: p.detach().index_select(0, at).requires_grad_() for k, p in self.params.items()}
        self.buffers = {k: b.index_select(0, at) for k, b in self.buffers.items()}
        self.k = len(index)

    def module(self, k: int) -> nn.Module:
        """Model k as an ordinary nn.Module on the CPU (a copy)."""
        m = copy.deepcopy(self.template).cpu()
        state = {name: t[k].detach().cpu().clone() for name, t in {**self.params, **self.buffers}.items()}
        m.load_state_dict({name: state[name] for name in m.state_dict()})
        return m


class StackedSGD:
    """nnlab.optim.SGD for K stacked models with per-model lr, momentum and weight decay.

    torch's `add(x, y, alpha=a)` rounds once (a fused multiply-add with `a` in float32); with a
    tensor of per-model values we compute the same expression in float64 and round once to float32.
    """

    def __init__(self, params: list[torch.Tensor], lr: list[float], momentum: list[float],
                 weight_decay: list[float], nesterov: bool):
        self.params, self.nesterov = params, nesterov
        self.lr = [self._per_model(-torch.tensor(lr, dtype=torch.float32), p) for p in params]
        self.momentum = [self._per_model(torch.tensor(momentum, dtype=torch.float32), p) for p in params]
        self.weight_decay = [self._per_model(torch.tensor(weight_decay, dtype=torch.float32), p) for p in params]
        self.use_momentum, self.use_decay = any(momentum), any(weight_decay)
        self.momentum_buffers = None

    @staticmethod
    def _per_model(values: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        return values.double().to(p.device).reshape(-1, *([1] * (p.dim() - 1)))  # (K, 1, ...)

    @staticmethod
    def _fma(x, a, y):  # x + a·y rounded once to float32
        return (x.double() + a * y.double()).float()

    @torch.no_grad()
    def step(self) -> None:
        grads = [p.grad for p in self.params]
        if self.use_decay:
            grads = [self._fma(g, wd, p) for g, wd, p in zip(grads, self.weight_decay, self.params)]
        if self.use_momentum:
            if self.momentum_buffers is None:
                self.momentum_buffers = [g.detach().clone() for g in grads]
            else:
                self.momentum_buffers = [(b.double() * m).float() + g
                                         for b, m, g in zip(self.momentum_buffers, self.momentum, grads)]
            if self.nesterov:
                grads = [self._fma(g, m, b) for g, m, b in zip(grads, self.momentum, self.momentum_buffers)]
            else:
                grads = self.momentum_buffers
        for p, lr, g in zip(self.params, self.lr, grads):
            p.copy_(self._fma(p, lr, g))

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    def keep(self, index: list[int], params: list[torch.Tensor]) -> None:
        """Keep the models at `index`: their lr, momentum, decay and momentum buffers; train `params` now."""
        from nnlab.training.optim import keep_rows

        self.params = params
        self.lr, self.momentum, self.weight_decay = (keep_rows(values, index)
                                                     for values in (self.lr, self.momentum, self.weight_decay))
        self.momentum_buffers = keep_rows(self.momentum_buffers, index)


def make_stacked_optimizer(params: list[torch.Tensor], configs: list):
    """One optimizer for the stack: nnlab.optim's own when the models share settings, else StackedSGD."""
    from nnlab.training.setup import make_optimizer

    if all(c == configs[0] for c in configs):
        return make_optimizer(params, configs[0])  # elementwise foreach ops: the same numbers per slice
    if any(c.name != "sgd" for c in configs):
        raise ValueError("only SGD runs with different hyperparameters can share a stack")
    return StackedSGD(params, [c.lr for c in configs], [c.momentum for c in configs],
                      [c.weight_decay for c in configs], configs[0].nesterov)


@dataclass
class StackedSetup:
    """What fit_stacked() trains: K models stacked, their loss, optimizer and (K, N, ...) tensors on one device."""

    stack: Stacked
    loss_fn: nn.Module
    optimizer: object
    tensors: tuple  # (X_train, y_train, X_test, y_test), each (K, N, ...); expanded views of one copy when shared
    device: torch.device
    threads: int
    task: str
    seeds: list[int]  # model k's shuffling stream

    def keep(self, index: list[int]) -> None:
        """Compact the stack to the models at `index`: parameters, optimizer state, data tensors and seeds."""
        self.stack.keep(index)
        self.optimizer.keep(index, list(self.stack.params.values()))
        self.tensors = tuple(keep_data(t, index) for t in self.tensors)
        self.seeds = [self.seeds[i] for i in index]


def keep_data(t: torch.Tensor, index: list[int]) -> torch.Tensor:
    """Rows `index` of a (K, N, ...) data tensor; a shared copy (an expanded view) stays one copy."""
    if t.shape[0] and t.stride(0) == 0:
        return t[0].expand(len(index), *t.shape[1:])
    return t.index_select(0, torch.tensor(index, dtype=torch.long, device=t.device))


def prepare_stacked(cfgs: list[RunConfig], splits: list) -> StackedSetup:
    """prepare() for K runs of one architecture: model k built from its seed, as its single run builds it."""
    from nnlab.training.device import resolve_device, seed_everything, set_threads, threads_for
    from nnlab.training.setup import make_loss

    cfg = cfgs[0]
    device = resolve_device(cfg.device)
    modules = []
    for c, s in zip(cfgs, splits):
        seed_everything(c.seed)  # as prepare() does: model k starts from its seed's weights
        modules.append(c.model.build(s.n_features, s.n_outputs))
    threads = threads_for(cfg, modules[0], len(splits[0].X_train))
    set_threads(threads)
    stack = Stacked(modules, device)
    optimizer = make_stacked_optimizer(list(stack.params.values()), [c.optimizer for c in cfgs])
    K = len(cfgs)
    if all(s is splits[0] or s.same_arrays(splits[0]) for s in splits[1:]):  # (K, N, ...) views of one copy
        tensors = tuple(t.expand(K, *t.shape) for t in splits[0].tensors(device))
    else:
        tensors = tuple(torch.stack(ts) for ts in zip(*(s.tensors(device) for s in splits)))
    return StackedSetup(stack, make_loss(cfg.loss).to(device), optimizer, tensors, device, threads, cfg.task,
                        [c.seed for c in cfgs])


@dataclass
class StackedFit:
    """Per-model results of fit_stacked: one Fit each, and the epoch a model diverged at (None: finished)."""

    fits: list[Fit]
    diverged_at: list[int | None]
    stopped_at: list[int | None] = field(default_factory=list)  # the epoch `prune` dropped a model at (None: kept)


def fit_stacked(setup: StackedSetup, cfg: TrainConfig, stop: StopFlag | None = None, prune=None) -> StackedFit:
    """fit() for K stacked models; a set `stop.signum` ends it after the current step (Interrupted).

    `prune` (successive halving) has `epochs`, the rungs: at each, after the epoch is logged, `prune(epoch,
    setup, members)` gets the original indices of the models still in the stack; when it returns a subset,
    the stack is compacted to it (the dropped models' Fits end there).
    """
    from torch.func import vmap

    stack, loss_fn, optimizer, task = setup.stack, setup.loss_fn, setup.optimizer, setup.task
    log_every = cfg.log_interval
    X, y, X_test, y_test = setup.tensors
    K, n, device = stack.k, X.shape[1], X.device
    batch_size = min(cfg.batch_size or n, n)
    shuffles = [torch.Generator().manual_seed(s) for s in setup.seeds]  # each model's own single-run stream
    per_model_loss = vmap(loss_fn)
    models = torch.arange(K, device=device)[:, None]
    histories = [[] for _ in range(K)]
    diverged_at: list[int | None] = [None] * K
    members, stopped_at, ended = list(range(K)), [None] * K, {}  # halving: who is still in the stack
    rungs = set(prune.epochs) if prune is not None else set()
    # as fit(): reading a CUDA flag is a host sync; halving checks every epoch, as it may compact after any
    check_every = 1 if device.type == "cpu" or prune is not None else log_every
    unchecked = []  # epoch losses (K,) not yet checked for finiteness
    steps, start = 0, time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        if batch_size == n:
            batches = ((X, y),)
        else:
            order = torch.stack([torch.randperm(n, generator=g) for g in shuffles]).to(device)  # (K, n)
            batches = ((X[models, idx], y[models, idx]) for idx in order.split(batch_size, dim=1))
        epoch_loss, n_batches = torch.zeros(K, device=device), 0
        for xb, yb in batches:
            losses = per_model_loss(stack.forward(xb), yb)  # (K,)
            losses.sum().backward()  # models are independent: d(sum)/d(model k) = d(loss k)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            epoch_loss += losses.detach()
            n_batches += 1
            if stop is not None and stop.signum:
                raise interrupted(stop.signum, f"epoch {epoch}")
        steps += n_batches
        unchecked.append(epoch_loss)
        logged = epoch % log_every == 0 or epoch == cfg.epochs or epoch in rungs
        if logged or epoch % check_every == 0:
            finite = torch.isfinite(torch.stack(unchecked)).tolist()  # (epochs since the last check, K)
            for checked_epoch, row in enumerate(finite, start=epoch - len(finite) + 1):
                for k, ok in enumerate(row):
                    if not ok and diverged_at[members[k]] is None:
                        diverged_at[members[k]] = checked_epoch
            unchecked.clear()
        if logged:
            train_loss = (epoch_loss / n_batches).tolist()
            tests = evaluate_stacked(stack, per_model_loss, X_test, y_test, task)
            seconds = round(time.perf_counter() - start, 4)
            for k, m in enumerate(members):
                if diverged_at[m] is None:
                    histories[m].append({"epoch": epoch, "train_loss": train_loss[k], **tests[k], "seconds": seconds})
        # ---- successive halving (issue 13): at a rung, prune may drop models; the stack is compacted to the rest
        if epoch in rungs and epoch < cfg.epochs and (kept := prune(epoch, setup, members)) is not None:
            at = {m: k for k, m in enumerate(members)}
            for m in set(members) - set(kept):
                stopped_at[m], ended[m] = epoch, (steps, time.perf_counter() - start)
            setup.keep([at[m] for m in kept])
            shuffles, members = [shuffles[at[m]] for m in kept], list(kept)
            X, y, X_test, y_test = setup.tensors
            K, models = len(members), torch.arange(len(members), device=device)[:, None]
        # ---- end of halving
    seconds = time.perf_counter() - start
    fits = [Fit(h, *ended.get(k, (steps, seconds))) for k, h in enumerate(histories)]
    return StackedFit(fits, diverged_at, stopped_at)


@torch.inference_mode()
def evaluate_stacked(stack: Stacked, per_model_loss, X, y, task: str) -> list[dict]:
    """train.evaluate() for every model: test_loss and test_accuracy or test_r2 ({} without a test split)."""
    K = stack.k
    if X.shape[1] == 0:
        return [{} for _ in range(K)]
    scores = stack.forward(X)
    loss = per_model_loss(scores, y)
    if task == "classification":
        hits = scores.argmax(2) == y if scores.shape[2] > 1 else (scores > 0) == (y > 0.5)
        name, metric = "accuracy", hits.float().flatten(1).mean(1)
    else:
        ss_res = (y - scores).pow(2).sum(1)
        ss_tot = (y - y.mean(1, keepdim=True)).pow(2).sum(1)
        name, metric = "r2", (1 - ss_res / ss_tot).mean(1)
    values = torch.stack([loss, metric], 1).tolist()
    return [{"test_loss": v[0], f"test_{name}": v[1]} for v in values]
