"""Backward graphs as trees: node names and leaves from torch's grad_fn, repeats collapsed."""

import io

import torch
from rich.console import Console

from helpers import graph_node
from nnlab.autograd.graph import Node, backward_tree, collapse
from nnlab.autograd.report import tree
from nnlab.models import REGISTRY


def render(node: Node) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(tree(node))
    return console.file.getvalue()


def test_expression_graph_follows_next_functions_with_named_leaves():
    x, y, c = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (2.0, 3.0, 1.0))
    f = 2 * x ** 3 + 3 * y ** 2 + c
    node = backward_tree(f.grad_fn, {id(x): "x", id(y): "y", id(c): "c"})
    assert node.to_dict() == graph_node("AddBackward0", [
        graph_node("AddBackward0", [
            graph_node("MulBackward0", [graph_node("PowBackward0", [graph_node("AccumulateGrad", leaf="x")])]),
            graph_node("MulBackward0", [graph_node("PowBackward0", [graph_node("AccumulateGrad", leaf="y")])])]),
        graph_node("AccumulateGrad", leaf="c")])
    assert f.grad_fn.next_functions[1][0].variable is c  # what the names are read from


def test_every_node_of_the_json_graph_has_the_same_keys():
    x = torch.tensor(1.0, requires_grad=True)
    e = torch.exp(x)
    nodes, stack = [], [collapse(backward_tree((e * e + e).grad_fn, {id(x): "x"})).to_dict()]
    while stack:
        nodes.append(stack.pop())
        stack.extend(nodes[-1]["children"])
    assert {tuple(n) for n in nodes} == {("name", "leaf", "children", "seen", "note")}
    assert any(n["seen"] for n in nodes) and any(n["leaf"] == "x" and n["children"] == [] for n in nodes)


def test_shared_nodes_are_shown_once():
    x = torch.tensor(1.0, requires_grad=True)
    e = torch.exp(x)
    node = backward_tree((e * e + e).grad_fn, {id(x): "x"})
    text = render(node)
    assert text.count("ExpBackward0") == 3 and text.count("(shown above)") == 2 and text.count("AccumulateGrad  x") == 1


def test_mlp_graph_collapses_repeated_layers_and_names_parameters():
    model = REGISTRY["mlp"](hidden=[5, 5, 5, 5]).build(13, 3)
    loss = torch.nn.functional.cross_entropy(model(torch.randn(4, 13)), torch.tensor([0, 1, 2, 0]))
    names = {id(p): name for name, p in model.named_parameters()}
    full = backward_tree(loss.grad_fn, names)
    text = render(collapse(full))
    assert text.count("AddmmBackward0") == 3  # the first repeat, the note, the input layer
    assert "AddmmBackward0 → ReluBackward0 repeated 3 more times (6.bias, 6.weight, 4.bias, 4.weight, " \
           "2.bias, 2.weight)" in text
    for name in ("8.bias", "8.weight", "0.bias", "0.weight"):
        assert f"AccumulateGrad  {name}" in text
    assert render(full).count("AddmmBackward0") == 5  # nothing lost before collapsing


def test_a_chain_of_one_node_collapses_to_a_count():
    x = torch.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(10):
        y = -y
    text = render(collapse(backward_tree(y.grad_fn, {id(x): "x"})))
    assert "NegBackward0 repeated 8 more times" in text and text.count("NegBackward0") == 3


def test_unnamed_leaves_show_their_shape():
    w = torch.ones(2, 3, requires_grad=True)
    node = backward_tree((w * 2).sum().grad_fn, {})
    assert "tensor of shape (2, 3)" in render(node)
