"""`nnlab train` and `nnlab check`: config -> data -> model -> fit -> run directory -> report."""

from pathlib import Path

import typer

from nnlab.cli.main import command, print_json, stdout
from nnlab.errors import DivergedError, Interrupted

CONFIG = typer.Argument(..., help="YAML config file, e.g. configs/wine_mlp.yaml.", show_default=False)
OVERRIDES = typer.Argument(None, help="key=value overrides with dotted keys, e.g. optimizer.lr=0.1 "
                                      "model.hidden=[16,16].", show_default=False)


def _flag_overrides(overrides, **flags) -> list[str]:
    """CLI flags that mirror config keys, as overrides (flags left at None change nothing)."""
    return list(overrides or []) + [f"{key}={value}" for key, value in flags.items() if value is not None]


@command
def train(
    config: Path = typer.Argument(None, help="YAML config file, e.g. configs/wine_mlp.yaml (optional with "
                                             "--resume).", show_default=False),
    overrides: list[str] = OVERRIDES,
    out: Path = typer.Option(Path("runs"), "--out", "-o", help="Parent folder of the run directory."),
    run_dir: Path = typer.Option(None, "--run-dir", help="Write the run into exactly this folder (refused if it "
                                                         "holds anything)."),
    resume: Path = typer.Option(None, "--resume", help="Continue the run in this run directory from its last "
                                                       "checkpoint."),
    force: bool = typer.Option(False, "--force", help="With --resume: continue even if the config or the data "
                                                      "changed."),
    device: str = typer.Option(None, help="Override device: auto, cpu, cuda or cuda:N."),
    seed: int = typer.Option(None, help="Override the seed."),
    threads: int = typer.Option(None, help="Override torch's intra-op thread count."),
    json_out: bool = typer.Option(False, "--json", help="Print only a JSON summary on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the final report."),
    jsonl: bool = typer.Option(False, "--jsonl", help="Stream one JSON event per logged epoch, then the --json object."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write PNG plots into the run directory."),
    baseline: bool = typer.Option(False, "--baseline", help="Also fit scikit-learn's reference model "
                                  "(least squares is always fitted for linear and polynomial regression)."),
    tensorboard: bool = typer.Option(False, "--tensorboard", help="Write TensorBoard scalars to RUN_DIR/tensorboard "
                                     "(needs the tensorboard package)."),
    seeds: str = typer.Option(None, "--seeds", help="Train one model per seed (10, 0-9 or 1,5,7) and report "
                                                    "mean ± std; see nnlab sweep."),
):
    """Train the model a config describes and save a run directory.

    Example: nnlab train configs/wine_mlp.yaml train.epochs=200 --out runs
    Resume after Ctrl-C: nnlab train --resume runs/wine-mlp-20260101-120000
    """
    if seeds is not None:  # many runs: nnlab/cli/sweep.py
        single_run_only = {"--seed": seed is not None, "--resume": resume is not None, "--run-dir": run_dir is not None,
                           "--force": force, "--jsonl": jsonl, "--baseline": baseline, "--tensorboard": tensorboard}
        return _train_seeds(config, _flag_overrides(overrides, device=device, threads=threads), seeds, out,
                            [flag for flag, given in single_run_only.items() if given], json_out=json_out, quiet=quiet)
    from nnlab import report, runs
    from nnlab import resume as resuming
    from nnlab.cli import display, outputs
    from nnlab.data import load_data
    from nnlab.interrupt import catch_signals
    from nnlab.metrics import assess_splits
    from nnlab.train import fit, prepare

    mode = display.output_mode(json_out, jsonl, quiet)
    if tensorboard:
        display.require_tensorboard()
    all_overrides = _flag_overrides(overrides, device=device, seed=seed, threads=threads)
    cfg, run, all_overrides = _resolve_config(config, all_overrides, resume, run_dir, force)
    splits = load_data(cfg)
    setup = prepare(cfg, splits)
    data_sha, start = resuming.data_fingerprint(splits), None
    if resume is not None:
        start = resuming.continue_run(run, cfg, setup, data_sha, force)
        run_dir = run.path
    else:
        run_dir = runs.claim_run_dir(run_dir) if run_dir else runs.new_run_dir(out, cfg.name)
    outputs.save_receipt(run_dir, cfg, setup, all_overrides, resumed=resume is not None)
    runs.save_config(run_dir, cfg)

    console = stdout()
    talk = mode == "normal"
    if talk:
        console.print(report.run_header(cfg, splits, setup.model, setup.device, setup.threads))
        console.print(f"run directory: {run_dir}" + (f" (resumed at epoch {start.epoch})" if start else ""))
    table = report.LossTable(cfg.task, has_test=len(splits.X_test) > 0, epochs=cfg.train.epochs)

    def payload(state, finished=False):
        return runs.checkpoint_payload(setup.model, cfg, splits.prep, splits.feature_names, splits.target_name,
                                       splits.n_outputs, setup.threads,
                                       resuming.train_state(state, setup.optimizer, setup.device, data_sha, finished))

    with catch_signals() as stop:  # SIGINT/SIGTERM: finish the step, save, exit 130/143
        with display.EpochDisplay(mode, console, table, cfg.train.epochs,
                                  run_dir / "tensorboard" if tensorboard else None) as shown:
            try:
                result = fit(setup.model, setup.loss_fn, setup.optimizer, setup.tensors, cfg.train,
                             log_every=cfg.log_every, task=cfg.task, seed=cfg.seed, on_epoch_end=shown.on_epoch_end,
                             start=start, stop=stop, checkpoint_every=cfg.train.checkpoint_every,
                             checkpoint=lambda state: runs.save_progress(run_dir, state.history, payload(state)))
            except (Interrupted, DivergedError) as e:
                raise _stopped(e, run_dir, cfg, setup, payload) from None
        outcome = assess_splits(setup.model, cfg, splits, setup.tensors)
        summary = runs.summary(run_dir, cfg, result, outcome, setup)
        compared = outputs.add_baseline(summary, cfg, splits, setup, always=baseline)
        runs.save_progress(run_dir, result.history, payload(result.state, finished=True), summary)  # config: above
    written = outputs.save_plots(run_dir, cfg, result.history, setup, splits, summary.get("baseline")) if plots else []
    if mode in ("json", "jsonl"):
        print_json(summary)
        return
    console.print(report.results(cfg, outcome))
    if compared:
        console.print(compared)
    if talk:
        outputs.print_epilogue(console, result.history, written)
        console.print(f"saved {run_dir}")


def _train_seeds(config, overrides, seeds: str, out: Path, conflicting: list[str], json_out: bool, quiet: bool):
    """`train --seeds`: one run per seed through the sweep machinery; single-run options are refused."""
    from nnlab.cli.sweep import train_many
    from nnlab.errors import UsageError
    from nnlab.sweep import parse_seeds

    if conflicting:
        given = ", ".join(conflicting)
        raise UsageError(f"{given} and --seeds: --seeds trains one run per seed, each with its own seed and run "
                         f"directory; drop {given}")
    return train_many(config, overrides, [], parse_seeds(seeds), out, vectorize=True, json_out=json_out,
                      quiet=quiet, kind="seeds")


def _resolve_config(config, overrides: list[str], resume, run_dir, force: bool):
    """(cfg, run being resumed or None, overrides): from the config file, or from the run that --resume names."""
    from nnlab import resume as resuming
    from nnlab.config import load_config
    from nnlab.errors import UsageError

    if resume is not None and run_dir is not None:
        raise UsageError("--resume and --run-dir: pick one (--resume continues in the run's own folder)")
    if force and resume is None:
        raise UsageError("--force only applies with --resume RUN_DIR")
    if resume is None:
        if config is None:
            raise UsageError("train: give a config file, or --resume RUN_DIR to continue a run")
        return load_config(config, overrides), None, overrides
    if config is not None and "=" in config.name and not config.exists():  # `--resume RUN key=value`
        config, overrides = None, [str(config), *overrides]
    run = resuming.open_run(resume)
    return resuming.config_for(run, config, overrides), run, overrides


def _stopped(error, run_dir, cfg, setup, payload):
    """Save what an interrupted or diverged run has (never a non-finite checkpoint); the error to exit with."""
    from nnlab import runs

    result, interrupted = error.result, isinstance(error, Interrupted)
    status = "interrupted" if interrupted else "diverged"
    runs.save_progress(run_dir, result.history, payload(result.state) if interrupted else None,
                       runs.summary(run_dir, cfg, result, None, setup, status))
    if interrupted:
        return Interrupted(f"interrupted by {error}; saved in {run_dir}; resume with: nnlab train --resume {run_dir}",
                           error.signum)
    kept = "the last good checkpoint is kept in" if (run_dir / runs.CHECKPOINT).exists() else "no checkpoint yet in"
    return DivergedError(f"{error}\n{kept} {run_dir}; metrics so far are in {run_dir / runs.METRICS}")


@command
def check(
    config: Path = CONFIG,
    overrides: list[str] = OVERRIDES,
    json_out: bool = typer.Option(False, "--json", help="Print only a JSON description on stdout."),
):
    """Validate a config and read its data, without training (and without importing torch).

    Example: nnlab check configs/wine_mlp.yaml optimizer.lr=1e-3
    """
    from nnlab.config import load_config
    from nnlab.data import load_data

    cfg = load_config(config, list(overrides or []))
    splits = load_data(cfg)
    info = {"config": str(config), "name": cfg.name, "task": cfg.task, "model": cfg.model.kind, "loss": cfg.loss,
            "n_features": splits.n_features, "n_outputs": splits.n_outputs,
            "train_rows": len(splits.X_train), "test_rows": len(splits.X_test),
            "classes": splits.prep.classes}
    if json_out:
        print_json({"ok": True, **info})
        return
    console = stdout()
    classes = f", classes {', '.join(map(str, info['classes']))}" if info["classes"] else ""
    console.print(f"[green]ok[/green] {config}: {cfg.model.kind} model, {cfg.task} with {cfg.loss}; "
                  f"{info['train_rows']} train / {info['test_rows']} test rows, "
                  f"{info['n_features']} features{classes}")
