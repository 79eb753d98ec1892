"""`nnlab train` and `nnlab check`: config -> data -> model -> fit -> run directory -> report."""

from pathlib import Path

import typer

from nnlab.cli.main import before_training, command, print_json, stdout
from nnlab.cli.options import CONFIG, OVERRIDES, flag_overrides


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
    folds: int = typer.Option(None, "--folds", min=2, help="k-fold cross-validation: one model per fold (stratified "
                                                           "for classification), mean ± std over folds."),
):
    """Train the model a config describes; save a run directory.

    Prints the model, a loss table and the final report; nnlab eval reopens the run directory.

    \b
    Example:
      nnlab train configs/wine_mlp.yaml train.epochs=200 --out runs
    Resume after Ctrl-C:
      nnlab train --resume runs/wine-mlp-20260101-120000
    Cross-validate, 5 folds for each of 3 seeds:
      nnlab train configs/wine_mlp.yaml --folds 5 --seeds 3
    """
    if seeds is not None or folds is not None:  # many runs: nnlab/cli/sweep.py
        single_run_only = {"--seed": seed is not None and seeds is not None, "--resume": resume is not None,
                           "--run-dir": run_dir is not None, "--force": force, "--jsonl": jsonl,
                           "--baseline": baseline, "--tensorboard": tensorboard}
        return _train_seeds(config, flag_overrides(overrides, device=device, threads=threads, seed=seed), seeds, out,
                            [flag for flag, given in single_run_only.items() if given], json_out=json_out, quiet=quiet,
                            folds=folds)
    from nnlab.views.plotter import Plotter

    with Plotter(enabled=plots) as plotter:  # matplotlib imports in a helper process while torch imports here
        with before_training():  # Ctrl-C here: nothing is written yet
            from nnlab.cli import display
            from nnlab.data import load_data
            from nnlab.errors import NnlabError
            from nnlab.training.setup import prepare

            mode = display.output_mode(json_out, jsonl, quiet)
            if tensorboard:
                display.require_tensorboard()
            all_overrides = flag_overrides(overrides, device=device, seed=seed, threads=threads)
            cfg, saved, all_overrides = _resolve_config(config, all_overrides, resume, run_dir, force)
            splits = load_data(cfg)
            setup = prepare(cfg, splits)
        with _claim_run(cfg, splits, setup, saved, out, run_dir, force) as run:  # locked: a second nnlab is refused
            view = display.TrainingView(mode, stdout(), run, setup, tensorboard)
            try:
                result, outcome, compared, summary = _train(run, setup, view, all_overrides, baseline,
                                                            plotter if plots else None)
                written = _plots_written(run, plotter, summary)
            except NnlabError as e:  # interrupted or diverged: --json/--jsonl still end with the summary it saved
                view.stopped(e.summary)
                raise
        view.report(summary, result.history, outcome, compared, written)


def _train(run, setup, view, overrides: list[str], baseline: bool, plotter):
    """The run started, fit(), score, the baseline, the plots started, the run finished: (fit, outcome, baseline,
    summary).

    SIGINT/SIGTERM from the run's start on finish the step, save and exit 130/143; after the last step, they stop
    the baseline and the plots, and the finished run is saved.
    """
    from nnlab.scoring.metrics import assess_splits
    from nnlab.training.signals import catch_signals
    from nnlab.views.plots import plot_jobs

    cfg, splits = run.cfg, run.splits
    with catch_signals() as stop:
        run.start(overrides)  # receipt and config: a signal now stops training after its first step, saved
        with view:  # the model, then loss-table rows, progress bar, JSONL events, TensorBoard while fit() runs
            result = _fit(run, setup, stop, view.on_epoch_end)
        outcome = assess_splits(setup.model, cfg, splits, setup.tensors, setup.loss_fn, val=setup.val)
        compared = _baseline(cfg, splits, outcome, baseline, stop)
        if plotter is not None and not stop.signum:  # drawn in the helper process while the run is saved
            plotter.start(plot_jobs(run.path, cfg, result.history, setup.model, splits, setup.device, compared,
                                    result.best_epoch))
        summary = run.finish(result, outcome, **({"baseline": compared} if compared else {}))
    if stop.signum:  # a signal after the last step: the finished run is saved; no plots, no report
        raise run.interrupted_after_training(stop.signum, summary)
    return result, outcome, compared, summary


def _plots_written(run, plotter, summary: dict) -> list:
    import signal

    from nnlab.rundir.store import saving

    try:
        with saving(run.path):  # a disk that fills up with the PNGs: exit 4, as for any file of the run
            return plotter.wait()
    except KeyboardInterrupt:  # Ctrl-C while the plots are drawn: the run is finished and saved
        raise run.interrupted_after_training(signal.SIGINT, summary) from None


