"""A single sigmoid neuron: logistic regression trained with binary cross-entropy."""

from typing import Literal

from nnlab.models.base import ModelSpec, register


@register
class LogisticSpec(ModelSpec):
    kind: Literal["logistic"] = "logistic"
    losses = ("bce",)
    max_classes = 2

    def build(self, n_features: int, n_outputs: int):
        from torch import nn

        # One logit; the sigmoid lives in BCEWithLogitsLoss and in predict, for numerical stability.
        return nn.Linear(n_features, n_outputs)

    def n_parameters(self, n_features: int, n_outputs: int) -> int:
        return (n_features + 1) * n_outputs

    def describe(self, module, feature_names: list[str]) -> str:
        return _affine_equation("logit", module, feature_names)


MAX_TERMS = 30  # a wider model's equation names its first terms and counts the rest (the checkpoint has them all)


def _affine_equation(lhs: str, module, feature_names: list[str]) -> str:
    """'lhs = b + w1·x1 + ...' for a one-output linear layer."""
    w = module.weight.detach().cpu().reshape(-1)[:MAX_TERMS].tolist()
    b = module.bias.detach().cpu().item()
    terms = " ".join(f"{'-' if wi < 0 else '+'} {abs(wi):.4g}·{name}" for wi, name in zip(w, feature_names))
    more = len(feature_names) - len(w)
    return f"{lhs} = {b:.4g} {terms}" + (f" + ... ({more:,} more terms)" if more > 0 else "")
