"""y = a + b·x + c·x² + ...: a polynomial in one input, fitted by gradient descent."""

from typing import Annotated, Literal

from pydantic import Field

from nnlab.models.base import REGRESSION_LOSSES, Int, ModelSpec, register


@register
class PolynomialSpec(ModelSpec):
    kind: Literal["polynomial"] = "polynomial"
    degree: Annotated[Int, Field(ge=1, le=20)] = 3
    losses = REGRESSION_LOSSES
    max_features = 1

    def build(self, n_features: int, n_outputs: int):
        return _polynomial_module(self.degree, n_outputs)

    def n_parameters(self, n_features: int, n_outputs: int) -> int:
        return (self.degree + 1) * n_outputs  # the coefficients; the powers are a buffer

    def describe(self, module, feature_names: list[str]) -> str:
        x = feature_names[0] if feature_names else "x"
        c = module.coefficients.detach().cpu()[:, 0].tolist()
        text = f"y = {c[0]:.6g}"
        for k, ck in enumerate(c[1:], start=1):
            power = f"·{x}" if k == 1 else f"·{x}^{k}"
            text += f" {'-' if ck < 0 else '+'} {abs(ck):.6g}{power}"
        return text

    def extras(self, module) -> dict:
        """Coefficients lowest degree first (one list per output when there are several)."""
        c = module.coefficients.detach().cpu()
        return {"coefficients": c[:, 0].tolist() if c.shape[1] == 1 else c.T.tolist()}


def _polynomial_module(degree: int, n_outputs: int):
    import torch
    from torch import nn

    class Polynomial(nn.Module):
        """Coefficients lowest degree first, one column per output; like the notebook's a, b, c, d ~ N(0, 1)."""

        def __init__(self):
            super().__init__()
            self.coefficients = nn.Parameter(torch.randn(degree + 1, n_outputs))
            self.register_buffer("powers", torch.arange(degree + 1, dtype=torch.float32), persistent=False)

        def forward(self, x):  # (N, 1) -> (N, n_outputs)
            return (x ** self.powers) @ self.coefficients

        def extra_repr(self):
            return f"degree={degree}"

    return Polynomial()
