"""Rich renderables for `nnlab grad` and `nnlab inspect`. Nothing here prints; cli owns the consoles."""

from rich.console import Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from nnlab.autograd.graph import Node

SHOWN_VALUES = 6  # a vector longer than this shows its first and last three values
MAX_HESSIAN_SHOWN = 12  # rows and columns of a Hessian printed as a table


def number(value: float) -> str:
    """Exact and short: whole numbers without '.0', others as the shortest text that reads back the same float."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if value == int(value) and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def values(value) -> str:
    """A number, or a vector as [a, b, c] (long ones: first three, …, last three, and the count)."""
    if not isinstance(value, list):
        return number(value)
    if len(value) <= SHOWN_VALUES:
        return "[" + ", ".join(map(number, value)) + "]"
    half = SHOWN_VALUES // 2
    shown = [*map(number, value[:half]), "…", *map(number, value[-half:])]
    return "[" + ", ".join(shown) + f"]  ({len(value)} values; --json prints all)"


def tree(node: Node, title: str | None = None) -> Tree:
    """The backward graph: grad_fn names, AccumulateGrad leaves with their variable or parameter name."""
    root = Tree(Text(title, style="bold") if title else _label(node), guide_style="dim")
    stack = [(root, node)] if title is None else [(root.add(_label(node)), node)]
    while stack:  # iterative: deep chains do not recurse
        branch, current = stack.pop()
        for child in current.children:
            stack.append((branch.add(_label(child)), child))
    return root


def _label(node: Node) -> Text:
    if node.note is not None and node.name == "…":
        return Text(f"… {node.note}", style="italic dim")
    text = Text(node.name)
    if node.leaf is not None:
        text.append("  " + node.leaf, style="bold cyan")
    if node.seen:
        text.append("  (shown above)", style="dim")
    if node.note is not None:
        text.append(f"  ({node.note})", style="dim")
    return text


# ---------------------------------------------------------------- nnlab grad


def grad_report(expression: str, assignments: list[str], result, graph: Node | None) -> Group:
    """Value, gradient, and on request the Hessian, the higher derivatives and the backward graph."""
    parts = [Text.assemble(("f = ", "dim"), expression, ("   at ", "dim"), ", ".join(assignments) or "(no variables)"),
             Text.assemble(("value  ", "bold"), values(result.value))]
    if not result.gradient:
        return Group(*parts)
    parts.append(Text("gradient", style="bold"))
    width = max((len(name) for name in result.gradient), default=0)
    parts += [Text.assemble(("  ∂f/∂" + name.ljust(width), "cyan"), "  ", values(value))
              for name, value in result.gradient.items()]
    if result.hessian is not None:
        parts.append(_hessian(result))
    if result.variable is not None:
        parts.append(Text(f"derivatives in {result.variable}", style="bold"))
        parts += [Text.assemble((f"  order {k:>2}", "cyan"), "  ", values(value))
                  for k, value in enumerate(result.orders, start=1)]
    if graph is not None:
        parts.append(tree(graph, title="backward graph"))
    return Group(*parts)


def _hessian(result):
    labels = _element_labels(result.gradient)
    if len(labels) > MAX_HESSIAN_SHOWN:
        return Text.assemble(("hessian", "bold"), f"  {len(labels)}×{len(labels)} (--json prints it)")
    table = Table(box=None, padding=(0, 0, 0, 2))
    table.add_column("", style="cyan")
    for label in labels:
        table.add_column(label, justify="right", style="")
    for label, row in zip(labels, result.hessian):
        table.add_row(label, *map(number, row))
    return Group(Text("hessian", style="bold"), table)


def _element_labels(gradient: dict) -> list[str]:
    """x, y for scalars; m[0], m[1], ... for the elements of a vector variable."""
    return [label for name, value in gradient.items()
            for label in ([f"{name}[{i}]" for i in range(len(value))] if isinstance(value, list) else [name])]


# ---------------------------------------------------------------- nnlab inspect


def layers_table(title: str, inspection) -> Table:
    """Each layer, its output shape for the configured input, its parameters, and the total."""
    table = Table(title=title, title_justify="left")
    for column, justify in (("layer", "left"), ("module", "left"), ("output shape", "right"),
                            ("parameters", "right")):
        table.add_column(column, justify=justify)
    table.add_row("input", "", _shape(inspection.input_shape), "", style="dim")
    for row in inspection.layers:
        table.add_row(row["layer"], row["module"], _shape(row["output_shape"]), f"{row['parameters']:,}")
    table.add_section()
    table.add_row("total", "", "", f"{inspection.total_parameters:,}", style="bold")
    return table


def _shape(shape) -> str:
    return "?" if shape is None else "(" + ", ".join(map(str, shape)) + ")"


def gradcheck_table(rows: list[dict], tolerance: float) -> Table:
    """Largest relative error of autograd against central differences, per parameter, with a pass mark."""
    table = Table(title="gradient check: autograd vs central differences (float64)", title_justify="left")
    for column, justify in (("parameter", "left"), ("shape", "right"), ("entries checked", "right"),
                            ("max rel. error", "right"), ("", "left")):
        table.add_column(column, justify=justify)
    for row in rows:
        checked = f"{row['checked']:,}" + ("" if row["checked"] == row["entries"] else f" of {row['entries']:,}")
        mark = Text("pass", style="green") if row["passed"] else Text("FAIL", style="bold red")
        table.add_row(row["parameter"], _shape(row["shape"]), checked, f"{row['max_rel_error']:.2e}", mark)
    table.caption = f"pass: max relative error ≤ {tolerance:g}"
    return table


def accumulation_table(parameter: str, rows: list[dict]) -> Table:
    """A parameter's gradient norm as backward() calls add up, then after zeroing."""
    table = Table(title=f"gradient accumulation: ‖{parameter}.grad‖", title_justify="left")
    for column, justify in (("after", "left"), ("grad norm", "right"), ("× first", "right")):
        table.add_column(column, justify=justify)
    first = rows[0]["grad_norm"]
    for row in rows:
        if row["event"] == "zero_grad":
            table.add_section()
            label = "grad.zero_()"
        else:
            label = f"backward() × {row['calls']}" + ("  (after zeroing)" if row is rows[-1] else "")
        ratio = f"{row['grad_norm'] / first:.6g}" if first else "-"
        table.add_row(label, f"{row['grad_norm']:.6g}", ratio)
    return table


def inspect_report(cfg, inspection, tolerance: float) -> Group:
    """The whole `nnlab inspect` page."""
    parts = [layers_table(f"{cfg.name}: {cfg.model.kind} model, loss {cfg.loss}", inspection),
             tree(inspection.graph, title=f"backward graph of the {cfg.loss} loss on {inspection.batch_rows} rows"),
             gradcheck_table(inspection.gradcheck, tolerance)]
    if inspection.accumulate:
        parts.append(accumulation_table(*inspection.accumulate))
    verdict = Text("gradient check passed", style="bold green") if inspection.passed else \
        Text("gradient check FAILED: " + ", ".join(r["parameter"] for r in inspection.gradcheck
                                                    if not r["passed"]), style="bold red")
    parts.append(verdict)
    return Group(*parts)
