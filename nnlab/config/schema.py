"""The config schema: pydantic models for every section, and the JSON Schema editors read."""

import math
import re
from typing import Annotated, Literal, Union

from pydantic import Field, field_validator, model_validator

from nnlab.models import REGISTRY
from nnlab.models.base import CLASSIFICATION_LOSSES, Float, Int, Spec

# ---------------------------------------------------------------- data sources


class _DataBase(Spec):
    test_size: Annotated[Float, Field(ge=0, lt=1)] = 0.2
    standardize: bool = True


class CsvData(_DataBase):
    source: Literal["csv"]
    path: str
    target: str
    features: Annotated[list[str], Field(min_length=1)] | None = None
    sep: Annotated[str, Field(min_length=1)] = ","
    dropna: bool = False

    @field_validator("features")
    @classmethod
    def _unique(cls, features):
        if features is not None and len(set(features)) != len(features):
            raise ValueError("lists a column twice")
        return features


class _SyntheticWeights(_DataBase):
    n_samples: Annotated[Int, Field(ge=2)] = 1000
    n_features: Annotated[Int, Field(ge=1)] | None = None
    weights: Annotated[list[Float], Field(min_length=1)] | None = None
    bias: Float = 0.0

    @model_validator(mode="after")
    def _features_match_weights(self):
        if self.weights is not None and self.n_features not in (None, len(self.weights)):
            raise ValueError(f"n_features is {self.n_features} but weights has {len(self.weights)} values")
        return self

    @property
    def width(self) -> int:
        return len(self.weights) if self.weights is not None else (self.n_features or 2)


class LinearData(_SyntheticWeights):
    """y = X·w + bias + noise·N(0, 1), X ~ N(0, 1); w ~ N(0, 1) when not given."""

    source: Literal["linear"]
    noise: Annotated[Float, Field(ge=0)] = 0.01


class LogisticData(_SyntheticWeights):
    """y ~ Bernoulli(sigmoid(X·w + bias)), X ~ N(0, 1); w ~ N(0, 1) when not given."""

    source: Literal["logistic"]
    n_samples: Annotated[Int, Field(ge=4)] = 100


class SineData(_DataBase):
    """y = sin(x) + noise·N(0, 1) on n_samples evenly spaced x in [low, high]."""

    source: Literal["sine"]
    n_samples: Annotated[Int, Field(ge=2)] = 2000
    low: Float = -math.pi
    high: Float = math.pi
    noise: Annotated[Float, Field(ge=0)] = 0.0

    @model_validator(mode="after")
    def _ordered(self):
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


class RandomData(_DataBase):
    """Inputs and targets both drawn from N(0, 1): nothing to learn but the mechanics."""

    source: Literal["random"]
    n_samples: Annotated[Int, Field(ge=2)] = 64
    n_features: Annotated[Int, Field(ge=1)] = 784
    n_outputs: Annotated[Int, Field(ge=1)] = 10


SOURCES = {cls.model_fields["source"].annotation.__args__[0]: cls
           for cls in (CsvData, LinearData, LogisticData, SineData, RandomData)}
DataConfig = Annotated[Union[tuple(SOURCES.values())], Field(discriminator="source")]
REGRESSION_SOURCES = ("linear", "sine", "random")

# ---------------------------------------------------------------- optimizers and training


class SGDConfig(Spec):
    name: Literal["sgd"]
    lr: Annotated[Float, Field(gt=0)] = 0.01
    momentum: Annotated[Float, Field(ge=0, lt=1)] = 0.0
    nesterov: bool = False
    weight_decay: Annotated[Float, Field(ge=0)] = 0.0

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self):
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs momentum > 0")
        return self


class AdamConfig(Spec):
    name: Literal["adam", "adamw"]
    lr: Annotated[Float, Field(gt=0)] = 0.001
    betas: Annotated[list[Annotated[Float, Field(ge=0, lt=1)]], Field(min_length=2, max_length=2)] = [0.9, 0.999]
    eps: Annotated[Float, Field(gt=0)] = 1e-8
    weight_decay: Annotated[Float, Field(ge=0)] = 0.0


OPTIMIZERS = {"sgd": SGDConfig, "adam": AdamConfig, "adamw": AdamConfig}
OptimizerConfig = Annotated[Union[SGDConfig, AdamConfig], Field(discriminator="name")]


