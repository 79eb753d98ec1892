"""One plain trial as a pure function: a resolved config and its data in, plain results and weights out.

`run_trial` is what a worker runs: it needs no file of the client's (the data arrives as a
local copy) and writes nothing. `save_trial` is what the client does with the result: the same
run directory `nnlab train` writes.
"""

from pathlib import Path
from types import SimpleNamespace

from nnlab.config import RunConfig, validate


def resolve_threads(cfg: RunConfig, splits) -> int:
    """The thread count a local run of `cfg` would pick here, so remote runs sum in the same order."""
    from nnlab.device import choose_threads

    n_params = sum(p.numel() for p in cfg.model.build(splits.n_features, splits.n_outputs).parameters())
    return choose_threads(cfg.threads, n_params, cfg.train.batch_size or len(splits.X_train))


def run_trial(data_path: Path | None, raw: dict, threads: int) -> dict:
    """Train the resolved config `raw` on the data at `data_path` (a local copy of data.path)."""
    from nnlab.data import load_data
    from nnlab.metrics import assess_splits
    from nnlab.train import fit, prepare

    cfg = validate(raw, "config")
    local = {**raw, "threads": threads}  # what this machine would not pick by itself: the client's choice
    if data_path is not None:
        local["data"] = {**raw["data"], "path": str(data_path)}
    splits = load_data(validate(local, "config"))
    setup = prepare(validate(local, "config"), splits)
    result = fit(setup.model, setup.loss_fn, setup.optimizer, setup.tensors, cfg.train, log_every=cfg.log_every,
                 task=cfg.task, seed=cfg.seed)
    outcome = assess_splits(setup.model, cfg, splits, setup.tensors)
    return {"history": result.history, "steps": result.steps, "seconds": result.seconds,
            "metrics": outcome.metrics, "extras": outcome.extras, "device": str(setup.device),
            "threads": setup.threads, "model_state": {k: v.detach().cpu() for k, v in setup.model.state_dict().items()},
            "preprocessing": splits.prep.to_dict(), "feature_names": list(splits.feature_names),
            "target_name": splits.target_name, "n_outputs": splits.n_outputs}


def trial_summary(run_dir: Path, cfg: RunConfig, result: dict) -> dict:
    """The summary.json `nnlab train` would write for this trial."""
    from nnlab import runs
    from nnlab.train import Fit

    fitted = Fit(result["history"], result["steps"], result["seconds"])
    outcome = SimpleNamespace(metrics=result["metrics"], extras=result["extras"])
    setup = SimpleNamespace(device=result["device"], threads=result["threads"])
    return runs.summary(run_dir, cfg, fitted, outcome, setup)


def save_trial(run_dir: Path, cfg: RunConfig, result: dict) -> dict:
    """Write the trial's run directory (config, metrics, checkpoint, summary); return the summary."""
    from nnlab import runs
    from nnlab.data import Preprocessing

    model = cfg.model.build(len(result["feature_names"]), result["n_outputs"])
    model.load_state_dict(result["model_state"])
    payload = runs.checkpoint_payload(model, cfg, Preprocessing.from_dict(result["preprocessing"]),
                                      result["feature_names"], result["target_name"], result["n_outputs"],
                                      result["threads"])
    summary = trial_summary(run_dir, cfg, result)
    runs.save_run(run_dir, cfg, result["history"], payload, summary)
    return summary
