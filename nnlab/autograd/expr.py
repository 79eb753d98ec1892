"""The expression language of `nnlab grad`: Python syntax read by `ast`, checked against a whitelist, run in torch.

Nothing is ever passed to eval or exec. `parse` checks the syntax tree without torch; `evaluate` walks the
checked tree and applies the matching torch operation to each node, so only whitelisted operations can run.
"""

import ast
import keyword
import math
import operator
import unicodedata
import warnings
from dataclasses import dataclass

from nnlab.errors import ConfigError, did_you_mean

MAX_CHARS = 1000  # expression or value text
MAX_DEPTH = 200  # nesting of the syntax tree; a chain a+b+c+... nests one level per operator. The walks below
# recurse about twice per level: 200 stays well inside Python's recursion limit (1000).
MAX_EXPONENT = 1000  # |constant exponent|: beyond it x**e overflows float64 for any |x| > 2
MAX_ELEMENTS = 100_000  # linspace counts and list lengths

# name -> number of arguments
FUNCTIONS = {"exp": 1, "log": 1, "sin": 1, "cos": 1, "tanh": 1, "sigmoid": 1, "relu": 1, "sqrt": 1,
             "abs": 1, "sum": 1, "mean": 1, "linspace": 3}
_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_APPLY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "**": operator.pow}
_FORBIDDEN = {  # node type -> what the user wrote, for the message
    "Attribute": "attribute access", "Subscript": "indexing", "Slice": "a slice", "Lambda": "a lambda",
    "ListComp": "a comprehension", "SetComp": "a comprehension", "DictComp": "a comprehension",
    "GeneratorExp": "a generator expression", "Compare": "a comparison", "BoolOp": "and/or",
    "IfExp": "if/else", "Dict": "a dict", "Set": "a set", "Tuple": "a tuple (a comma outside a call)",
    "JoinedStr": "an f-string", "NamedExpr": ":=", "Starred": "a starred argument", "Await": "await",
    "Yield": "yield", "YieldFrom": "yield",
}
ALLOWED = "numbers, variables, + - * / **, unary minus, parentheses, [lists of numbers] and " + \
          ", ".join(f"{f}()" for f in FUNCTIONS)


@dataclass(frozen=True)
class Expr:
    """A checked expression: its text, its syntax tree, and the variables it reads (in order of appearance)."""

    text: str
    tree: ast.Expression
    variables: tuple[str, ...]
    where: str = "expression"
    shown: str = ""  # the argument errors quote (a value's whole `m=...`)
    shift: int = 0  # where the parsed text starts in `shown`

    def pointer(self) -> "_Pointer":
        return _Pointer(self.where, self.shown, self.shift)


def parse(text: str, where: str = "expression", shown: str | None = None, shift: int = 0) -> Expr:
    """Check `text` against the whitelist; every problem is a ConfigError that points at the offending part.

    `shown` is the text the caret is drawn under (default `text`), `shift` where `text` starts in it.
    """
    at = _Pointer(where, shown if shown is not None else text, shift)
    if "\n" in text or "\r" in text:
        raise ConfigError(f"{where}: write the expression on one line")
    if len(text) > MAX_CHARS:
        raise ConfigError(f"{where}: {len(text):,} characters; the limit is {MAX_CHARS:,}")
    if not text.strip():
        example = "a number, [1,2,3] or linspace(-10,10,100)" if shown else "an expression such as 2*x**3 + 3*y**2"
        raise ConfigError(f"{where}: empty; write {example}")
    try:
        with warnings.catch_warnings():  # "invalid decimal literal" and friends: our error says it better
            warnings.simplefilter("ignore")
            tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        hint = "; use ** for powers" if "^" in text else ""
        col = (e.offset or 1) - 1 + (len(text) - len(text.lstrip()))
        raise at.error(f"not a valid expression ({e.msg}){hint}", col) from None
    except (RecursionError, MemoryError):
        raise ConfigError(f"{where}: nested too deeply (the limit is {MAX_DEPTH} levels)") from None
    except ValueError as e:  # null bytes, integers over 4300 digits
        raise ConfigError(f"{where}: {e}") from None
    lead = len(text) - len(text.lstrip())
    at.shift += lead
    _check_depth(tree, at)
    names: list[str] = []
    _check(tree.body, at, names)
    return Expr(text, tree, tuple(dict.fromkeys(names)), where, at.shown, at.shift)


class _Pointer:
    """Builds errors that show the text with a caret under the offending column."""

    def __init__(self, where: str, shown: str, shift: int):
        self.where, self.shown, self.shift = where, shown, shift

    def error(self, message: str, col: int | None = None, node: ast.AST | None = None) -> ConfigError:
        if node is not None:
            col = _char_column(self.shown[self.shift:], node.col_offset)
        if col is None:
            return ConfigError(f"{self.where}: {message}")
        col += self.shift
        return ConfigError(f"{self.where}: {message} (column {col + 1})\n{self.shown}\n{' ' * col}^")


def _char_column(text: str, byte_offset: int) -> int:
    """ast columns count UTF-8 bytes; the caret needs characters."""
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


