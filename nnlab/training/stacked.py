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
from nnlab.scoring.metrics import loss_scale, rows_per_step
from nnlab.training.loop import Fit
from nnlab.training.optim import StackedSGD
from nnlab.training.signals import StopFlag, interrupted

_ACTIVATIONS = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU)


def _linear_stack(module: nn.Module) -> list | None:
    """The layers of a Linear or a Sequential of Linears, activations and dropout (the batched-matmul fast path)."""
    layers = [module] if isinstance(module, nn.Linear) else list(module) if isinstance(module, nn.Sequential) else None
    if not layers or not all(isinstance(m, (nn.Linear, nn.Dropout, *_ACTIVATIONS)) for m in layers):
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
        self.rng_states: list | None = None  # each model's RNG state for dropout (prepare_stacked sets it)

    def forward(self, X: torch.Tensor, training: bool = False, rows: list[int] | None = None) -> torch.Tensor:
        """Scores (K, N, n_outputs); `training` applies dropout, model by model from its own RNG stream, to the
        first `rows[k]` rows of model k (the rest is padding)."""
        if self.layers is not None:
            # batched matmuls, nn.Linear's sums model by model, computed features-major: h is (K, features, N),
            # so each product is W (out, in) @ h (in, N) with the long N innermost. For small layers that is
            # 3-8x faster on the CPU than (N, in) @ (in, out), whose tiny inner dimension batched gemm handles badly
            h, index = X.transpose(1, 2), 0
            for layer in self.layers:
                if isinstance(layer, nn.Linear):
                    prefix = f"{index}." if isinstance(self.template, nn.Sequential) else ""
                    W, b = self.params[f"{prefix}weight"], self.params.get(f"{prefix}bias")
                    h = torch.bmm(W, h) if b is None else torch.baddbmm(b.unsqueeze(2), W, h)
                elif isinstance(layer, nn.Dropout):
                    h = self._dropout(h.transpose(1, 2), layer.p, rows).transpose(1, 2) if training and layer.p > 0 else h
                else:
                    h = layer(h)
                index += 1
            return h.transpose(1, 2)  # (K, N, n_outputs), a view
        if self._vmapped is None:
            from torch.func import functional_call, vmap

            base = self.template
            self._vmapped = vmap(lambda p, b, x: functional_call(base, (p, b), (x,)))
        return self._vmapped(self.params, self.buffers, X)

    def _dropout(self, h: torch.Tensor, p: float, rows: list[int] | None) -> torch.Tensor:
        """F.dropout on each model's rows with the global RNG set to that model's state: the masks its single
        run draws (same kernel, same generator, same order); padding rows are left alone; the global state
        is put back after."""
        import torch.nn.functional as F

        from nnlab.training.loop_state import get_rng, set_rng

        device, saved = h.device, get_rng(h.device)
        out = []
        for k in range(self.k):
            n = h.shape[1] if rows is None else rows[k]
            set_rng(self.rng_states[k], device)
            dropped = F.dropout(h[k, :n].contiguous(), p, training=True)  # its mask drawn in (row, feature) order
            out.append(dropped if n == h.shape[1] else torch.cat([dropped, h[k, n:]]))
            self.rng_states[k] = get_rng(device)
        set_rng(saved, device)
        return torch.stack(out)

    def keep(self, index: list[int]) -> None:
        """Keep only the models at `index` (in that order): fresh leaf tensors, so the next steps are cheaper."""
        at = torch.tensor(index, dtype=torch.long, device=next(iter(self.params.values())).device)
        self.params = {k: p.detach().index_select(0, at).requires_grad_() for k, p in self.params.items()}
        self.buffers = {k: b.index_select(0, at) for k, b in self.buffers.items()}
        if self.rng_states is not None:
            self.rng_states = [self.rng_states[i] for i in index]
        self.k = len(index)

    def module(self, k: int) -> nn.Module:
        """Model k as an ordinary nn.Module on the CPU (a copy)."""
        m = copy.deepcopy(self.template).cpu()
        state = {name: t[k].detach().cpu().clone() for name, t in {**self.params, **self.buffers}.items()}
        m.load_state_dict({name: state[name] for name in m.state_dict()})
        return m


