"""The files of a run directory: config.yaml, metrics.csv, checkpoint.pt and summary.json, written and read back."""

import csv
import json
import shlex
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from nnlab.config import RunConfig, validate
from nnlab.data import Preprocessing
from nnlab.errors import CheckpointError, ConfigError, UsageError
from nnlab.rundir.safefile import read_verified, sha256_of, write_atomic, write_verified

CONFIG, METRICS, CHECKPOINT, SUMMARY = "config.yaml", "metrics.csv", "checkpoint.pt", "summary.json"
FORMAT = "nnlab-checkpoint/1"
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # a safe dumper either way


def checkpoint_payload(model, cfg: RunConfig, prep: Preprocessing, feature_names: list[str],
                       target_name: str, n_outputs: int, threads: int, train_state: dict | None = None,
                       train_rows: int | None = None) -> dict:
    """Everything eval (and, with `train_state`, --resume) needs, as tensors and plain Python values
    (loadable with weights_only=True). `feature_names` are the raw columns a CSV must have; `input_names`
    the model's inputs after the encoding (one-hot categories, fitted on the train rows)."""
    from nnlab import __version__

    inputs = prep.input_names(feature_names)  # one-hot columns become one input per category
    return {"format": FORMAT, "nnlab_version": __version__, "config": cfg.to_dict(),
            "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "preprocessing": prep.to_dict(), "feature_names": list(feature_names), "input_names": inputs,
            "target_name": target_name, "n_features": len(inputs), "n_outputs": n_outputs,
            "threads": threads,  # eval reuses it: matmul sums depend on the thread count
            "train_rows": train_rows,  # eval --data reports an sse loss per training step's rows
            "train_state": train_state}


@contextmanager
def saving(run_dir: Path):
    """A disk that is full or read-only: a CheckpointError (exit 4); the files already there stay intact."""
    import errno

    try:
        yield
    except OSError as e:
        hint = "make it writable, or copy the run directory somewhere writable" \
            if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM) else "free some space or pick another output folder"
        raise CheckpointError(f"{run_dir}: cannot save: {e.strerror or e}; {hint} (the previous checkpoint is "
                              "intact)") from None


def save_checkpoint(run_dir: Path, payload: dict) -> None:
    """checkpoint.pt, written atomically, with its sha256 in checkpoint.pt.sha256."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with saving(run_dir):
        write_verified(Path(run_dir) / CHECKPOINT, buffer.getvalue())


def save_config(run_dir: Path, cfg: RunConfig) -> None:
    with saving(run_dir):
        text = yaml.dump(cfg.to_dict(), Dumper=_DUMPER, sort_keys=False)  # libyaml's: 5 ms a file faster
        write_atomic(Path(run_dir) / CONFIG, text.encode())


def save_progress(run_dir: Path, history: list[dict], payload: dict | None, summary: dict | None = None) -> None:
    """Checkpoint (when given), then metrics.csv (and summary.json): what a run has so far."""
    run_dir = Path(run_dir)
    if payload is not None:
        save_checkpoint(run_dir, payload)
    with saving(run_dir):
        write_atomic(run_dir / METRICS, _csv_bytes(history))
    if summary is not None:
        save_summary(run_dir, summary)


def save_summary(run_dir: Path, summary: dict) -> None:
    with saving(run_dir):
        write_atomic(Path(run_dir) / SUMMARY, (json.dumps(summary, indent=2) + "\n").encode())


WALL_CLOCK = ("seconds",)  # history keys kept out of metrics.csv, so that a resumed run's file is identical


def _csv_bytes(rows: list[dict]) -> bytes:
    import io

    out = io.StringIO()
    columns = [k for k in dict.fromkeys(k for row in rows for k in row) if k not in WALL_CLOCK]
    if not columns:
        return b""  # nothing logged yet
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


@dataclass
class SavedRun:
    """A run directory read back: its config, preprocessing and checkpoint payload."""

    path: Path
    cfg: RunConfig
    prep: Preprocessing
    checkpoint: dict
    sha256: str = ""  # of the checkpoint file as it was read

    def build_model(self, device):
        """The trained module on `device`; tensors that do not fit the config are a CheckpointError."""
        model = self.cfg.model.build(self.checkpoint["n_features"], self.checkpoint["n_outputs"])
        return self.load_weights(model).to(device)

    def load_weights(self, model):
        """Copy the checkpoint's weights into `model`, after checking every name and shape."""
        expected = model.state_dict()
        state = self.checkpoint["model_state"]
        for name, tensor in expected.items():
            if name not in state:
                raise CheckpointError(f"{self.path / CHECKPOINT}: tensor '{name}' is missing")
            if tuple(state[name].shape) != tuple(tensor.shape):
                raise CheckpointError(f"{self.path / CHECKPOINT}: tensor '{name}' has shape "
                                      f"{tuple(state[name].shape)} but the config's model needs {tuple(tensor.shape)}")
        extra = sorted(set(state) - set(expected))
        if extra:
            raise CheckpointError(f"{self.path / CHECKPOINT}: unexpected tensor '{extra[0]}' for this model")
        model.load_state_dict(state)
        return model


