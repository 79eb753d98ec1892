"""The config schema (pydantic) and load_config(path, overrides) -> RunConfig, validated once here."""

import math
import re
from pathlib import Path
from typing import Annotated, Literal, Union

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from nnlab.errors import ConfigError, did_you_mean
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


ModelConfig = Annotated[Union[tuple(REGISTRY.values())], Field(discriminator="kind")]
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

    @field_validator("device")
    @classmethod
    def _device_name(cls, device):
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", device):
            raise ValueError(f"'{device}' is not a device; use auto, cpu, cuda or cuda:N")
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

    @property
    def log_every(self) -> int:
        return self.train.log_every or max(1, self.train.epochs // 10)
    def to_dict(self) -> dict:
        """Plain data with every default filled in: what run directories store."""
        return self.model_dump(mode="json")


# ---------------------------------------------------------------- reading YAML


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads 1e-3 as a number and refuses duplicate keys."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


# YAML 1.1 wants a dot in floats ("1.0e-3"); people write 1e-3. Same resolver, looser regex.
_Loader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                   |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                   |\.[0-9_]+(?:[eE][-+][0-9]+)?
                   |[-+]?\.(?:inf|Inf|INF)
                   |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def parse_yaml(text: str, where: str):
    """Parse YAML text safely; any failure is a ConfigError naming `where`."""
    try:
        loader = _Loader(text)  # what yaml.safe_load does, with our SafeLoader subclass
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{where}:{line}: {e.problem or e.context}".replace("\n", " ")) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: not valid YAML: {e}".replace("\n", " ")) from None
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply to be a config") from None


def read_config_file(path: Path) -> dict:
    """The raw mapping in a config file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder; give a YAML config file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save the config as UTF-8") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    raw = parse_yaml(text, str(path))
    if raw is None:
        raise ConfigError(f"{path}: the file is empty; see README.md for the config keys")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys (name, data, model, ...), "
                          f"not a {type(raw).__name__}")
    return raw


def apply_overrides(raw: dict, overrides: list[str], where: str) -> dict:
    """Set each dotted `key=value` (value read as YAML) in a copy of `raw`."""
    import copy

    raw = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", key):
            raise ConfigError(f"override '{item}': expected key=value with a dotted key, "
                              "for example optimizer.lr=0.1")
        value = parse_yaml(text, f"override '{item}'")
        node = raw
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override '{item}': {'.'.join(parts[:i + 1])} is not a section")
            node = child
        node[parts[-1]] = value
    return raw


def validate(raw: dict, where: str) -> RunConfig:
    """RunConfig from a raw mapping, or one ConfigError listing every problem by dotted key."""
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as e:
        lines = [_describe_error(err, raw) for err in e.errors()]
        raise ConfigError("\n".join(f"{where}: {line}" for line in dict.fromkeys(lines))) from None
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply to be a config") from None


def load_config(path, overrides: list[str] = ()) -> RunConfig:
    """Read, override, validate. A relative data.path resolves against the config file's folder."""
    path = Path(path)
    raw = apply_overrides(read_config_file(path), list(overrides), str(path))
    raw.setdefault("name", re.sub(r"[^A-Za-z0-9._-]", "-", path.stem).lstrip("-._") or "run")
    data = raw.get("data")
    if isinstance(data, dict) and isinstance(data.get("path"), str):
        data["path"] = str((path.parent / Path(data["path"]).expanduser()).resolve())
    return validate(raw, str(path))


# ---------------------------------------------------------------- error messages


def _sections(raw: dict) -> dict[str, type]:
    """Which schema class describes each section of this raw config, for key suggestions."""
    picked = {"": RunConfig, "train": TrainConfig}
    for key, table, tag in (("data", SOURCES, "source"), ("model", REGISTRY, "kind"), ("optimizer", OPTIMIZERS, "name")):
        section = raw.get(key) if isinstance(raw, dict) else None
        tag_value = section.get(tag, "sgd" if key == "optimizer" else None) if isinstance(section, dict) else None
        if isinstance(tag_value, str) and tag_value in table:
            picked[key] = table[tag_value]
    return picked


def _describe_error(err: dict, raw: dict) -> str:
    loc = [str(p) for p in err["loc"]]
    # Discriminated unions put the tag in the location (data.csv.path); users wrote data.path.
    tags = {"data": SOURCES, "model": REGISTRY, "optimizer": OPTIMIZERS}
    if len(loc) >= 2 and loc[0] in tags and loc[1] in tags[loc[0]]:
        loc = [loc[0], *loc[2:]]
    loc = [p for p in loc if not p.startswith(("function-", "constrained-"))]
    key = ".".join(loc) or "(top level)"
    kind, msg, value = err["type"], err["msg"], err.get("input")
    if kind == "extra_forbidden":
        cls = _sections(raw).get(".".join(loc[:-1]))
        options = list(cls.model_fields) if cls else []
        hint = did_you_mean(loc[-1], options) or (f"; keys here are: {', '.join(options)}" if options else "")
        return f"{key}: unknown key{hint}"
    if kind == "missing":
        return f"{key}: required key is missing"
    if kind == "union_tag_invalid":
        table = tags.get(loc[0], {})
        return f"{key}: unknown {err['ctx']['discriminator'].strip(chr(39))} '{err['ctx']['tag']}'" \
               f"{did_you_mean(err['ctx']['tag'], table)}; choose one of: {', '.join(table)}"
    if kind == "union_tag_not_found":
        return f"{key}.{err['ctx']['discriminator'].strip(chr(39))}: required key is missing"
    if msg.startswith("Value error, "):  # our own validators: the message is complete
        msg = msg[len("Value error, "):]
        head, sep, rest = msg.partition(": ")
        if key == "(top level)" and sep and re.fullmatch(r"[\w.]+", head):
            return f"{head}: {rest}"
        return f"{key}: {msg}"
    shown = f" (got {value!r})" if value is not None and not isinstance(value, (dict, list)) else ""
    return f"{key}: {msg[0].lower() + msg[1:]}{shown}"


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
