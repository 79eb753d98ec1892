import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import CONFIGS, WINE, WINE_YAML, error_of, write_config
from nnlab.config import load_config, parse_yaml, validate
from nnlab.errors import ConfigError


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_bundled_configs_validate(path):
    cfg = load_config(path)
    assert cfg.name and cfg.loss in ("mse", "sse", "bce", "cross_entropy")


def test_defaults_and_derived_values(tmp_path):
    cfg = load_config(write_config(tmp_path, WINE_YAML))
    assert cfg.loss == "cross_entropy" and cfg.task == "classification"
    assert cfg.optimizer.name == "sgd" and cfg.optimizer.momentum == 0.1
    assert cfg.train.epochs == 100 and cfg.train.log_interval == 10
    assert cfg.data.test_size == 0.2 and cfg.data.standardize is True


def test_relative_data_path_resolves_against_config_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    path = write_config(tmp_path / "sub", WINE_YAML.replace(str(WINE), "../wine.csv"))
    assert load_config(path).data.path == str((tmp_path / "wine.csv").resolve())


def test_name_defaults_to_file_stem(tmp_path):
    path = write_config(tmp_path, WINE_YAML.replace("name: wine\n", ""), name="my exp.yaml")
    assert load_config(path).name == "my-exp"


@pytest.mark.parametrize("override, key, expected", [
    ("optimizer.lr=1e-3", ("optimizer", "lr"), 0.001),
    ("optimizer.lr=5E-2", ("optimizer", "lr"), 0.05),
    ("seed=3", ("seed",), 3),
    ("train.epochs=1e3", ("train", "epochs"), 1000),
    ("model.hidden=[16,16]", ("model", "hidden"), [16, 16]),
    ("train.batch_size=null", ("train", "batch_size"), None),
    ("optimizer.name=adam", ("optimizer", "name"), "adam"),
])
def test_overrides_read_yaml_scalars(tmp_path, override, key, expected):
    cfg = load_config(write_config(tmp_path, WINE_YAML.replace("momentum: 0.1", "")), [override])
    value = cfg
    for part in key:
        value = getattr(value, part)
    assert value == expected and type(value) is type(expected)


def test_scientific_notation_in_files_is_a_number():
    assert parse_yaml("lr: 1e-6\nb: -2.5E+3\nc: .5", "x") == {"lr": 1e-6, "b": -2500.0, "c": 0.5}


@pytest.mark.parametrize("text, expected", [
    ("", "the file is empty"),
    ("- a\n- b\n", "the top level must be a mapping"),
    ("seed: 1\nseed: 2\n", "duplicate key 'seed'"),
    ("a: [1, 2\n", "line"),
    ("!!python/object/apply:os.system ['touch MARKER']", "could not determine a constructor"),
    ("seed: !!python/object/new:os.system ['touch MARKER']", "could not determine a constructor"),
    ("a: " + "[" * 3000 + "]" * 3000, "nested too deeply"),
    ("a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(f"{k}: &{k} [{', '.join(['*' + p] * 9)}]\n"
                                                    for p, k in zip("abcdefgh", "bcdefghi"))
     + "data: {source: linear}\nmodel: {kind: mlp, hidden: *i}\n", "model.hidden.0: input should be"),
    ("data: {source: linear}\nmodel: {kind: linear}\noptimizer: {lr: .nan}\n", "optimizer.lr: input should be a"),
    ("data: {source: linear}\nmodel: {kind: linear}\ntrain: {epochs: .inf}\n", "train.epochs"),
    ("data: {source: linear}\nmodel: {kind: linear}\ntrain: {epochs: yes}\n", "train.epochs: expected a number, got a"),
    ("data: {source: linear}\nmodel: {kind: linear}\nseed: !!binary aGVsbG8=\n", "seed"),
], ids=["empty", "list", "duplicate", "unclosed", "python-tag", "python-tag-in-value", "deep", "billion-laughs", "nan",
        "inf", "bool", "binary"])