def make_stacked_optimizer(params: list[torch.Tensor], configs: list, per_model_lr: bool = False):
    """One optimizer for the stack: nnlab.optim's own when the models share settings (and one lr at a time),
    else StackedSGD (per-model lr, momentum and weight decay; `per_model_lr`: a schedule that differs by model)."""
    from nnlab.training.setup import make_optimizer

    if all(c == configs[0] for c in configs) and not per_model_lr:
        return make_optimizer(params, configs[0])  # elementwise foreach ops: the same numbers per slice
    if any(c.name != "sgd" for c in configs):
        raise ValueError("only SGD runs with different hyperparameters (or per-model lr schedules) can share a stack")
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
    val: tuple | None = None  # (X_val, y_val), each (K, N_val, ...); 0 rows without a validation split
    rows: dict | None = None  # {split: [rows of model k]} when splits differ in size (padded); None: all equal
    class_weight: torch.Tensor | None = None  # (K, n_classes): each model's train.class_weight
    loss_name: str = "mse"
    lrs: list[float] | None = None  # each model's configured lr (where its schedule starts)

    def member_tensors(self, k: int) -> tuple:
        """Model k's (X_train, y_train, X_test, y_test), without padding."""
        return tuple(t[k][:self.rows[split][k]] if self.rows else t[k]
                     for t, split in zip(self.tensors, ("train", "train", "test", "test")))

    def member_val(self, k: int) -> tuple:
        return tuple(t[k][:self.rows["val"][k]] if self.rows else t[k] for t in self.val)

    def keep(self, index: list[int]) -> None:
        """Compact the stack to the models at `index` (successive halving): parameters, optimizer state, data
        tensors, seeds, and each model's rows, class weights and lr."""
        self.stack.keep(index)
        self.optimizer.keep(index, list(self.stack.params.values()))
        self.tensors = tuple(keep_data(t, index) for t in self.tensors)
        if self.val is not None:
            self.val = tuple(keep_data(t, index) for t in self.val)
        self.seeds = [self.seeds[i] for i in index]
        if self.rows is not None:
            self.rows = {split: [rows[i] for i in index] for split, rows in self.rows.items()}
        if self.class_weight is not None:
            self.class_weight = keep_data(self.class_weight, index)
        if self.lrs is not None:
            self.lrs = [self.lrs[i] for i in index]


def needs_member_lrs(cfg: TrainConfig) -> bool:
    """A plateau schedule reacts to each model's own numbers: the models' lrs part ways."""
    return cfg.scheduler is not None and cfg.scheduler.name == "plateau"


def keep_data(t: torch.Tensor, index: list[int]) -> torch.Tensor:
    """Rows `index` of a (K, N, ...) data tensor; a shared copy (an expanded view) stays one copy."""
    if t.shape[0] and t.stride(0) == 0:
        return t[0].expand(len(index), *t.shape[1:])
    return t.index_select(0, torch.tensor(index, dtype=torch.long, device=t.device))


def prepare_stacked(cfgs: list[RunConfig], splits: list) -> StackedSetup:
    """prepare() for K runs of one architecture: model k built from its seed, as its single run builds it."""
    from nnlab.training.device import check_memory, resolve_device, seed_everything, set_threads, threads_for
    from nnlab.training.loop_state import get_rng
    from nnlab.training.members import stack_splits
    from nnlab.training.setup import make_loss

    cfg = cfgs[0]
    device = resolve_device(cfg.device)
    check_memory(cfg, splits[0].n_features, splits[0].n_outputs, device, copies=len(cfgs))
    modules, rng_states = [], []
    for c, s in zip(cfgs, splits):
        seed_everything(c.seed)  # as prepare() does: model k starts from its seed's weights
        modules.append(c.model.build(s.n_features, s.n_outputs))
        rng_states.append(get_rng(device))  # where its single run's dropout masks start
    threads = threads_for(cfg, modules[0], len(splits[0].X_train))
    set_threads(threads)
    stack = Stacked(modules, device)
    stack.rng_states = rng_states
    optimizer = make_stacked_optimizer(list(stack.params.values()), [c.optimizer for c in cfgs],
                                       per_model_lr=needs_member_lrs(cfg.train))
    tensors, val, rows = stack_splits(splits, device)
    weights = None if splits[0].class_weight is None else \
        torch.stack([torch.from_numpy(s.class_weight) for s in splits]).to(device)
    return StackedSetup(stack, make_loss(cfg.loss).to(device), optimizer, tensors, device, threads, cfg.task,
                        [c.seed for c in cfgs], val, rows, weights, cfg.loss, [c.optimizer.lr for c in cfgs])


