"""A multilayer perceptron: Linear layers with an activation between them."""

from typing import Annotated, Literal

from pydantic import Field

from nnlab.models.base import Int, ModelSpec, register

ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "leaky_relu": "LeakyReLU"}


@register
class MLPSpec(ModelSpec):
    kind: Literal["mlp"] = "mlp"
    hidden: Annotated[list[Annotated[Int, Field(gt=0)]], Field(min_length=1)] = [64]
    activation: Literal["relu", "tanh", "sigmoid", "leaky_relu"] = "relu"
    losses = ("cross_entropy", "bce", "mse", "sse")

    def build(self, n_features: int, n_outputs: int):
        from torch import nn

        sizes = [n_features, *self.hidden]
        layers = []
        for n_in, n_out in zip(sizes, sizes[1:]):
            layers += [nn.Linear(n_in, n_out), getattr(nn, ACTIVATIONS[self.activation])()]
        layers.append(nn.Linear(sizes[-1], n_outputs))
        return nn.Sequential(*layers)