def test_unreadable_yaml_is_a_config_error(tmp_path, text, expected):
    marker = tmp_path / "pwned"
    assert expected in error_of(tmp_path, text.replace("MARKER", str(marker)))
    assert not marker.exists()


def test_a_python_tag_is_exit_2_through_the_cli_and_runs_nothing(cli, tmp_path):
    marker = tmp_path / "pwned"
    config = write_config(tmp_path, f"!!python/object/apply:os.system ['touch {marker}']\n")
    for command in (["check", config], ["train", config, "--out", tmp_path / "runs"]):
        assert "could not determine a constructor" in cli(*command, code=2).stderr
    assert not marker.exists() and not (tmp_path / "runs").exists()


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize("override", ["noequals", "=3", "a..b=1", "seed.x=1"])
def test_malformed_overrides(tmp_path, override):
    assert "override" in error_of(tmp_path, WINE_YAML, [override])


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8))
yaml_values = st.recursive(yaml_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)
keys = st.sampled_from(["name", "seed", "device", "threads", "data", "model", "loss", "optimizer", "train",
                        "source", "kind", "lr", "hidden", "epochs", "path", "target"])


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, yaml_values | st.dictionaries(keys, yaml_values, max_size=5), max_size=8))
def test_random_config_dicts_validate_or_raise_config_error(raw):
    try:
        cfg = validate(raw, "fuzz.yaml")
    except ConfigError:
        return
    assert cfg.train.epochs >= 1 and math.isfinite(cfg.optimizer.lr)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_yaml_text_parses_or_raises_config_error(text):
    try:
        parse_yaml(text, "fuzz.yaml")
    except ConfigError:
        pass


fuzz_dir = None


def fuzz_file(text: str) -> Path:
    """One reusable file per test process (hypothesis examples cannot use tmp_path)."""
    global fuzz_dir
    if fuzz_dir is None:
        import tempfile

        fuzz_dir = Path(tempfile.mkdtemp(prefix="nnlab-fuzz-"))
    path = fuzz_dir / "fuzz.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


config_like = st.one_of(
    st.dictionaries(keys, yaml_values | st.dictionaries(keys, yaml_values, max_size=5), max_size=8),
    st.fixed_dictionaries({"data": st.fixed_dictionaries({"source": st.sampled_from(["linear", "sine", "csv", "x"])},
                                                         optional={"n_samples": yaml_scalars, "noise": yaml_scalars}),
                           "model": st.fixed_dictionaries({"kind": st.sampled_from(["linear", "mlp", "polynomial"])},
                                                          optional={"hidden": yaml_values, "degree": yaml_scalars})},
                          optional={"optimizer": st.dictionaries(st.sampled_from(["name", "lr", "momentum", "betas"]),
                                                                 yaml_values, max_size=3),
                                    "train": st.dictionaries(st.sampled_from(["epochs", "batch_size", "log_every",
                                                                              "checkpoint_every"]), yaml_scalars),
                                    "seed": yaml_scalars, "loss": yaml_scalars}),
    yaml_values)


@pytest.mark.slow
@settings(max_examples=80, deadline=None)
@given(config_like, st.lists(st.text(max_size=20), max_size=3))
def test_random_yaml_documents_and_overrides_load_or_raise_config_error(document, overrides):
    """The whole loader (file, safe YAML, overrides, schema): a RunConfig or a ConfigError, nothing else."""
    import yaml

    path = fuzz_file(yaml.safe_dump(document, allow_unicode=True))
    try:
        cfg = load_config(path, overrides)
    except ConfigError as e:
        assert str(e).strip()
        return
    assert cfg.train.epochs >= 1 and math.isfinite(cfg.optimizer.lr) and cfg.task in ("classification", "regression")


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_random_yaml_text_through_load_config_raises_only_config_errors(text):
    try:
        load_config(fuzz_file(text))
    except ConfigError:
        pass
