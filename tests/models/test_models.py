"""The contract every registered model kind must meet; a new kind is picked up automatically."""

import pytest
import torch

from nnlab.config import SGDConfig
from nnlab.models import REGISTRY
from nnlab.training.setup import make_loss, make_optimizer


def example(kind: str):
    spec = REGISTRY[kind]()
    n_features = spec.max_features or 4
    classification = "cross_entropy" in spec.losses or "bce" in spec.losses
    loss = spec.default_loss(classification=classification)
    n_outputs = 1 if loss in ("bce", "mse", "sse") else 3
    X = torch.randn(64, n_features)
    if loss == "cross_entropy":
        y = (X[:, 0] > 0).long() + (X[:, -1] > 0.5).long()
    elif loss == "bce":
        y = (X.sum(1, keepdim=True) > 0).float()
    else:
        y = 0.5 * X[:, :1] - 0.2
    return spec, X, y, loss, n_outputs


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_builds_a_fresh_module_with_the_right_output_shape(kind):
    spec, X, _, _, n_outputs = example(kind)
    a, b = spec.build(X.shape[1], n_outputs), spec.build(X.shape[1], n_outputs)
    assert a is not b and all(p.data_ptr() != q.data_ptr() for p, q in zip(a.parameters(), b.parameters()))
    assert a(X).shape == (len(X), n_outputs)
    assert spec.model_dump()["kind"] == kind  # inert, serializable data


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_loss_falls_in_a_few_steps(kind):
    spec, X, y, loss_name, n_outputs = example(kind)
    model = spec.build(X.shape[1], n_outputs)
    loss_fn, opt = make_loss(loss_name), make_optimizer(model.parameters(), SGDConfig(name="sgd", lr=0.01))
    first = loss_fn(model(X), y).item()
    for _ in range(20):
        loss_fn(model(X), y).backward()
        opt.step()
        opt.zero_grad()
    assert loss_fn(model(X), y).item() < first


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_n_parameters_counts_the_built_module_by_arithmetic(kind):
    """`nnlab check` bounds the model's size without torch: each kind counts its parameters itself."""
    from nnlab.models.base import ModelSpec

    spec = REGISTRY[kind]()
    assert type(spec).n_parameters is not ModelSpec.n_parameters, f"{kind}: give the spec an n_parameters"
    for n_features, n_outputs in ((spec.max_features or 4, 1), (spec.max_features or 13, 3)):
        built = spec.build(n_features, n_outputs)
        assert spec.n_parameters(n_features, n_outputs) == sum(p.numel() for p in built.parameters())
    if kind == "mlp":
        hidden = REGISTRY[kind](hidden=[7, 3, 2], dropout=0.5)
        assert hidden.n_parameters(13, 3) == sum(p.numel() for p in hidden.build(13, 3).parameters())


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_default_loss_is_one_it_can_train_with(kind):
    spec = REGISTRY[kind]()
    for classification in (True, False):
        assert spec.default_loss(classification) in spec.losses


def test_mlp_layers_follow_hidden_sizes():
    model = REGISTRY["mlp"](hidden=[5, 5, 5], activation="tanh").build(13, 3)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(13, 5), (5, 5), (5, 5), (5, 3)]
    assert sum(isinstance(m, torch.nn.Tanh) for m in model) == 3


def test_polynomial_evaluates_and_describes_itself():
    spec = REGISTRY["polynomial"](degree=3)
    model = spec.build(1, 1)
    with torch.no_grad():
        model.coefficients.copy_(torch.tensor([[1.0], [0.5], [0.0], [-2.0]]))
    x = torch.tensor([[2.0], [-1.0]])
    assert model(x)[:, 0].tolist() == [1 + 1 - 16, 1 - 0.5 + 2]
    assert spec.describe(model, ["x"]) == "y = 1 + 0.5·x + 0·x^2 - 2·x^3"
    assert spec.extras(model) == {"coefficients": [1.0, 0.5, 0.0, -2.0]}


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_each_kind_trains_on_the_stacked_path_like_alone(kind):
    """Sweeps and --seeds stack runs of one kind: two seeds stacked come out as trained one at a time."""
    from nnlab.config import validate
    from nnlab.data import load_many
    from nnlab.training.group import train_group

    spec = REGISTRY[kind]()
    loss = spec.losses[0]
    width = spec.max_features or 3
    source = {"source": "logistic", "n_samples": 60} if loss in ("bce", "cross_entropy") else \
        {"source": "linear", "n_samples": 60}
    raw = {"data": {**source, "n_features": width}, "model": {"kind": kind}, "loss": loss,
           "optimizer": {"lr": 0.05}, "train": {"epochs": 5, "batch_size": 16}}
    cfgs = [validate({**raw, "seed": seed}, kind) for seed in (0, 1)]
    dicts, splits = [c.to_dict() for c in cfgs], load_many(cfgs)
    stacked, alone = train_group(dicts, splits, vectorize=True), train_group(dicts, splits, vectorize=False)
    for s, a in zip(stacked, alone):
        assert s.status == a.status == "finished" and s.fit.steps == a.fit.steps == 5 * 3
        for (name, w_s), w_a in zip(s.model.state_dict().items(), a.model.state_dict().values()):
            torch.testing.assert_close(w_s, w_a, rtol=1e-5, atol=1e-6, msg=name)
