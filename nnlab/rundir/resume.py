"""--resume: open the run, check it is the same run (config and data), restore the weights and training state."""

from pathlib import Path

from nnlab.config import RunConfig
from nnlab.errors import CheckpointError, RunInUse, UsageError
from nnlab.rundir.lock import refuse_if_in_use
from nnlab.rundir.run import Run, take_folder
from nnlab.rundir.safefile import read_verified, remove_stale_temporaries, sha256_of
from nnlab.rundir.store import CHECKPOINT, SavedRun, load_run
from nnlab.training.loop_state import LoopState, restore

RESULT_NEUTRAL = ("train.checkpoint_every",)  # may change on resume: it moves no number


def check_same_run(where: str, saved_cfg: dict, cfg: RunConfig, saved_sha: str, data_sha: str, force: bool) -> None:
    """Refuse (UsageError) to resume with another config or other data, unless `force`."""
    if force:
        return
    changed = [k for k in _changed_keys(saved_cfg, cfg.to_dict()) if k not in RESULT_NEUTRAL]
    if changed:
        shown = ", ".join(changed[:5]) + (" ..." if len(changed) > 5 else "")
        raise UsageError(f"{where}: the config differs from the run's ({shown}); resume without changes "
                         "to continue as it was, or add --force to continue with the new one")
    if saved_sha != data_sha:
        raise UsageError(f"{where}: the data differs from the data the run trained on (sha256 changed); "
                         "restore the original file, or add --force to continue on the new data")


def _changed_keys(a, b, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [k for key in dict.fromkeys([*a, *b])
                for k in _changed_keys(a.get(key), b.get(key), f"{prefix}{key}.")]
    return [] if a == b else [prefix.rstrip(".")]


def open_run(run_dir: Path) -> SavedRun:
    """The run to resume: checkpoint verified, training state present (continue_run locks the folder)."""
    refuse_if_in_use(run_dir)  # a run still training may have no checkpoint yet: say what is going on
    run = load_run(run_dir)  # a missing folder is a UsageError there
    if not isinstance(run.checkpoint.get("train_state"), dict):
        raise CheckpointError(f"{run_dir / CHECKPOINT}: holds no training state to resume from")
    return run


def config_for(run: SavedRun, config: Path | None, overrides: list[str]) -> RunConfig:
    """The run's stored config with `overrides`, or another config file (checked by continue_run)."""
    from nnlab.config import absolute_data_path, apply_overrides, load_config, validate

    if config is not None:
        return load_config(config, overrides)
    if not overrides:
        return run.cfg  # load_run validated it
    where = str(run.path / "config.yaml")
    return validate(absolute_data_path(apply_overrides(run.checkpoint["config"], overrides, where), Path.cwd()), where)


def continue_run(saved: SavedRun, cfg: RunConfig, splits, setup, force: bool) -> Run:
    """Lock the folder, check it is the same run; load weights, optimizer and RNG states: the Run that continues
    in its folder (locked until it is released)."""
    lock = take_folder(saved.path, created=False)  # a second --resume of this run is refused here
    try:
        _check_unchanged(saved)
        remove_stale_temporaries(saved.path)
        run = _continue(saved, cfg, splits, setup, force)
    except BaseException:
        lock.release()
        raise
    run.lock = lock
    return run


def _check_unchanged(saved: SavedRun) -> None:
    """The checkpoint read before the lock is still the one on disk (another process may have written since)."""
    try:
        same = sha256_of(read_verified(saved.path / CHECKPOINT)) == saved.sha256
    except (OSError, CheckpointError):
        same = False
    if not same:
        raise RunInUse(f"{saved.path}: another nnlab process wrote this run while the resume was starting; "
                       "resume again to continue from its latest checkpoint")


def _continue(saved: SavedRun, cfg: RunConfig, splits, setup, force: bool) -> Run:
    state = saved.checkpoint["train_state"]
    try:
        loop = LoopState.from_train_state(state)
        finished, saved_sha = state["finished"], state["data_sha256"]
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{saved.path / CHECKPOINT}: its training state lacks or garbles {e}") from None
    if finished and loop.epoch > cfg.train.epochs:
        raise UsageError(f"{saved.path}: the run already finished its {cfg.train.epochs} epochs; to train longer, "
                         "add train.epochs=N --force")
    if finished and not force:
        raise UsageError(f"{saved.path}: the run already stopped early (early stopping at epoch {loop.epoch - 1}); "
                         "to train on, raise train.early_stopping.patience and add --force")
    # The stored config with today's defaults filled in: keys added since it was saved do not count as changes.
    check_same_run(str(saved.path), saved.cfg.to_dict(), cfg, saved_sha, splits.fingerprint(), force)
    saved.load_weights(setup.model)
    try:
        restore(saved.checkpoint, setup.optimizer, setup.device)
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as e:
        raise CheckpointError(f"{saved.path / CHECKPOINT}: cannot restore its optimizer or RNG state "
                              f"({str(e).splitlines()[0][:120] if str(e) else type(e).__name__})") from None
    return Run(saved.path, cfg, splits, setup.model, setup.device, setup.threads, setup.optimizer, start_at=loop)
