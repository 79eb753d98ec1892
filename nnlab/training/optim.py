"""SGD and Adam(W) with the arithmetic of torch.optim's foreach implementations, minus its start-up cost.

Why not torch.optim: constructing any torch.optim.Optimizer imports torch._dynamo (measured here:
+2.4 s on every `nnlab train`, more than the whole wine training). These classes run the same
`torch._foreach_*` calls in the same order, so the numbers are bit-identical to
`torch.optim.SGD/Adam/AdamW(foreach=True)`; tests/training/test_optim.py checks that step by step.
StackedSGD is SGD for K stacked models with per-model lr, momentum and weight decay (training/stacked.py).
"""

import torch


class SGD:
    """torch.optim.SGD: weight decay, momentum (buffer starts as the first gradient), Nesterov."""

    def __init__(self, params, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0):
        self.params = list(params)
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.nesterov, self.weight_decay = nesterov, weight_decay
        self.momentum_buffers: list[torch.Tensor] | None = None

    @torch.no_grad()
    def step(self) -> None:
        params, grads = self.params, [p.grad for p in self.params]
        if self.weight_decay != 0:
            grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        if self.momentum != 0:
            if self.momentum_buffers is None:
                self.momentum_buffers = [g.detach().clone() for g in grads]
            else:
                torch._foreach_mul_(self.momentum_buffers, self.momentum)
                torch._foreach_add_(self.momentum_buffers, grads, alpha=1 - self.dampening)
            if self.nesterov:
                torch._foreach_add_(grads, self.momentum_buffers, alpha=self.momentum)
            else:
                grads = self.momentum_buffers
        torch._foreach_add_(params, grads, alpha=-self.lr)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    def keep(self, index: list[int], params: list[torch.Tensor]) -> None:
        """Stacked models (dim 0 indexes them): keep those at `index`, training `params` from now on."""
        self.params = list(params)
        self.momentum_buffers = keep_rows(self.momentum_buffers, index)

    def state_dict(self) -> dict:
        return {"momentum_buffers": self.momentum_buffers}

    def load_state_dict(self, state: dict) -> None:
        buffers = state["momentum_buffers"]
        self.momentum_buffers = None if buffers is None else [b.to(p.device, copy=True) for b, p in zip(buffers, self.params)]


