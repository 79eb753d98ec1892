"""nnlab schema: a valid JSON Schema that accepts the bundled configs and rejects what validation rejects."""

import json
import subprocess
import sys

import jsonschema
import pytest

from helpers import CONFIGS, ROOT
from nnlab.config import json_schema, parse_yaml


@pytest.fixture(scope="module")
def validator():
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_bundled_configs_validate(validator, config):
    assert list(validator.iter_errors(parse_yaml(config.read_text(), str(config)))) == []


@pytest.mark.parametrize("raw", [
    {"data": {"source": "csv", "path": "x.csv", "target": "y"}, "model": {"kind": "mlp"}, "optimiser": {}},
    {"data": {"source": "sine"}, "model": {"kind": "polynomial", "degree": 0}},
    {"data": {"source": "sine"}, "model": {"kind": "mlp"}, "optimizer": {"name": "sgd", "lr": 0}},
    {"data": {"source": "tsv"}, "model": {"kind": "mlp"}},
])
def test_schema_rejects_bad_configs(validator, raw):
    assert list(validator.iter_errors(raw))


@pytest.mark.slow
def test_schema_command_prints_it_without_importing_torch():
    code = ("import sys, json; from typer.testing import CliRunner; from nnlab.cli import app; "
            "out = CliRunner().invoke(app, ['schema']).stdout; json.loads(out); "
            "print([m for m in ('torch', 'sklearn', 'matplotlib') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.strip() == "[]", done.stderr
    assert json.loads(subprocess.run([sys.executable, "-m", "nnlab", "schema", "--indent", "0"], capture_output=True,
                                     text=True, cwd=ROOT).stdout)["title"] == "nnlab config"


def test_the_schema_describes_the_training_keys(validator):
    good = {"data": {"source": "csv", "path": "x.csv", "target": "y", "val_size": 0.1, "categorical": ["c"],
                     "impute": "median", "folds": 5, "fold": 0},
            "model": {"kind": "mlp", "dropout": 0.2},
            "train": {"early_stopping": {"monitor": "val_accuracy", "patience": 5, "min_delta": 0.0,
                                         "restore_best": True},
                      "scheduler": {"name": "cosine", "t_max": 10}, "accumulate": 2, "batch_size": 8,
                      "class_weight": {"1": 2.0}}}
    assert list(validator.iter_errors(good)) == []
    for bad in ({"train": {"scheduler": {"name": "exp"}}}, {"train": {"early_stopping": {"monitor": "test_loss"}}},
                {"train": {"accumulate": 0}}, {"data": {"source": "csv", "path": "x", "target": "y", "impute": "zero"}},
                {"model": {"kind": "mlp", "dropout": 1.5}}):
        raw = {"data": {"source": "sine"}, "model": {"kind": "mlp"}, **bad}
        assert list(validator.iter_errors(raw)), bad


def test_config_keys_lists_every_dotted_key_of_every_variant():
    from nnlab.config import load_config
    from nnlab.config.schema import config_keys

    keys = config_keys()
    assert {"seed", "train.epochs", "optimizer.lr", "optimizer.betas", "model.hidden", "model.degree", "data.path",
            "data.noise", "train.early_stopping.patience", "train.scheduler.patience",
            "train.scheduler.t_max"} <= set(keys)
    assert len(keys) == len(set(keys)) and not any(k.startswith(("data.csv", "model.mlp")) for k in keys)
    for key in ("train.epochs", "optimizer.momentum", "data.test_size"):  # each one a config accepts
        load_config(ROOT / "configs" / "wine_mlp.yaml", [f"{key}=0.1" if key != "train.epochs" else f"{key}=3"])