class TrainConfig(Spec):
    epochs: Annotated[Int, Field(ge=1)] = 100
    batch_size: Annotated[Int, Field(ge=1)] | None = None  # None: full batch
    log_every: Annotated[Int, Field(ge=1)] | None = None  # None: about ten rows
    checkpoint_every: Annotated[Int, Field(ge=1)] | None = None  # None: at an epoch end once a minute

    @property
    def log_interval(self) -> int:
        """Epochs between loss-table rows: log_every, or about ten rows."""
        return self.log_every or max(1, self.epochs // 10)


ModelConfig = Annotated[Union[tuple(REGISTRY.values())], Field(discriminator="kind")]
DEVICE_HELP = "auto, cpu, cuda or cuda:N"


def is_device_name(name) -> bool:
    """auto, cpu, cuda or cuda:N: the devices a config (or --device) may name."""
    return isinstance(name, str) and re.fullmatch(r"auto|cpu|cuda(:\d{1,4})?", name) is not None

Loss = Literal["mse", "sse", "bce", "cross_entropy"]

# ---------------------------------------------------------------- the whole run


class RunConfig(Spec):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100)] = "run"
    seed: Annotated[Int, Field(ge=0, lt=2**32)] = 0
    device: str = "auto"
    threads: Annotated[Int, Field(ge=1, le=256)] | None = None  # None: chosen from the model's size
    data: DataConfig
    model: ModelConfig
    loss: Loss | None = None  # None: the model kind's default for this data
    optimizer: OptimizerConfig = SGDConfig(name="sgd")
    train: TrainConfig = TrainConfig()

    @field_validator("device", mode="before")
    @classmethod
    def _device_name(cls, device):
        if not is_device_name(device):
            raise ValueError(f"{repr('' if device is None else device)} is not a device; use {DEVICE_HELP}")
        return device

    @model_validator(mode="before")
    @classmethod
    def _default_optimizer_name(cls, raw):
        if isinstance(raw, dict) and isinstance(raw.get("optimizer"), dict) and "name" not in raw["optimizer"]:
            raw = {**raw, "optimizer": {"name": "sgd", **raw["optimizer"]}}
        return raw

    @model_validator(mode="after")
    def _combination_works(self):
        source, kind = self.data.source, self.model.kind
        if self.loss is None:
            loss = self.model.default_loss(classification=source not in REGRESSION_SOURCES)
            object.__setattr__(self, "loss", loss)
        if self.loss not in self.model.losses:
            raise ValueError(f"loss: model kind '{kind}' trains with {' or '.join(self.model.losses)}, not {self.loss}")
        if self.loss in CLASSIFICATION_LOSSES and source in REGRESSION_SOURCES:
            raise ValueError(f"loss: {self.loss} needs class labels, but source '{source}' has real-valued targets; "
                             "use mse or sse")
        if self.loss not in CLASSIFICATION_LOSSES and source == "logistic":
            raise ValueError("loss: source 'logistic' has class labels; use bce or cross_entropy")
        width = {"linear": getattr(self.data, "width", 0), "logistic": getattr(self.data, "width", 0),
                 "sine": 1, "random": getattr(self.data, "n_features", 0)}.get(source)
        if self.model.max_features and width and width > self.model.max_features:
            raise ValueError(f"model.kind: '{kind}' takes {self.model.max_features} input feature, "
                             f"but the data has {width}")
        if self.model.max_features and source == "csv" and self.data.features and \
                len(self.data.features) > self.model.max_features:
            raise ValueError(f"model.kind: '{kind}' takes {self.model.max_features} input feature, "
                             f"but data.features lists {len(self.data.features)}")
        return self

    @property
    def task(self) -> str:
        return "classification" if self.loss in CLASSIFICATION_LOSSES else "regression"

    def to_dict(self) -> dict:
        """Plain data with every default filled in: what run directories store."""
        return self.model_dump(mode="json")



def json_schema() -> dict:
    """The config format as JSON Schema (draft 2020-12), generated from RunConfig."""
    schema = _standard_bounds(RunConfig.model_json_schema())
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": "nnlab config"}


_BOUNDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum"}


def _standard_bounds(node):
    """pydantic writes bounds it could not attach to a type (our Int/Float wrappers) as gt/ge/lt/le:
    rename them to the JSON Schema keywords editors understand."""
    if isinstance(node, dict):
        return {(_BOUNDS[k] if k in _BOUNDS and isinstance(v, (int, float)) else k): _standard_bounds(v)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_standard_bounds(v) for v in node]
    return node
