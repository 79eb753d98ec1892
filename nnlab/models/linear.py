"""An affine map y = X·W + b: linear regression, or softmax regression with cross-entropy."""

from typing import Literal

from nnlab.models.base import ModelSpec, register
from nnlab.models.logistic import _affine_equation


@register
class LinearSpec(ModelSpec):
    kind: Literal["linear"] = "linear"

    def build(self, n_features: int, n_outputs: int):
        from torch import nn

        return nn.Linear(n_features, n_outputs)

    def n_parameters(self, n_features: int, n_outputs: int) -> int:
        return (n_features + 1) * n_outputs

    def describe(self, module, feature_names: list[str]) -> str | None:
        if module.out_features != 1:
            return None
        return _affine_equation("y", module, feature_names)