class Adam:
    """torch.optim.Adam, or AdamW with `decoupled=True` (weight decay applied to the weights directly)."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled: bool = False):
        self.params = list(params)
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.weight_decay, self.decoupled = weight_decay, decoupled
        self.t = 0
        self.exp_avgs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sqs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]

    @torch.no_grad()
    def step(self) -> None:
        params, grads = self.params, [p.grad for p in self.params]
        self.t += 1
        if self.weight_decay != 0:
            if self.decoupled:
                torch._foreach_mul_(params, 1 - self.lr * self.weight_decay)
            else:
                grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        torch._foreach_lerp_(self.exp_avgs, grads, 1 - self.beta1)
        torch._foreach_mul_(self.exp_avg_sqs, self.beta2)
        torch._foreach_addcmul_(self.exp_avg_sqs, grads, grads, 1 - self.beta2)
        n, t = len(params), float(self.t)
        step_size = (self.lr / (1 - self.beta1 ** t)) * -1
        bias_correction2_sqrt = (1 - self.beta2 ** t) ** 0.5
        denom = torch._foreach_sqrt(self.exp_avg_sqs)
        torch._foreach_div_(denom, [bias_correction2_sqrt] * n)
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(params, self.exp_avgs, denom, [step_size] * n)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    def keep(self, index: list[int], params: list[torch.Tensor]) -> None:
        """Stacked models (dim 0 indexes them): keep those at `index`, training `params` from now on."""
        self.params = list(params)
        self.exp_avgs, self.exp_avg_sqs = keep_rows(self.exp_avgs, index), keep_rows(self.exp_avg_sqs, index)

    def state_dict(self) -> dict:
        return {"t": self.t, "exp_avgs": self.exp_avgs, "exp_avg_sqs": self.exp_avg_sqs}

    def load_state_dict(self, state: dict) -> None:
        self.t = int(state["t"])
        self.exp_avgs = [s.to(p.device, copy=True) for s, p in zip(state["exp_avgs"], self.params)]
        self.exp_avg_sqs = [s.to(p.device, copy=True) for s, p in zip(state["exp_avg_sqs"], self.params)]


def keep_rows(tensors: list[torch.Tensor] | None, index: list[int]) -> list[torch.Tensor] | None:
    """Rows `index` (dim 0) of each tensor: the state of the stacked models that stay."""
    if tensors is None:
        return None
    return [t.index_select(0, torch.tensor(index, dtype=torch.long, device=t.device)) for t in tensors]


class StackedSGD:
    """nnlab.optim.SGD for K stacked models with per-model lr, momentum and weight decay.

    torch's `add(x, y, alpha=a)` rounds once (a fused multiply-add with `a` in float32); with a tensor of
    per-model values the same expression is computed in float64 (a·y is exact there) and rounded once to
    float32, in one addcmul per parameter that writes float32. The momentum buffer's `b·m + g` rounds twice,
    as torch's mul_ then add_ do, in float32.
    """

    def __init__(self, params: list[torch.Tensor], lr: list[float], momentum: list[float],
                 weight_decay: list[float], nesterov: bool):
        self.params, self.nesterov = params, nesterov
        self.lr = [self._per_model(-torch.tensor(lr, dtype=torch.float32), p) for p in params]
        self.momentum = [self._per_model(torch.tensor(momentum, dtype=torch.float32), p, torch.float32)
                         for p in params]
        self.weight_decay = [self._per_model(torch.tensor(weight_decay, dtype=torch.float32), p) for p in params]
        self.use_momentum, self.use_decay = any(momentum), any(weight_decay)
        self.momentum_buffers = None

    def set_lr(self, lr: list[float]) -> None:
        """Each model's lr from now on (a schedule's)."""
        self.lr = [self._per_model(-torch.tensor(lr, dtype=torch.float32), p) for p in self.params]

    @staticmethod
    def _per_model(values: torch.Tensor, p: torch.Tensor, dtype=torch.float64) -> torch.Tensor:
        return values.to(dtype).to(p.device).reshape(-1, *([1] * (p.dim() - 1)))  # (K, 1, ...)

    @staticmethod
    def _fma(x: torch.Tensor, a: torch.Tensor, y: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """x + a·y rounded once to float32: float64 `a` makes addcmul compute in float64; `out` is float32."""
        return torch.addcmul(x, a, y, out=torch.empty_like(x) if out is None else out)

    @torch.no_grad()
    def step(self) -> None:
        grads = [p.grad for p in self.params]
        if self.use_decay:
            grads = [self._fma(g, wd, p) for g, wd, p in zip(grads, self.weight_decay, self.params)]
        if self.use_momentum:
            if self.momentum_buffers is None:
                self.momentum_buffers = [g.detach().clone() for g in grads]
            else:
                torch._foreach_mul_(self.momentum_buffers, self.momentum)
                torch._foreach_add_(self.momentum_buffers, grads)
            if self.nesterov:
                momentum64 = [m.double() for m in self.momentum]
                grads = [self._fma(g, m, b) for g, m, b in zip(grads, momentum64, self.momentum_buffers)]
            else:
                grads = self.momentum_buffers
        for p, lr, g in zip(self.params, self.lr, grads):
            self._fma(p, lr, g, out=p)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    def keep(self, index: list[int], params: list[torch.Tensor]) -> None:
        """Keep the models at `index`: their lr, momentum, decay and momentum buffers; train `params` now."""
        self.params = params
        self.lr, self.momentum, self.weight_decay = (keep_rows(values, index)
                                                     for values in (self.lr, self.momentum, self.weight_decay))
        self.momentum_buffers = keep_rows(self.momentum_buffers, index)
