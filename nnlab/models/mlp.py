"""A multilayer perceptron: Linear layers with an activation between them."""

from typing import Annotated, Literal

from pydantic import Field

from nnlab.models.base import Float, Int, ModelSpec, register

ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "leaky_relu": "LeakyReLU"}


@register
class MLPSpec(ModelSpec):
    kind: Literal["mlp"] = "mlp"
    hidden: Annotated[list[Annotated[Int, Field(gt=0)]], Field(min_length=1)] = [64]
    activation: Literal["relu", "tanh", "sigmoid", "leaky_relu"] = "relu"
    dropout: Annotated[Float, Field(ge=0, lt=1)] = 0.0  # after each hidden activation; 0: no Dropout layers
    losses = ("cross_entropy", "bce", "mse", "sse")

    def build(self, n_features: int, n_outputs: int):
        from torch import nn

        sizes = [n_features, *self.hidden]
        layers = []
        for n_in, n_out in zip(sizes, sizes[1:]):
            layers += [nn.Linear(n_in, n_out), getattr(nn, ACTIVATIONS[self.activation])()]
            if self.dropout:
                layers.append(nn.Dropout(self.dropout))
        layers.append(nn.Linear(sizes[-1], n_outputs))
        return nn.Sequential(*layers)

    def n_parameters(self, n_features: int, n_outputs: int) -> int:
        sizes = [n_features, *self.hidden, n_outputs]
        return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))  # weights and biases