@dataclass
class StackedFit:
    """Per-model results of fit_stacked: one Fit each, and the epoch a model diverged at (None: finished)."""

    fits: list[Fit]
    diverged_at: list[int | None]
    stopped_at: list[int | None] = field(default_factory=list)  # the epoch `prune` dropped a model at (None: kept)


def fit_stacked(setup: StackedSetup, cfg: TrainConfig, stop: StopFlag | None = None, prune=None) -> StackedFit:
    """fit() for K stacked models; a set `stop.signum` ends it after the current step (Interrupted).

    Per model (training/members.py): its own rows and minibatches, validation score, early stop, best
    weights and lr schedule. The loop ends when every model has stopped or diverged, or after cfg.epochs.
    `prune` (successive halving) has `epochs`, the rungs: at each, after the epoch is logged, `prune(epoch,
    setup, alive)` gets the original indices of the models still in the stack; when it returns a subset,
    the stack is compacted to it (the dropped models' Fits end there).
    """
    from nnlab.training.members import MemberBatches, Members, member_loss

    stack, optimizer = setup.stack, setup.optimizer
    log_every = cfg.log_interval
    K, device = stack.k, setup.tensors[0].device
    per_model_loss = member_loss(setup)
    batches = MemberBatches(setup, cfg.batch_size, cfg.accumulate)
    has_val = setup.val is not None and setup.val[0].shape[1] > 0
    members = Members(setup, cfg, setup.lrs or [optimizer.lr] * K, has_val=has_val)
    splits = _Evaluation(setup, cfg)
    histories = [[] for _ in range(K)]
    diverged_at: list[int | None] = [None] * K
    alive, stopped_at, ended = list(range(K)), [None] * K, {}  # halving: the models still in the stack
    rungs = set(prune.epochs) if prune is not None else set()
    # as fit(): reading a CUDA flag is a host sync; halving checks every epoch, as it may compact after any
    check_every = 1 if device.type == "cpu" or prune is not None else log_every
    unchecked = []  # epoch losses (K,) not yet checked for finiteness
    steps, start, epoch = 0, time.perf_counter(), 0
    for epoch in range(1, cfg.epochs + 1):
        lrs = members.lrs()
        if lrs is not None:
            _set_lrs(optimizer, lrs)
        epoch_loss = torch.zeros(len(alive), device=device)
        for j, (xb, yb, mask, weight, rows) in enumerate(batches.epoch()):
            losses = per_model_loss(stack.forward(xb, training=True, rows=rows), yb, mask)  # (K,)
            # models are independent: d(sum)/d(model k) = d(loss k)
            (losses.sum() if weight is None else (losses * weight).sum()).backward()
            if batches.step_due(j):
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                steps += 1
            epoch_loss += losses.detach()
            if stop is not None and stop.signum:
                raise interrupted(stop.signum, f"epoch {epoch}")
        unchecked.append(epoch_loss)
        logged = epoch % log_every == 0 or epoch == cfg.epochs or epoch in rungs
        if logged or epoch % check_every == 0 or members.watching:
            finite = torch.isfinite(torch.stack(unchecked)).tolist()  # (epochs since the last check, K)
            for checked_epoch, row in enumerate(finite, start=epoch - len(finite) + 1):
                for k, ok in enumerate(row):  # a stopped model's weights are kept
                    if not ok and diverged_at[alive[k]] is None and members.active[k]:
                        diverged_at[alive[k]] = checked_epoch
            unchecked.clear()
        train_loss = (epoch_loss / batches.n_batches).tolist() if logged or members.watching else None
        val = splits.evaluate("val") if has_val else [{} for _ in alive]
        active = list(members.active)
        stopping = members.epoch_end(epoch, stack.params, val, train_loss, [diverged_at[m] for m in alive], steps)
        if logged or stopping:
            tests = splits.evaluate("test")
            seconds = round(time.perf_counter() - start, 4)
            for k, m in enumerate(alive):
                if diverged_at[m] is None and active[k] and (logged or k in stopping):
                    histories[m].append({"epoch": epoch, "train_loss": train_loss[k], **val[k], **tests[k],
                                         **({"lr": lrs[k]} if lrs is not None else {}), "seconds": seconds})
        # ---- successive halving: at a rung, prune may drop models; the stack (and each model's own state) is
        # compacted to the rest
        if epoch in rungs and epoch < cfg.epochs and (kept := prune(epoch, setup, alive)) is not None:
            at = {m: k for k, m in enumerate(alive)}
            for m in set(alive) - set(kept):
                stopped_at[m] = epoch
                ended[m] = {**members.info(at[m], epoch, steps), "seconds": time.perf_counter() - start}
            index = [at[m] for m in kept]
            setup.keep(index)
            batches.keep(index)
            members.keep(index)
            splits = _Evaluation(setup, cfg)
            stack, alive = setup.stack, list(kept)
        # ---- end of halving
        if not any(members.active):
            break
    seconds = time.perf_counter() - start
    for k, (m, end) in enumerate(zip(alive, members.finish(stack.params, epoch, steps))):
        ended[m] = {**end, "seconds": seconds}
    fits = [Fit(h, ended[m].pop("steps"), ended[m].pop("seconds"), **ended[m]) for m, h in enumerate(histories)]
    return StackedFit(fits, diverged_at, stopped_at)