def is_sweep_folder(path: Path) -> bool:
    """A sweep's (or train --seeds') folder: aggregates and one sub-run per model, no run of its own."""
    return (Path(path) / "points.csv").is_file() and (Path(path) / "runs.csv").is_file()


def not_a_run(path: Path, otherwise: str) -> UsageError:
    """The error for a folder that is not one run: `other_folder`'s, or `otherwise`."""
    return other_folder(path) or UsageError(f"{path}: {otherwise}")


def other_folder(path: Path) -> UsageError | None:
    """For a folder nnlab wrote that is not one run, a usage error saying what it is and what to give instead: a sweep
    folder names one of its sub-runs, an lr-find folder the train command its suggested lr makes. None otherwise."""
    path = Path(path)
    if is_sweep_folder(path):
        subs = sorted(p for p in path.iterdir() if p.is_dir())
        example = f"; give one of its {len(subs)} runs, e.g. {subs[0]}" if subs else ""
        return UsageError(f"{path}: is a sweep folder (points.csv, runs.csv and one run per model), not a run"
                          f"{example}")
    if (path / "lr_find.csv").is_file():
        try:
            summary = json.loads(_text(path / SUMMARY))
            command = shlex.join(["nnlab", "train", summary["config"], f"optimizer.lr={summary['suggested_lr']:g}"])
        except (ValueError, TypeError, KeyError):  # no suggestion (every lr diverged), or a garbled summary
            command = "nnlab train CONFIG"
        return UsageError(f"{path}: is an lr-find folder (the loss after each learning rate), not a run; train one "
                          f"with its suggested lr: {command}")
    return None


def _text(path: Path) -> str:
    """The start of a regular file, or '' (never blocks on a FIFO)."""
    try:
        if not path.is_file():
            return ""
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(1 << 16)
    except OSError:
        return ""


def load_run(run_dir: Path) -> SavedRun:
    """Read a run directory; never unpickles anything but tensors and plain containers."""
    import torch

    run_dir = Path(run_dir)
    path = run_dir / CHECKPOINT
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: no such run directory")
    if not path.is_file():
        if (other := other_folder(run_dir)) is not None:
            raise other
        if '"status": "diverged"' in _text(run_dir / SUMMARY):
            raise CheckpointError(f"{path}: no checkpoint: the run diverged before its first one; retrain it with a "
                                  "smaller optimizer.lr")
        raise CheckpointError(f"{path}: no checkpoint in this run directory; was the run finished?")
    import io

    try:
        data = read_verified(path)  # sha256 first: a damaged file is reported as corrupt, not unpickled
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read: {e.strerror}") from None
    try:
        with warnings.catch_warnings():  # a foreign pickle's protocol warning is noise next to our error
            warnings.simplefilter("ignore")
            payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for a bad file; all mean the same
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0].split(". ")[0]
        raise CheckpointError(f"{path}: corrupt or not an nnlab checkpoint ({reason[:120]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an nnlab checkpoint (format {FORMAT} expected)")
    try:
        cfg = validate(payload["config"], str(path))
        check_contents(payload, cfg, path)
        prep = Preprocessing.from_dict(payload["preprocessing"])
    except ConfigError as e:
        raise CheckpointError(f"the config stored in {e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: checkpoint lacks or garbles {e}") from None
    return SavedRun(run_dir, cfg, prep, payload, sha256_of(data))


