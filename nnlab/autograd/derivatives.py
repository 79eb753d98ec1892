"""Value, gradient, Hessian and higher derivatives of an expression, by torch.autograd in float64."""

import ast
import math
from dataclasses import dataclass, field

from nnlab.autograd.expr import Expr, check_variables, evaluate, vector_sizes
from nnlab.errors import ConfigError, did_you_mean

MAX_ORDER = 10
# Each order differentiates the graph of the one before, and that graph grows by a factor of ~4 per order for
# composed functions (measured: 77 nodes at order 2 to 179,204 at order 8 for tanh(tanh(tanh(x*sin(x))))/sigmoid(x)).
# An order is only taken from a graph below this size, which bounds the time of the last one (~0.3 s here).
MAX_GRAPH_NODES = 20_000
# Every node of a graph may hold a tensor as large as the largest vector: nodes × values is bounded too
# (20 million float64 values, 160 MB), so `m*m*m*...` on linspace(0,1,100000) cannot exhaust memory.
MAX_VALUES = 20_000_000
MAX_HESSIAN = 400  # variable elements a Hessian spans: one backward pass per row


@dataclass
class Derivatives:
    """Plain numbers (a float, or a list for a vector variable); what the report and --json read."""

    value: float
    gradient: dict[str, float | list]
    hessian: list[list[float]] | None = None
    variable: str | None = None  # the one --order differentiates
    orders: list = field(default_factory=list)  # orders[k - 1]: the k-th derivative in `variable`

    def to_dict(self) -> dict:
        """JSON-ready: non-finite numbers become null (JSON has no NaN or infinity)."""
        out = {"value": self.value, "gradient": self.gradient}
        if self.hessian is not None:
            out["hessian"] = self.hessian
        if self.variable is not None:
            out["derivatives"] = {"variable": self.variable, "orders": {str(k): d for k, d in
                                                                        enumerate(self.orders, start=1)}}
        return _finite_or_null(out)


@dataclass
class Bound:
    """The expression evaluated on tensors: its output and the inputs it was differentiated by."""

    output: object  # 0-d float64 tensor
    inputs: dict  # name -> leaf tensor (requires_grad for the --wrt variables)
    wrt: list[str]


def bind(expr: Expr, values: dict[str, Expr], wrt: list[str] | None = None) -> Bound:
    """Evaluate the values and the expression; `wrt` (default: every variable given) get requires_grad."""
    check_variables(expr, values)
    wrt = list(values) if wrt is None else wrt
    for name in wrt:
        if name not in values:
            raise ConfigError(f"--wrt: no variable '{name}'{did_you_mean(name, values)}; "
                              f"the variables are: {', '.join(values) or 'none'}")
    if not wrt and values:
        raise ConfigError("--wrt: name at least one variable, e.g. --wrt x,y")
    wrt = list(dict.fromkeys(wrt))
    inputs = {name: evaluate(value, {}).detach().requires_grad_(name in wrt) for name, value in values.items()}
    largest = max([t.numel() for t in inputs.values()] + vector_sizes(expr), default=1)
    nodes = sum(1 for _ in ast.walk(expr.tree))
    if nodes * largest > MAX_VALUES:
        raise ConfigError(f"expression: {nodes} syntax nodes on vectors of {largest:,} values may hold "
                          f"{nodes * largest:,} numbers; the limit is {MAX_VALUES:,}: use shorter vectors")
    output = evaluate(expr, inputs)
    if output.numel() != 1:
        raise ConfigError(f"expression: its value has {output.numel()} elements (shape {tuple(output.shape)}); "
                          f"a gradient needs one number: wrap it in sum(...) or mean(...)")
    return Bound(output if output.dim() == 0 else output.reshape(()), inputs, wrt)


def differentiate(bound: Bound, hessian: bool = False, order: int | None = None) -> Derivatives:
    """The value, the gradient by every --wrt variable, and on request the Hessian or derivatives up to `order`."""
    import torch

    leaves = [bound.inputs[name] for name in bound.wrt]
    if order is not None:
        if not 1 <= order <= MAX_ORDER:
            raise ConfigError(f"--order: {order} is out of range; use 1 to {MAX_ORDER}")
        if len(leaves) != 1:
            raise ConfigError(f"--order: derivatives of higher order are for a single variable; "
                              f"add --wrt NAME (one of {', '.join(bound.wrt)})")
    size = sum(leaf.numel() for leaf in leaves)
    if hessian and size > MAX_HESSIAN:
        raise ConfigError(f"--hessian: the variables hold {size} values; a Hessian is limited to {MAX_HESSIAN} "
                          "(use --wrt to pick fewer)")
    keep_graph = hessian or (order or 1) > 1
    grads = _grad(bound.output, leaves, create_graph=keep_graph)
    result = Derivatives(bound.output.item(), {name: _plain(g) for name, g in zip(bound.wrt, grads)})
    if hessian:
        flat = torch.cat([g.reshape(-1) for g in grads] or [torch.zeros(0, dtype=torch.float64)])
        rows = [torch.cat([h.reshape(-1) for h in _grad(flat[i], leaves, create_graph=False)]) for i in range(size)]
        result.hessian = [row.tolist() for row in rows]
    if order is not None:
        result.variable = bound.wrt[0]
        derivative = grads[0]
        result.orders.append(_plain(derivative))
        for k in range(2, order + 1):
            size = graph_size(derivative.grad_fn)
            if size > MAX_GRAPH_NODES or size * leaves[0].numel() > MAX_VALUES:
                raise ConfigError(f"--order: the derivative of order {k - 1} already has a graph of {size:,} nodes "
                                  f"(the limits are {MAX_GRAPH_NODES:,} nodes, {MAX_VALUES:,} nodes × values); "
                                  f"order {k} would take too long: use --order {k - 1}")
            # The notebooks' way: differentiate the sum of the previous derivative. For a scalar variable this
            # is the k-th derivative; for a vector m and f = sum(g(m)) it is g^(k)(m) element by element.
            (derivative,) = _grad(derivative.sum(), [leaves[0]], create_graph=True)
            result.orders.append(_plain(derivative))
    return result


def _grad(output, leaves: list, create_graph: bool) -> list:
    """d output / d leaf for each leaf; zeros where the output does not depend on a leaf."""
    import torch

    if not output.requires_grad or not leaves:
        return [torch.zeros_like(leaf) for leaf in leaves]
    return list(torch.autograd.grad(output, leaves, create_graph=create_graph, retain_graph=True,
                                    materialize_grads=True))


def graph_size(grad_fn) -> int:
    """Distinct nodes in the backward graph below grad_fn (0 for a tensor without one)."""
    seen, stack = set(), [grad_fn]
    while stack:
        fn = stack.pop()
        if fn is not None and id(fn) not in seen:
            seen.add(id(fn))
            stack.extend(next_fn for next_fn, _ in fn.next_functions)
    return len(seen)


def _plain(tensor):
    return tensor.item() if tensor.dim() == 0 else tensor.tolist()


def _finite_or_null(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_null(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_null(v) for v in value]
    return value
