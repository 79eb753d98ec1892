"""A trained run on new rows: the input columns, then `prediction` and, for classifiers, `proba_<label>`."""

from pathlib import Path

import numpy as np

from nnlab.errors import DataError, UsageError

PREDICTIONS = "predictions"  # RUN_DIR/predictions/: where predict writes without --out


def predict_frame(run, path: Path, device):
    """The CSV at `path` as read (text kept verbatim) with the run's predictions appended."""
    import pandas as pd
    import torch

    from nnlab.data.load import other_csv_sep, read_labelled
    from nnlab.scoring.metrics import predict_scores

    sep = other_csv_sep(run.cfg)
    cfg = run.cfg.model_copy(update={"data": run.cfg.data.model_copy(update={"dropna": False})}) \
        if hasattr(run.cfg.data, "dropna") else run.cfg  # every row gets a prediction: none may be dropped
    X, _ = read_labelled(Path(path), cfg, run.prep, run.checkpoint["feature_names"], None,  # a target is ignored
                         fix="fill them in or remove those rows: every row gets a prediction")
    model = run.build_model(device)
    scores = predict_scores(model, torch.from_numpy(np.array(X, dtype=np.float32)).to(device))
    frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8", skipinitialspace=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    for name, values in prediction_columns(run.cfg, scores, run.prep.classes).items():
        if name in frame.columns:
            raise DataError(f"{path}: already has a column '{name}'; rename it so predictions do not replace it")
        frame[name] = values
    return frame


def prediction_columns(cfg, scores: np.ndarray, classes: list | None) -> dict:
    """{column: values}: the predicted label (or value) and each class's probability."""
    if cfg.task == "regression":
        if scores.shape[1] == 1:
            return {"prediction": scores[:, 0]}
        return {f"prediction_{i + 1}": scores[:, i] for i in range(scores.shape[1])}
    if scores.shape[1] == 1:  # one logit: sigmoid gives the second class's probability
        p1 = 1 / (1 + np.exp(-scores[:, 0]))
        proba = np.stack([1 - p1, p1], axis=1)
    else:
        shifted = np.exp(scores - scores.max(1, keepdims=True))
        proba = shifted / shifted.sum(1, keepdims=True)
    columns = {"prediction": [classes[i] for i in proba.argmax(1)]}
    columns.update({f"proba_{label}": proba[:, i] for i, label in enumerate(classes)})
    return columns


def default_out(run_dir: Path, data: Path) -> Path:
    """RUN_DIR/predictions/<data stem>.csv, numbered -2, -3, ... rather than replace an earlier file."""
    folder = Path(run_dir) / PREDICTIONS
    for n in range(1, 10_000):
        path = folder / (f"{Path(data).stem}" + (f"-{n}" if n > 1 else "") + ".csv")
        if not path.exists():
            return path
    raise UsageError(f"{folder}: too many prediction files; pass --out")


def write_frame(frame, out: Path, sep: str, force: bool) -> None:
    """Write the CSV atomically; an existing file is replaced only with --force."""
    from nnlab.rundir.safefile import write_atomic

    out = Path(out)
    if out.exists() and not force:
        raise UsageError(f"--out: {out} exists; nnlab does not overwrite files: pick another path or pass --force")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, frame.to_csv(index=False, sep=sep).encode())
    except OSError as e:
        raise UsageError(f"--out: cannot write {out}: {e.strerror}") from None
