"""The config schema: pydantic models for every section, and the JSON Schema editors read."""

import math
import re
from typing import Annotated, Literal, Union

from pydantic import BeforeValidator, Field, field_validator, model_validator

from nnlab.models import REGISTRY
from nnlab.models.base import CLASSIFICATION_LOSSES, Float, Int, Spec

# ---------------------------------------------------------------- data sources


class _DataBase(Spec):
    test_size: Annotated[Float, Field(ge=0, lt=1)] = 0.2
    val_size: Annotated[Float, Field(ge=0, lt=1)] = 0.0  # a fraction of all rows, carved from the train split
    standardize: bool = True
    folds: Annotated[Int, Field(ge=2, le=1000)] | None = None  # k-fold: fold `fold` of `folds` is the test split
    fold: Annotated[Int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _rows_left_to_train(self):
        if (self.folds is None) != (self.fold is None):
            raise ValueError("fold: goes with data.folds: data.fold picks which of data.folds is the test split "
                             "(nnlab train --folds K trains every fold)")
        if self.folds is not None and self.fold >= self.folds:
            raise ValueError(f"fold: {self.fold} but data.folds is {self.folds}; folds are numbered 0 to {self.folds - 1}")
        held_out = 1 / self.folds if self.folds else self.test_size
        if self.val_size and self.val_size + held_out >= 1:
            test = f"a fold (1/{self.folds})" if self.folds else f"test_size ({self.test_size:g})"
            raise ValueError(f"val_size: {self.val_size:g} + {test} leaves no train rows; lower val_size")
        return self


class CsvData(_DataBase):
    source: Literal["csv"]
    path: str
    target: str
    features: Annotated[list[str], Field(min_length=1)] | None = None
    sep: Annotated[str, Field(min_length=1)] = ","
    dropna: bool = False
    categorical: Literal["auto"] | list[str] = "auto"  # auto: non-numeric feature columns are one-hot encoded
    impute: Literal["mean", "median"] | None = None  # None: a missing value is an error (or dropna)

    @field_validator("features", "categorical")
    @classmethod
    def _unique(cls, columns):
        if isinstance(columns, list) and len(set(columns)) != len(columns):
            raise ValueError("lists a column twice")
        return columns

    @model_validator(mode="after")
    def _categorical_are_features(self):
        if isinstance(self.categorical, list) and self.features is not None:
            missing = [c for c in self.categorical if c not in self.features]
            if missing:
                raise ValueError(f"categorical: lists '{missing[0]}', which is not in data.features")
        return self


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


Monitor = Literal["val_loss", "val_accuracy", "val_r2"]


class EarlyStopping(Spec):
    """Stop when `monitor` has not improved by more than min_delta for `patience` epochs (Keras' EarlyStopping)."""

    monitor: Monitor = "val_loss"
    patience: Annotated[Int, Field(ge=1)] = 20
    min_delta: Annotated[Float, Field(ge=0)] = 0.0
    restore_best: bool = True  # the saved model is the best epoch's weights


class StepSchedule(Spec):
    """torch.optim.lr_scheduler.StepLR: lr × gamma every step_size epochs."""

    name: Literal["step"]
    step_size: Annotated[Int, Field(ge=1)]
    gamma: Annotated[Float, Field(gt=0)] = 0.1


class CosineSchedule(Spec):
    """torch.optim.lr_scheduler.CosineAnnealingLR: from lr down to eta_min over t_max epochs (default train.epochs)."""

    name: Literal["cosine"]
    t_max: Annotated[Int, Field(ge=1)] | None = None
    eta_min: Annotated[Float, Field(ge=0)] = 0.0


class PlateauSchedule(Spec):
    """torch.optim.lr_scheduler.ReduceLROnPlateau: lr × factor after `patience` epochs without improvement."""

    name: Literal["plateau"]
    factor: Annotated[Float, Field(gt=0, lt=1)] = 0.1
    patience: Annotated[Int, Field(ge=0)] = 10
    monitor: Literal["val_loss", "val_accuracy", "val_r2", "train_loss"] = "val_loss"
    threshold: Annotated[Float, Field(ge=0)] = 1e-4  # relative, as torch's default threshold_mode "rel"
    cooldown: Annotated[Int, Field(ge=0)] = 0
    min_lr: Annotated[Float, Field(ge=0)] = 0.0


SCHEDULES = {"step": StepSchedule, "cosine": CosineSchedule, "plateau": PlateauSchedule}
ScheduleConfig = Annotated[Union[StepSchedule, CosineSchedule, PlateauSchedule], Field(discriminator="name")]
def _class_weight(value):
    """balanced, or {label: weight > 0}: checked here so that a bad value is one plain message, not a union's."""
    if value is None or value == "balanced":
        return value
    if not isinstance(value, dict):
        raise ValueError(f"{value!r} is neither balanced nor a mapping {{label: weight}}")
    for label, weight in value.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight <= 0:
            raise ValueError(f"the weight of label {label!r} must be a number > 0, not {weight!r}")
    return value


ClassWeight = Annotated[Literal["balanced"] | dict[Union[int, str], Annotated[Float, Field(gt=0)]] | None,
                        BeforeValidator(_class_weight)]


class TrainConfig(Spec):
    epochs: Annotated[Int, Field(ge=1)] = 100
    batch_size: Annotated[Int, Field(ge=1)] | None = None  # None: full batch
    log_every: Annotated[Int, Field(ge=1)] | None = None  # None: about ten rows
    checkpoint_every: Annotated[Int, Field(ge=1)] | None = None  # None: at an epoch end once a minute
    early_stopping: EarlyStopping | None = None
    scheduler: ScheduleConfig | None = None
    accumulate: Annotated[Int, Field(ge=1)] = 1  # an optimizer step every N minibatches
    class_weight: ClassWeight = None  # balanced, or {label: weight}; weighted cross-entropy / bce

    @model_validator(mode="after")
    def _accumulate_needs_minibatches(self):
        if self.accumulate > 1 and self.batch_size is None:
            raise ValueError("accumulate: needs minibatches: set train.batch_size (a full batch already sums "
                             "the gradient of every row)")
        return self

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
        self._monitors_exist()
        if self.train.class_weight is not None and self.loss not in CLASSIFICATION_LOSSES:
            raise ValueError(f"train.class_weight: weights classes, but loss {self.loss} is a regression loss")
        return self

    def _monitors_exist(self) -> None:
        """Early stopping and a plateau schedule watch a split and a metric this run has."""
        watched = [("train.early_stopping.monitor", self.train.early_stopping),
                   ("train.scheduler.monitor", self.train.scheduler)]
        metric = "accuracy" if self.task == "classification" else "r2"
        for key, section in watched:
            monitor = getattr(section, "monitor", None)
            if monitor is None or monitor in ("train_loss", "val_loss", f"val_{metric}"):
                if monitor and monitor.startswith("val_") and not self.data.val_size:
                    raise ValueError(f"{key}: {monitor} needs a validation split, but data.val_size is 0; set "
                                     "data.val_size (e.g. 0.1)" + (" or monitor: train_loss" if "scheduler" in key
                                                                   else ""))
                continue
            raise ValueError(f"{key}: {monitor} is not logged by a {self.task} run; use val_loss or val_{metric}")

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


def config_keys() -> list[str]:
    """Every dotted key a config can have, over every data source, model kind, optimizer and schedule."""
    schema = RunConfig.model_json_schema()
    keys: dict[str, None] = {}

    def walk(node: dict, prefix: str) -> None:
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rpartition("/")[2]]
        for choice in node.get("anyOf", []) + node.get("oneOf", []):
            walk(choice, prefix)
        for name, child in node.get("properties", {}).items():
            keys[prefix + name] = None
            walk(child, f"{prefix}{name}.")

    walk(schema, "")
    return list(keys)


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
