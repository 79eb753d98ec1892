"""The contract every model kind follows, and the registry that config.py builds its schema from."""

from typing import Annotated, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict

REGISTRY: dict[str, type["ModelSpec"]] = {}

REGRESSION_LOSSES = ("mse", "sse")
CLASSIFICATION_LOSSES = ("bce", "cross_entropy")


def _no_bool(value):
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got a boolean ({str(value).lower()})")
    return value


# Numbers that refuse YAML booleans (pydantic's lax mode would read `true` as 1).
Int = Annotated[int, BeforeValidator(_no_bool)]
Float = Annotated[float, BeforeValidator(_no_bool)]


class Spec(BaseModel):
    """Base for every config section: unknown keys and NaN/inf are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class ModelSpec(Spec):
    """Inert description of one model kind; `build` makes a fresh `nn.Module` on every call.

    Adding a kind is one new file in `nnlab/models/`: subclass `ModelSpec`, give it a
    `kind: Literal["name"]` field and its hyperparameters as typed fields, decorate it with
    `@register`, and implement `build`. The contract, checked for every registered kind by
    `tests/test_models.py`:

    - `build(n_features, n_outputs)` imports torch itself and returns a new module that maps a
      float tensor of shape (N, n_features) to (N, n_outputs) raw scores (logits for
      classification; no final sigmoid or softmax);
    - `n_parameters(n_features, n_outputs)` counts that module's parameters by arithmetic, without
      torch (the size bound of `nnlab check`); the default builds the module on torch's meta device;
    - `losses` lists the losses the kind can be trained with, the first being its default;
    - `max_features` / `max_classes` state input limits (None: no limit);
    - `describe(module, feature_names)` may return a one-line text about the fitted module.
    """

    kind: str
    losses: ClassVar[tuple[str, ...]] = REGRESSION_LOSSES + CLASSIFICATION_LOSSES
    max_features: ClassVar[int | None] = None
    max_classes: ClassVar[int | None] = None

    def default_loss(self, classification: bool) -> str:
        """The loss used when the config names none; `classification` says what the data holds."""
        wanted = CLASSIFICATION_LOSSES if classification else REGRESSION_LOSSES
        return next((loss for loss in self.losses if loss in wanted), self.losses[0])

    def build(self, n_features: int, n_outputs: int):
        raise NotImplementedError

    def n_parameters(self, n_features: int, n_outputs: int) -> int:
        """sum(p.numel()) of build()'s module. Override with arithmetic: this default imports torch."""
        import torch

        with torch.device("meta"):  # nothing allocated
            return sum(p.numel() for p in self.build(n_features, n_outputs).parameters())

    def describe(self, module, feature_names: list[str]) -> str | None:
        return None

    def extras(self, module) -> dict:
        """Kind-specific plain numbers for summary.json and --json (the polynomial's coefficients)."""
        return {}


def register(cls: type[ModelSpec]) -> type[ModelSpec]:
    """Class decorator: make a model kind available to configs under its `kind` name."""
    kind = cls.model_fields["kind"].annotation.__args__[0]
    REGISTRY[kind] = cls
    return cls