def _check_depth(tree: ast.AST, at: _Pointer) -> None:
    """Refuse deep trees before anything recursive walks them (iterative, so it cannot overflow itself)."""
    stack = [(tree.body, 0, tree.body)]
    while stack:
        node, depth, located = stack.pop()  # located: the nearest node with a column (Load and operators have none)
        if depth > MAX_DEPTH:
            raise at.error(f"nested too deeply (the limit is {MAX_DEPTH} levels)", node=located)
        located = node if hasattr(node, "col_offset") else located
        stack.extend((child, depth + 1, located) for child in ast.iter_child_nodes(node))


def _check(node: ast.AST, at: _Pointer, names: list[str]) -> None:
    """Accept only whitelisted nodes; collect variable names."""
    kind = type(node).__name__
    if isinstance(node, ast.Constant):
        value = node.value
        if type(value) not in (int, float):
            what = "strings" if isinstance(value, (str, bytes)) else f"{type(value).__name__} values"
            raise at.error(f"{what} are not allowed; numbers only", node=node)
        if not math.isfinite(float(value)):
            raise at.error("number too large for float64", node=node)
    elif isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            raise at.error(f"'{node.id}' is a function; call it, e.g. {node.id}(x)", node=node)
        names.append(node.id)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _OPERATORS:
            hint = "; use ** for powers" if isinstance(node.op, ast.BitXor) else ""
            raise at.error(f"operator {_op_text(node.op)} is not allowed{hint}; allowed: + - * / **",
                           col=_operator_column(node, at))
        _check(node.left, at, names)
        _check(node.right, at, names)
        if isinstance(node.op, ast.Pow) and is_constant(node.right):
            exponent = constant_value(node.right)  # nan: not a plain number (a function of numbers)
            if abs(exponent) > MAX_EXPONENT:
                raise at.error(f"exponent {exponent:g} is too large; constant exponents must be within "
                               f"±{MAX_EXPONENT}", node=node.right)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise at.error(f"operator {_op_text(node.op)} is not allowed; allowed: unary minus", node=node)
        _check(node.operand, at, names)
    elif isinstance(node, ast.Call):
        _check_call(node, at, names)
    elif isinstance(node, ast.List):
        if len(node.elts) > MAX_ELEMENTS:
            raise at.error(f"a list of {len(node.elts):,} numbers; the limit is {MAX_ELEMENTS:,}", node=node)
        if not node.elts:
            raise at.error("an empty list; give at least one number", node=node)
        for element in node.elts:
            _check(element, at, names)
            if not math.isfinite(constant_value(element)):
                raise at.error("list elements must be finite numbers (no variables, functions or lists)",
                               node=element)
    else:
        what = _FORBIDDEN.get(kind, f"a {kind} node")
        if isinstance(node, ast.Attribute):  # point at the dot, not at the start of the object
            at_dot = _char_column(at.shown[at.shift:], node.value.end_col_offset)
            raise at.error(f"{what} (.{node.attr}) is not allowed; allowed: {ALLOWED}", col=at_dot)
        raise at.error(f"{what} is not allowed; allowed: {ALLOWED}", node=node)


def _check_call(node: ast.Call, at: _Pointer, names: list[str]) -> None:
    func = node.func
    if not isinstance(func, ast.Name):
        if type(func).__name__ in _FORBIDDEN:
            _check(func, at, [])  # raises: attribute access, a lambda, ...
        raise at.error(f"only these functions can be called: {', '.join(FUNCTIONS)}", node=func)
    if func.id not in FUNCTIONS:
        raise at.error(f"unknown function '{func.id}'{did_you_mean(func.id, FUNCTIONS)}; "
                       f"functions are: {', '.join(FUNCTIONS)}", node=func)
    if node.keywords:
        raise at.error(f"keyword arguments are not allowed in {func.id}()", node=node.keywords[0].value)
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            raise at.error(f"a starred argument is not allowed in {func.id}()", node=arg)
    n_args = FUNCTIONS[func.id]
    if len(node.args) != n_args:
        usage = "linspace(start, end, steps)" if func.id == "linspace" else f"{func.id}(x)"
        raise at.error(f"{func.id}() takes {n_args} argument{'s' * (n_args > 1)}, got {len(node.args)}: "
                       f"{usage}", node=node)
    for arg in node.args:
        _check(arg, at, names)
    if func.id == "linspace":
        for arg in node.args:
            if not math.isfinite(constant_value(arg)):
                raise at.error("linspace() arguments must be finite numbers (no variables or functions)", node=arg)
        steps = constant_value(node.args[2])
        if steps != int(steps) or not 1 <= steps <= MAX_ELEMENTS:
            raise at.error(f"linspace() steps must be a whole number from 1 to {MAX_ELEMENTS:,}, got {steps:g}",
                           node=node.args[2])


def _op_text(op: ast.AST) -> str:
    return {"FloorDiv": "//", "Mod": "%", "MatMult": "@", "BitXor": "^", "BitAnd": "&", "BitOr": "|",
            "LShift": "<<", "RShift": ">>", "Not": "not", "Invert": "~"}.get(type(op).__name__, type(op).__name__)


