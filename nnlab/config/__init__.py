"""The config: a typed RunConfig, validated once at the edge (`load_config(path, overrides)`)."""

from nnlab.config.loader import (
                                 absolute_data_path,
                                 apply_overrides,
                                 config_from,
                                 load_config,
                                 parse_yaml,
                                 read_config_file,
                                 validate,
                                 value_text,
)
from nnlab.config.schema import AdamConfig, RunConfig, SGDConfig, TrainConfig, json_schema

__all__ = ["AdamConfig", "RunConfig", "SGDConfig", "TrainConfig", "absolute_data_path", "apply_overrides",
           "config_from", "json_schema", "load_config", "parse_yaml", "read_config_file", "validate", "value_text"]