def check_contents(payload: dict, cfg: RunConfig, path: Path) -> None:
    """Every value eval, predict and --resume read, checked against the stored config before any use: a
    checkpoint that was edited (its sha256 fixed up) is a CheckpointError naming the key, never a crash or a
    silently broadcast scaler."""
    import math

    import torch

    def bad(key: str, what: str):
        raise CheckpointError(f"{path}: '{key}' {what}; the checkpoint does not fit its config (edited?)")

    def count(key: str) -> int:
        value = payload.get(key)
        if type(value) is not int or value < 1:
            bad(key, f"is {value!r}, not a positive whole number")
        return value

    state = payload.get("model_state")
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        bad("model_state", "is not a mapping of tensor names to tensors")
    n_features, n_outputs = count("n_features"), count("n_outputs")
    if "threads" in payload:
        count("threads")
    names, inputs = payload.get("feature_names"), payload.get("input_names", payload.get("feature_names"))
    encoded = isinstance(payload.get("preprocessing"), dict) and payload["preprocessing"].get("encoding") is not None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or \
            (not encoded and len(names) != n_features):
        bad("feature_names", f"is not a list of {n_features} column names (n_features)")
    if not isinstance(inputs, list) or not all(isinstance(n, str) for n in inputs) or len(inputs) != n_features:
        bad("input_names", f"is not a list of {n_features} model inputs (n_features)")
    if not isinstance(payload.get("target_name"), str):
        bad("target_name", "is not a column name")
    if cfg.data.source == "csv" and (payload["target_name"] != cfg.data.target or
                                     cfg.data.features not in (None, names)):
        bad("feature_names", "and target_name differ from the config's data.features and data.target")
    if cfg.model.max_features and n_features > cfg.model.max_features:
        bad("n_features", f"is {n_features}, but a {cfg.model.kind} model takes {cfg.model.max_features}")
    prep = payload.get("preprocessing")
    if not isinstance(prep, dict):
        bad("preprocessing", "is not a mapping")
    for key in ("mean", "scale"):
        values = prep.get(key)
        if (values is None) != (not cfg.data.standardize):
            bad(f"preprocessing.{key}", "does not match data.standardize")
        if values is not None and (not isinstance(values, list) or len(values) != n_features or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)):
            bad(f"preprocessing.{key}", f"is not a list of {n_features} finite numbers (one per feature)")
    if prep.get("scale") is not None and not all(v > 0 for v in prep["scale"]):
        bad("preprocessing.scale", "holds a value that is not positive")
    classes = prep.get("classes")
    if cfg.task == "regression":
        if classes is not None:
            bad("preprocessing.classes", "is set for a regression model")
        return
    if not isinstance(classes, list) or len(classes) < 2 or len({repr(c) for c in classes}) != len(classes) or \
            not all(isinstance(c, (str, int, float)) for c in classes):
        bad("preprocessing.classes", "is not a list of two or more distinct labels")
    expected = len(classes) if cfg.loss == "cross_entropy" else 1
    if n_outputs != expected or (cfg.loss == "bce" and len(classes) != 2):
        bad("n_outputs", f"is {n_outputs}, but {len(classes)} classes with loss {cfg.loss} need {expected}")