def _operator_column(node: ast.BinOp, at: _Pointer) -> int:
    """Column of a binary operator: the first non-space, non-parenthesis character after the left operand."""
    text = at.shown[at.shift:]
    start = _char_column(text, node.left.end_col_offset) if node.left.end_lineno == 1 else 0
    col = start
    while col < len(text) and text[col] in " )":
        col += 1
    return col


def is_constant(node: ast.AST) -> bool:
    """True when a checked subtree reads no variable (names left are function names)."""
    return not any(isinstance(n, ast.Name) and n.id not in FUNCTIONS for n in ast.walk(node))


def vector_sizes(expr: Expr) -> list[int]:
    """Lengths of the lists and linspaces an expression builds."""
    return [len(n.elts) if isinstance(n, ast.List) else int(constant_value(n.args[2]))
            for n in ast.walk(expr.tree)
            if isinstance(n, ast.List) or isinstance(n, ast.Call) and n.func.id == "linspace"]


def constant_value(node: ast.AST) -> float:
    """The float value of a checked constant scalar subtree, folded in float64 (overflow gives inf, never hangs)."""
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.UnaryOp):
        value = constant_value(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _fold(_OPERATORS[type(node.op)], constant_value(node.left), constant_value(node.right))
    return math.nan  # a function or list: not a plain number


def _fold(op: str, a: float, b: float) -> float:
    try:
        result = _APPLY[op](a, b)
        return result if isinstance(result, float) else math.nan  # negative base, fractional power
    except ZeroDivisionError:  # x/0 and 0**-k: what torch gives
        if op == "**":
            return math.inf
        return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a) * math.copysign(1, b)
    except OverflowError:
        return math.inf


# ---------------------------------------------------------------- values of variables


def parse_assignments(items: list[str]) -> dict[str, Expr]:
    """'name=value' arguments -> {name: checked value expression}, in the order given."""
    values: dict[str, Expr] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = unicodedata.normalize("NFKC", name.strip())  # as Python reads identifiers: ｘ is x in the expression
        if not sep:
            raise ConfigError(f"'{item}': expected VAR=VALUE, e.g. x=2, 'm=[1,2,3]' or 'm=linspace(-10,10,100)'")
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ConfigError(f"'{item}': '{name}' is not a variable name (letters, digits and _, not first a digit, "
                              "not a Python keyword)")
        if name in FUNCTIONS:
            raise ConfigError(f"'{item}': '{name}' is a function name; pick another variable name")
        if name in values:
            raise ConfigError(f"'{item}': {name} is given twice")
        value = parse(text, where=f"value of {name}", shown=item, shift=len(item) - len(text))
        if value.variables:
            raise ConfigError(f"'{item}': a value must be numbers, [lists] or linspace(), not other variables "
                              f"({', '.join(value.variables)})")
        values[name] = value
    return values


def check_variables(expr: Expr, values: dict) -> None:
    """Every variable the expression reads has a value."""
    missing = [name for name in expr.variables if name not in values]
    if missing:
        first = missing[0]
        node = next(n for n in ast.walk(expr.tree) if isinstance(n, ast.Name) and n.id == first)
        hint = did_you_mean(first, values)
        raise expr.pointer().error(
            f"no value for {', '.join(missing)}{hint}; add {' '.join(f'{m}=VALUE' for m in missing)}",
            node=node)


# ---------------------------------------------------------------- evaluation in torch


def evaluate(expr: Expr, env: dict):
    """The expression's value as a float64 tensor; `env` maps variable names to tensors."""
    import torch

    result = _eval(expr.tree.body, env, expr.pointer())
    return torch.as_tensor(result, dtype=torch.float64)


def _eval(node: ast.AST, env: dict, at: _Pointer):
    """A torch tensor, or a python float for constant parts (so x**3 records a PowBackward0, as in the notebooks)."""
    import torch

    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, env, at)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.List):
        return torch.tensor([constant_value(e) for e in node.elts], dtype=torch.float64)
    if isinstance(node, ast.BinOp):
        a, b = _eval(node.left, env, at), _eval(node.right, env, at)
        op = _OPERATORS[type(node.op)]
        if isinstance(a, float) and isinstance(b, float):
            return _fold(op, a, b)
        try:
            return _APPLY[op](a, b)
        except RuntimeError as e:
            raise at.error(f"cannot apply {op}: {_shape_text(a)} {op} {_shape_text(b)} ({str(e).splitlines()[0]})",
                           col=_operator_column(node, at)) from None
    name = node.func.id
    args = [_eval(arg, env, at) for arg in node.args]
    if name == "linspace":
        return torch.linspace(args[0], args[1], int(args[2]), dtype=torch.float64)
    x = torch.as_tensor(args[0], dtype=torch.float64)
    return getattr(torch, name)(x)


def _shape_text(value) -> str:
    shape = tuple(getattr(value, "shape", ()))
    return "a number" if not shape else f"{shape[0]} values" if len(shape) == 1 else f"shape {shape}"
