"""Where a run executes: the device, the intra-op thread count, and the seeds."""

import os
import random

from nnlab.config.schema import DEVICE_HELP, is_device_name
from nnlab.errors import ConfigError
from nnlab.limits import fits, free_bytes, size_text

# Below this many multiply-adds per step, extra intra-op threads cost more than they gain
# (measured: one wine step ~1 ms with 1 thread, ~10 ms with 2 when the other core is busy).
_MACS_PER_THREAD = 5_000_000


def resolve_device(name: str, where: str = "device"):
    """torch.device for a config's `device` (or the option `where` names); a name that is not a device, or CUDA
    without one, is a config error."""
    if not is_device_name(name):
        shown = "''" if name in (None, "") else f"'{name}'"
        raise ConfigError(f"{where}: {shown} is not a device; use {DEVICE_HELP}")
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"{where}: '{name}' asked for, but torch sees no CUDA device "
                              f"(torch {torch.__version__}); use device: cpu or auto")
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ConfigError(f"{where}: '{name}' asked for, but only {torch.cuda.device_count()} "
                              "CUDA device(s) are visible")
    return torch.device(name)


def check_memory(cfg, n_features: int, n_outputs: int, device=None, copies: int = 1) -> int:
    """The model's parameter count, after refusing (ConfigError, naming the key) a model too big to train here:
    its weights, gradients, optimizer state and a working copy (`copies` models, stacked) beside the memory the
    device has free (`device` None: this machine's memory, without importing torch, for `nnlab check`). Counted
    by the spec's arithmetic, so nothing is allocated: an allocation failure is no message."""
    key = "model.hidden" if cfg.model.kind == "mlp" else "model"
    shown = f"{key} {getattr(cfg.model, 'hidden', cfg.model.kind)}"
    try:
        n_params = cfg.model.n_parameters(n_features, n_outputs)
    except (RuntimeError, OverflowError, ValueError, TypeError) as e:  # a kind counted by building it (meta device)
        reason = str(e).splitlines()[0][:100] if str(e) else type(e).__name__
        raise ConfigError(f"{shown}: cannot build this model ({reason}); use smaller sizes") from None
    states = {"adam": 2, "adamw": 2}.get(cfg.optimizer.name, 1 if getattr(cfg.optimizer, "momentum", 0) else 0)
    need = n_params * 4 * (3 + states) * copies  # float32 weights, gradients, a working copy, the optimizer's buffers
    if device is not None and device.type == "cuda":
        import torch

        free = torch.cuda.mem_get_info(device)[0]
    else:
        free = free_bytes()
    if not fits(need, free):
        where = device or "this machine"
        raise ConfigError(f"{shown}: {n_params * copies:,} parameters need about {size_text(need)} to train (weights, "
                          f"gradients, optimizer state), more than the {size_text(free)} free on {where}; use a "
                          "smaller model")
    return n_params


def choose_threads(requested: int | None, n_params: int, batch_rows: int) -> int:
    """The config's `threads`, or 1 for tiny models and more only when a step is large enough to gain."""
    if requested is not None:
        return requested
    macs = n_params * batch_rows
    return max(1, min(os.cpu_count() or 1, 4, macs // _MACS_PER_THREAD))


def threads_for(cfg, model, n_train_rows: int) -> int:
    """choose_threads() for a config's model: its parameter count and the rows of one step."""
    n_params = sum(p.numel() for p in model.parameters())
    return choose_threads(cfg.threads, n_params, cfg.train.batch_size or n_train_rows)


def set_threads(n: int, where: str = "threads") -> None:
    """torch's intra-op thread count; a count that is not 1..256 (a damaged checkpoint or receipt) is a config error."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 256:
        raise ConfigError(f"{where}: {n!r} is not a thread count; use 1 to 256")
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (and CUDA through torch) for a reproducible run."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
