"""The config: a typed RunConfig, validated once at the edge (`load_config(path, overrides)`)."""

from nnlab.config.loader import apply_overrides, load_config, parse_yaml, read_config_file, validate
from nnlab.config.schema import AdamConfig, RunConfig, SGDConfig, TrainConfig, json_schema

__all__ = ["AdamConfig", "RunConfig", "SGDConfig", "TrainConfig", "apply_overrides", "json_schema", "load_config",
           "parse_yaml", "read_config_file", "validate"]
