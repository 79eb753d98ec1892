"""The backward graph as plain data: grad_fn nodes and their next_functions, leaves named, repeats collapsed."""

from dataclasses import dataclass, field

MAX_NODES = 2000  # beyond this the tree is cut (a note says how much was left out)


@dataclass
class Node:
    """One grad_fn. `leaf` names the tensor an AccumulateGrad feeds; `seen` marks a node already shown above."""

    name: str
    leaf: str | None = None
    children: list["Node"] = field(default_factory=list)
    seen: bool = False
    note: str | None = None  # a collapsed run of repeats, or a cut

    def to_dict(self) -> dict:
        """Every node has the same keys: leaf and note null where they say nothing, a leaf's children []."""
        return {"name": self.name, "leaf": self.leaf, "children": [child.to_dict() for child in self.children],
                "seen": self.seen, "note": self.note}


def backward_tree(grad_fn, names: dict[int, str]) -> Node:
    """The graph below `grad_fn` as a tree; `names` maps id(leaf tensor) to its name (a variable, a parameter).

    A node reached a second time (shared by two branches) is shown once; later it appears with seen=True and
    no children, so a graph with sharing cannot blow up into an exponential tree.
    """
    shown: set[int] = set()
    count = [0]

    def visit(fn) -> Node:
        count[0] += 1
        name = type(fn).__name__
        variable = getattr(fn, "variable", None)
        if variable is not None:
            return Node(name, leaf=names.get(id(variable), f"tensor of shape {tuple(variable.shape)}"))
        nexts = [f for f, _ in fn.next_functions if f is not None]
        if id(fn) in shown and nexts:
            return Node(name, seen=True)
        shown.add(id(fn))
        if count[0] > MAX_NODES:
            return Node(name, note=f"graph cut at {MAX_NODES} nodes")
        return Node(name, children=[visit(f) for f in nexts])

    return visit(grad_fn)


# ---------------------------------------------------------------- collapsing repeated layers


def collapse(node: Node) -> Node:
    """Replace consecutive repeats along the tree's main chain by one note (an MLP's layers: Addmm -> Relu, ...)."""
    return _collapse(node, _depths(node))


def _collapse(node: Node, depths: dict[int, int]) -> Node:
    steps = _spine(node, depths)
    signatures = [_step_signature(step, main) for step, main in steps]
    kept: list[tuple[Node, Node | None]] = []  # (step, the note that replaces its main child)
    i = 0
    while i < len(steps):
        period, repeats = _best_repeat(signatures, i)
        if repeats < 2:
            kept.append((steps[i][0], None))
            i += 1
            continue
        block = steps[i:i + period]
        skipped = steps[i + period:i + period * repeats]
        leaves = [leaf for step, main in skipped for leaf in _side_leaves(step, main)]
        chain = " → ".join(step.name for step, _ in block)
        note = Node("…", note=f"{chain} repeated {repeats - 1} more time{'s' * (repeats > 2)}"
                               + (f" ({', '.join(leaves)})" if leaves else ""))
        kept.extend((step, None) for step, _ in block[:-1])
        kept.append((block[-1][0], note))
        i += period * repeats
    return _rebuild(steps, kept, depths)


def _spine(node: Node, depths: dict[int, int]) -> list[tuple[Node, Node | None]]:
    """The main chain: from each node, follow the child with the deepest subtree. [(node, main child)]."""
    steps = []
    while node is not None:
        main = max((c for c in node.children if c.children), key=lambda c: depths[id(c)], default=None)
        steps.append((node, main))
        node = main
    return steps


def _depths(root: Node) -> dict[int, int]:
    """id(node) -> height of its subtree, computed once bottom-up (no recursion on deep chains)."""
    order, stack = [], [root]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node.children)
    depths: dict[int, int] = {}
    for node in reversed(order):
        depths[id(node)] = 1 + max((depths[id(c)] for c in node.children), default=0)
    return depths


def _shape(node: Node) -> tuple:
    """A subtree's structure without leaf names: two layers of the same kind look alike."""
    return node.name, node.seen, tuple(_shape(child) for child in node.children)


def _step_signature(step: Node, main: Node | None) -> tuple:
    return step.name, tuple(_shape(child) for child in step.children if child is not main)


def _best_repeat(signatures: list, i: int) -> tuple[int, int]:
    """(period, repeats) of the longest run of a repeated block starting at i; repeats 1 when none."""
    best = (1, 1)
    for period in range(1, (len(signatures) - i) // 2 + 1):
        block = signatures[i:i + period]
        repeats = 1
        while signatures[i + repeats * period:i + (repeats + 1) * period] == block:
            repeats += 1
        if repeats >= 2 and period * repeats > best[0] * best[1]:
            best = (period, repeats)
    return best


def _side_leaves(step: Node, main: Node | None) -> list[str]:
    out, stack = [], [child for child in step.children if child is not main][::-1]
    while stack:
        node = stack.pop()
        if node.leaf is not None:
            out.append(node.leaf)
        stack.extend(node.children[::-1])
    return out


def _rebuild(steps, kept, depths) -> Node:
    """New nodes for the kept chain steps, each pointing at the next kept step (or at a note, then the next)."""
    mains = dict((id(step), main) for step, main in steps)
    new_nodes = []
    for step, note in kept:
        main = mains[id(step)]
        sides = [_collapse(child, depths) if child is not main else child for child in step.children]
        new_nodes.append((Node(step.name, step.leaf, sides, step.seen, step.note), main, note))
    for k, (new, main, note) in enumerate(new_nodes):
        nxt = new_nodes[k + 1][0] if k + 1 < len(new_nodes) else None
        if main is None:
            continue
        if note is not None:
            note.children = [nxt] if nxt is not None else []
            nxt = note
        new.children = [nxt if child is main else child for child in new.children if child is not main or nxt]
    return new_nodes[0][0]