class _Evaluation:
    """Each model scored on its own rows of a split, every epoch: the masks and sse scales of the stack as it is."""

    def __init__(self, setup: StackedSetup, cfg: TrainConfig):
        from nnlab.training.members import member_loss, row_mask

        X, y, X_test, y_test = setup.tensors
        X_val, y_val = setup.val if setup.val is not None else (X[:, :0], y[:, :0])
        self.setup, self.loss = setup, member_loss(setup)
        self.data = {"test": (X_test, y_test), "val": (X_val, y_val)}
        self.masks = {split: row_mask(setup.rows, split, t.shape[1], X.device) for split, (t, _) in self.data.items()}
        self.scales = {split: _loss_scales(setup, cfg, split, t.shape[1]) for split, (t, _) in self.data.items()}

    def evaluate(self, split: str) -> list[dict]:
        X, y = self.data[split]
        return evaluate_stacked(self.setup.stack, self.loss, X, y, self.setup.task, f"{split}_", self.masks[split],
                                self.scales[split])


def _loss_scales(setup: StackedSetup, cfg: TrainConfig, split: str, n_rows: int):
    """loss_scale() of a split for the stack, as each model's fit() has it: a float, or (K,) when splits are
    padded (k-fold: each model's own train and split rows)."""
    n = setup.tensors[0].shape[1]
    if setup.rows is None:
        return loss_scale(setup.loss_fn, n_rows, rows_per_step(n, cfg.batch_size))
    scales = [loss_scale(setup.loss_fn, rows, rows_per_step(train, cfg.batch_size))
              for train, rows in zip(setup.rows["train"], setup.rows[split])]
    return torch.tensor(scales, dtype=torch.float64, device=setup.tensors[0].device)


def _set_lrs(optimizer, lrs: list[float]) -> None:
    if isinstance(optimizer, StackedSGD):
        optimizer.set_lr(lrs)
    else:  # one lr for all: the schedules did not part ways (needs_member_lrs)
        optimizer.lr = lrs[0]


@torch.inference_mode()
def evaluate_stacked(stack: Stacked, per_model_loss, X, y, task: str, prefix: str = "test_",
                     mask: torch.Tensor | None = None, scale=1.0) -> list[dict]:
    """train.evaluate() for every model: loss (times `scale`, a float or one per model: a sum-reduced loss on
    train's scale) and accuracy or r2 on one split ({} when it is empty); `mask` (K, N) marks each model's own
    rows when splits are padded."""
    K = stack.k
    if X.shape[1] == 0:
        return [{} for _ in range(K)]
    scores = stack.forward(X)
    loss = (per_model_loss(scores, y, mask) * scale).double()
    if task == "classification":
        hits = (scores.argmax(2) == y if scores.shape[2] > 1 else (scores > 0) == (y > 0.5)).double().flatten(1)
        name = "accuracy"
        metric = hits.mean(1) if mask is None else (hits * mask).sum(1) / mask.sum(1)  # k / n exactly, as fit()
    else:  # in float64, as fit() does
        name, y64, scores64 = "r2", y.double(), scores.double()
        if mask is None:
            ss_res = (y64 - scores64).pow(2).sum(1)
            ss_tot = (y64 - y64.mean(1, keepdim=True)).pow(2).sum(1)
        else:
            m = mask.double()[..., None]
            mean = (y64 * m).sum(1, keepdim=True) / m.sum(1, keepdim=True)
            ss_res, ss_tot = ((y64 - scores64).pow(2) * m).sum(1), ((y64 - mean).pow(2) * m).sum(1)
        metric = (1 - ss_res / ss_tot).mean(1)
    values = torch.stack([loss, metric.double()], 1).tolist()
    return [{f"{prefix}loss": v[0], f"{prefix}{name}": v[1]} for v in values]