def _fit(run, setup, stop, on_epoch_end):
    """fit() into the run: checkpoints as it goes; an interrupted run saved with the metrics of its weights as
    they stand, a diverged one with what it logged; then its error raised."""
    from nnlab.errors import DivergedError, Interrupted
    from nnlab.scoring.metrics import assess_splits
    from nnlab.training.loop import fit

    try:
        return fit(setup, run.cfg.train, on_epoch_end=on_epoch_end, start=run.start_at, stop=stop,
                   checkpoint=run.checkpoint)
    except Interrupted as e:
        raise run.stop(e, assess_splits(setup.model, run.cfg, run.splits, setup.tensors, setup.loss_fn,
                                        val=setup.val)) from None
    except DivergedError as e:
        raise run.stop(e) from None


def _baseline(cfg, splits, outcome, always: bool, stop):
    """The baseline's numbers, or None after a signal: scikit-learn cannot poll the flag, so a signal during its
    fit interrupts it at once and the run is saved without a baseline."""
    from nnlab.scoring import baselines
    from nnlab.training.signals import interruptible

    if stop.signum:
        return None
    try:
        with interruptible(stop):
            return baselines.for_run(cfg, splits, outcome, always=always)
    except KeyboardInterrupt:
        return None


def _claim_run(cfg, splits, setup, saved, out: Path, run_dir: Path | None, force: bool):
    """The Run that trains: the resumed one in its own folder, or a fresh (or the given) folder."""
    from nnlab.rundir.resume import continue_run
    from nnlab.rundir.run import Run

    if saved is not None:
        return continue_run(saved, cfg, splits, setup, force)
    return Run.claim(cfg, splits, setup.model, setup.device, setup.threads, setup.optimizer, parent=out, path=run_dir)


def _train_seeds(config, overrides, seeds: str | None, out: Path, conflicting: list[str], json_out: bool,
                 quiet: bool, folds: int | None = None):
    """`train --seeds` / `--folds`: one run per seed (and fold) through the sweep machinery; single-run options
    are refused. --folds alone trains the config's seed."""
    from nnlab.cli.sweep import train_many
    from nnlab.config import load_config
    from nnlab.errors import UsageError
    from nnlab.sweep.plan import parse_seeds

    flag = "--seeds" if seeds is not None else "--folds"
    if conflicting:
        given = ", ".join(conflicting)
        raise UsageError(f"{given} and {flag}: {flag} trains one run per {flag[2:-1]}, each with its own run "
                         f"directory; drop {given}")
    if config is None:
        raise UsageError(f"train {flag}: give a config file")
    with before_training():
        seed_list = parse_seeds(seeds) if seeds is not None else [load_config(config, overrides).seed]
    return train_many(config, overrides, [], seed_list, out, vectorize=True, json_out=json_out,
                      quiet=quiet, kind="folds" if folds else "seeds", folds=folds)


def _resolve_config(config, overrides: list[str], resume, run_dir, force: bool):
    """(cfg, the saved run being resumed or None, the overrides): from the config file, or from the run that
    --resume names (`--resume RUN key=value` reads the first override as CONFIG: it is put back)."""
    from nnlab.config import load_config
    from nnlab.errors import UsageError
    from nnlab.rundir.resume import config_for, open_run

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
    saved = open_run(resume)
    return config_for(saved, config, overrides), saved, overrides


@command
def check(
    config: Path = CONFIG,
    overrides: list[str] = OVERRIDES,
    json_out: bool = typer.Option(False, "--json", help="Print only a JSON description on stdout."),
):
    """Validate a config and read its data, without training.

    Checks every key and reads the data as train would, without importing torch.

    \b
    Example:
      nnlab check configs/wine_mlp.yaml optimizer.lr=1e-3
    """
    from nnlab.config import load_config
    from nnlab.data import load_data
    from nnlab.training.device import check_memory

    cfg = load_config(config, list(overrides or []))
    splits = load_data(cfg)
    check_memory(cfg, splits.n_features, splits.n_outputs)  # the bound train applies, against this machine's memory
    info = {"config": str(config), "name": cfg.name, "task": cfg.task, "model": cfg.model.kind, "loss": cfg.loss,
            "n_features": splits.n_features, "n_outputs": splits.n_outputs,
            "train_rows": len(splits.X_train), "val_rows": len(splits.X_val), "test_rows": len(splits.X_test),
            "classes": splits.prep.classes,
            "categorical": list(splits.prep.encoding.categories) if splits.prep.encoding is not None else []}
    if json_out:
        print_json({"ok": True, **info})
        return
    console = stdout()
    classes = f", classes {', '.join(map(str, info['classes']))}" if info["classes"] else ""
    val = f"{info['val_rows']} val / " if info["val_rows"] else ""
    one_hot = f" (one-hot: {', '.join(info['categorical'])})" if info["categorical"] else ""
    console.print(f"[green]ok[/green] {config}: {cfg.model.kind} model, {cfg.task} with {cfg.loss}; "
                  f"{info['train_rows']} train / {val}{info['test_rows']} test rows, "
                  f"{info['n_features']} features{one_hot}{classes}")
