"""Autograd's gradients against central finite differences, and gradients accumulating over backward calls."""

import copy

from nnlab.errors import ConfigError, did_you_mean

STEP = 1e-6  # h: small enough that a ReLU kink rarely falls within ±h of an entry, large enough for the rounding below
TOLERANCE = 1e-5  # largest relative error that passes
# Error analysis of (L(θ+h) − L(θ−h)) / 2h in float64 (machine epsilon EPS = 2⁻⁵²): each loss evaluation
# carries an absolute rounding error of about EPS·S, where S = |L| + Σ_j |out_j · ∂L/∂out_j| (the loss, and the
# outputs' own rounding carried into it), so the quotient carries about EPS·S/h; the truncation error
# h²/6·|∂³L| is 1.7e-13·|∂³L| at h = 1e-6, far below it. Measured on every bundled config (batches of 1, 8 and
# 64 rows) the error stays below 0.83·EPS·S/h: NOISE = 16 leaves a margin of about 20.
# An entry passes when |autograd − numeric| <= max(TOLERANCE · max(|autograd|, |numeric|), NOISE·EPS·S/h): a
# gradient too small to tell from that noise is compared absolutely. A wrong backward is off by about the
# gradient itself, far above both.
EPS = 2.0 ** -52
NOISE = 16


def float64_copy(model, X, y):
    """A float64 copy of the model and the batch (class indices stay integers); the original is untouched."""
    model = copy.deepcopy(model).double()
    return model, X.double(), y.double() if y.is_floating_point() else y


def noise_floor(model, loss_fn, X, y) -> float:
    """The absolute error a central difference of this loss carries in float64 (see the analysis above)."""
    import torch

    out = model(X).detach().requires_grad_(True)
    loss = loss_fn(out, y)
    (g,) = torch.autograd.grad(loss, out)
    scale = abs(loss.item()) + (out * g).abs().sum().item()
    return NOISE * EPS * scale / STEP


def gradient_check(model, loss_fn, X, y, max_entries: int = 64, seed: int = 0) -> list[dict]:
    """One row per parameter: entries checked, the largest relative error, and whether it passes.

    Parameters with more than `max_entries` entries are checked on a seeded random sample of them. Relative
    errors are taken against max(|autograd|, |numeric|, floor), with floor = the float64 noise of the
    difference quotient / TOLERANCE, so an entry at the noise level reads as TOLERANCE at most.
    """
    import torch

    model, X, y = float64_copy(model, X, y)
    params = dict(model.named_parameters())
    grads = torch.autograd.grad(loss_fn(model(X), y), list(params.values()), materialize_grads=True)
    floor = noise_floor(model, loss_fn, X, y) / TOLERANCE
    pick = torch.Generator().manual_seed(seed)
    rows = []
    with torch.no_grad():
        for (name, p), grad in zip(params.items(), grads):
            flat, analytic = p.view(-1), grad.reshape(-1).tolist()
            n = flat.numel()
            entries = range(n) if n <= max_entries else torch.randperm(n, generator=pick)[:max_entries].tolist()
            worst, worst_at = 0.0, None
            for i in entries:
                numeric = _central_difference(model, loss_fn, X, y, flat, i)
                a = analytic[i]
                error = abs(a - numeric) / max(abs(a), abs(numeric), floor)
                if not error <= worst:  # nan counts as the worst
                    worst, worst_at = error, (i, a, numeric)
            rows.append({"parameter": name, "shape": list(p.shape), "checked": len(entries), "entries": n,
                         "max_rel_error": worst, "passed": worst <= TOLERANCE,
                         **({"worst": {"index": worst_at[0], "autograd": worst_at[1], "numeric": worst_at[2]}}
                            if worst_at else {})})
    return rows


def _central_difference(model, loss_fn, X, y, flat, i: int) -> float:
    """(L(θ + h·e_i) − L(θ − h·e_i)) / 2h, restoring θ_i exactly afterwards."""
    original = flat[i].item()
    flat[i] = original + STEP
    plus = loss_fn(model(X), y).item()
    flat[i] = original - STEP
    minus = loss_fn(model(X), y).item()
    flat[i] = original
    return (plus - minus) / (2 * STEP)


def accumulation(model, loss_fn, X, y, n_calls: int, parameter: str | None = None) -> tuple[str, list[dict]]:
    """A parameter's gradient norm after 1..n_calls backward() calls without zeroing, after zero_(), and after one more.

    Returns (parameter name, rows of {"event": "backward" | "zero_grad", "calls": backward calls since zeroing,
    "grad_norm"}) in float64, so the k-th norm is k times the first.
    """
    model, X, y = float64_copy(model, X, y)
    params = dict(model.named_parameters())
    name = parameter or next(iter(params))
    if name not in params:
        raise ConfigError(f"--param: the model has no parameter '{name}'{did_you_mean(name, params)}; "
                          f"its parameters are: {', '.join(params)}")
    p, rows = params[name], []
    for calls in range(1, n_calls + 1):
        loss_fn(model(X), y).backward()  # gradients add up in p.grad
        rows.append({"event": "backward", "calls": calls, "grad_norm": p.grad.norm().item()})
    p.grad.zero_()
    rows.append({"event": "zero_grad", "calls": 0, "grad_norm": p.grad.norm().item()})
    loss_fn(model(X), y).backward()
    rows.append({"event": "backward", "calls": 1, "grad_norm": p.grad.norm().item()})
    return name, rows
