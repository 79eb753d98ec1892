"""`nnlab inspect`: a config's model layer by layer, its loss's backward graph, a gradient check, accumulation."""

import re
from dataclasses import dataclass

from nnlab.autograd import gradcheck
from nnlab.autograd.graph import Node, backward_tree, collapse
from nnlab.config import RunConfig
from nnlab.errors import ConfigError

MAX_ACCUMULATE = 1000


@dataclass
class Inspection:
    """Plain data for the report and --json, plus the backward graph as a tree of Nodes."""

    input_shape: list[int]
    layers: list[dict]  # {"layer", "module", "output_shape", "parameters"}
    total_parameters: int
    batch_rows: int  # rows of the batch the graph, the check and the accumulation use
    graph: Node
    gradcheck: list[dict]
    accumulate: tuple[str, list[dict]] | None = None

    @property
    def passed(self) -> bool:
        return all(row["passed"] for row in self.gradcheck)

    def to_dict(self) -> dict:
        out = {"input_shape": self.input_shape, "layers": self.layers, "total_parameters": self.total_parameters,
               "batch_rows": self.batch_rows, "graph": self.graph.to_dict(),
               "gradcheck": {"passed": self.passed, "tolerance": gradcheck.TOLERANCE, "parameters": self.gradcheck}}
        if self.accumulate:
            out["accumulate"] = {"parameter": self.accumulate[0], "rows": self.accumulate[1]}
        return out


def inspect_model(cfg: RunConfig, splits, batch_rows: int = 8, max_entries: int = 64,
                  accumulate: int | None = None, parameter: str | None = None) -> Inspection:
    """Build the config's model as train would (same seed), then look at it on the first rows of the train split."""
    from nnlab.training.setup import prepare

    if batch_rows < 1 or max_entries < 1:
        raise ConfigError("--batch and --entries must be at least 1")
    if accumulate is not None and not 1 <= accumulate <= MAX_ACCUMULATE:
        raise ConfigError(f"--accumulate: {accumulate} is out of range; use 1 to {MAX_ACCUMULATE}")
    setup = prepare(cfg, splits)  # device, threads, seed and model exactly as `nnlab train` has them
    model, loss_fn = setup.model, setup.loss_fn
    X, y = setup.tensors[:2]

    configured = min(cfg.train.batch_size or len(X), len(X))
    layers = layer_rows(model, X[:configured])
    xb, yb = X[:batch_rows], y[:batch_rows]
    names = {id(p): name for name, p in model.named_parameters()}
    graph = collapse(backward_tree(loss_fn(model(xb), yb).grad_fn, names))
    check = gradcheck.gradient_check(model, loss_fn, xb, yb, max_entries=max_entries, seed=cfg.seed)
    accumulated = gradcheck.accumulation(model, loss_fn, xb, yb, accumulate, parameter) if accumulate else None
    return Inspection([configured, splits.n_features], layers, sum(p.numel() for p in model.parameters()),
                      len(xb), graph, check, accumulated)


def layer_rows(model, X) -> list[dict]:
    """Each leaf module (or the model itself when it has none): its output shape on X and its parameter count."""
    import torch

    modules = [(name, m) for name, m in model.named_modules() if name and not list(m.children())] or [("(model)", model)]
    shapes, hooks = {}, []
    for name, module in modules:
        hooks.append(module.register_forward_hook(
            lambda m, args, out, name=name: shapes.__setitem__(name, list(out.shape))))
    try:
        with torch.no_grad():
            model(X)
    finally:
        for hook in hooks:
            hook.remove()
    return [{"layer": name, "module": _short(module), "output_shape": shapes.get(name),
             "parameters": sum(p.numel() for p in module.parameters())} for name, module in modules]


def _short(module) -> str:
    """Linear(13, 5) rather than Linear(in_features=13, out_features=5, bias=True)."""
    extra = re.sub(r"\w+_features=", "", module.extra_repr()).replace(", bias=True", "")
    text = f"{type(module).__name__}({extra})"
    return text if len(text) < 50 and "\n" not in text else type(module).__name__
