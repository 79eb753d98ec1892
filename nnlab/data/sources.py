"""Where rows come from: a CSV file, or a synthetic generator seeded from the config's seed."""

from pathlib import Path

import numpy as np

from nnlab.config import RunConfig
from nnlab.errors import ConfigError, did_you_mean


def describe_source(cfg: RunConfig) -> str:
    return cfg.data.path if cfg.data.source == "csv" else f"data (source {cfg.data.source})"



def _check_size(cfg: RunConfig) -> None:
    """Refuse synthetic data too big for the memory, naming its keys, before generating any of it."""
    from nnlab.limits import fits, free_bytes, size_text

    d = cfg.data
    if d.source == "sine":
        width = 2
    else:
        width = d.width + 1 if d.source in ("linear", "logistic") else d.n_features + d.n_outputs
    need = d.n_samples * width * 8 * 3  # float64 draws, their float32 copy, the split and scaled copies
    free = free_bytes()
    if not fits(need, free):
        keys = "data.n_samples" + (" x data.n_features" if d.source != "sine" else "")
        raise ConfigError(f"{keys}: {d.n_samples:,} rows of {width:,} values (inputs and targets) need about "
                          f"{size_text(need)}, more than the {size_text(free)} of memory free; generate less data")


def read_source(cfg: RunConfig):
    """X float32 (N, F), raw y, feature names, target name, generating parameters, and the text columns
    {name: (N,) objects} that data.categorical one-hot encodes (their columns of X are NaN)."""
    d = cfg.data
    if d.source == "csv":
        from nnlab.data.csvfile import read_csv, regression_target

        X, y, features, text = read_csv(Path(d.path), d.target, d.features, d.sep, d.dropna, d.categorical,
                                        d.impute is not None)
        if cfg.model.max_features and len(features) > cfg.model.max_features:
            raise ConfigError(f"model.kind: '{cfg.model.kind}' takes {cfg.model.max_features} input feature, "
                              f"but {d.path} gives {len(features)}; list one in data.features")
        if cfg.task == "regression":
            y = regression_target(y, Path(d.path), d.target, ", so it cannot be regressed; for class labels use "
                                                             "loss: cross_entropy")
        return X, y, features, d.target, {}, text
    _check_size(cfg)
    rng = np.random.default_rng([cfg.seed, 0])
    if d.source in ("linear", "logistic"):
        w = np.asarray(d.weights if d.weights is not None else rng.standard_normal(d.width), dtype=np.float64)
        X = rng.standard_normal((d.n_samples, len(w)))
        z = X @ w + d.bias
        if d.source == "linear":
            y = (z + d.noise * rng.standard_normal(d.n_samples))[:, None].astype(np.float32)
        else:
            y = (rng.random(d.n_samples) < 1 / (1 + np.exp(-z))).astype(np.int64)
        names = [f"x{i + 1}" for i in range(len(w))]
        return X.astype(np.float32), y, names, "y", {"weights": w.tolist(), "bias": float(d.bias)}, {}
    if d.source == "sine":
        x = np.linspace(d.low, d.high, d.n_samples)
        y = np.sin(x) + d.noise * rng.standard_normal(d.n_samples)
        return x[:, None].astype(np.float32), y[:, None].astype(np.float32), ["x"], "y", {}, {}
    if d.source == "random":
        X = rng.standard_normal((d.n_samples, d.n_features), dtype=np.float32)
        y = rng.standard_normal((d.n_samples, d.n_outputs), dtype=np.float32)
        return X, y, [f"x{i + 1}" for i in range(d.n_features)], "y", {}, {}
    raise ConfigError(f"data.source: unknown source '{d.source}'{did_you_mean(d.source, ['csv'])}")
