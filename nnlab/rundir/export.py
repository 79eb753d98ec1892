"""A trained run's model for other runtimes: ONNX, TorchScript or safetensors, with its preprocessing in a JSON
sidecar, reloaded with that runtime and checked against nnlab's own outputs before anything is written.

The exported graph (or weights) takes the model's input matrix: float32 (rows, n_features), the raw
columns already imputed, one-hot encoded and standardized. The sidecar says how, column by column, in
plain numbers (`preprocess` below is the reference a consumer can port), and how to read the outputs
(logits for classifiers: softmax, or sigmoid for one output, then `classes`).
"""

import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnlab.errors import CheckFailed, UsageError

FORMATS = {"onnx": ".onnx", "torchscript": ".pt", "safetensors": ".safetensors"}
NEEDS = {"onnx": ("onnx", "onnxruntime"), "safetensors": ("safetensors",), "torchscript": ()}
TOLERANCE = 1e-5
SIDECAR_FORMAT = "nnlab-export/1"


@dataclass
class Export:
    """What `nnlab export` wrote and what its check found."""

    out: Path
    sidecar: Path
    format: str
    split: str
    rows: int
    max_abs_diff: float  # exported runtime vs nnlab, model outputs
    preprocessing_diff: float  # the sidecar's recipe vs nnlab's preprocessing, model inputs


def require(fmt: str) -> None:
    """The packages a format needs, or a UsageError (exit 2) with the install line."""
    import importlib.util

    if fmt not in FORMATS:
        raise UsageError(f"--format: '{fmt}' is not a format; use onnx, torchscript or safetensors")
    missing = [name for name in NEEDS[fmt] if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(f"--format {fmt}: needs {' and '.join(missing)} (not installed); install the export extra: "
                         "pip install 'nnlab[export]'")


def default_out(run_dir: Path, fmt: str) -> Path:
    return Path(run_dir) / "export" / f"model{FORMATS[fmt]}"


def sidecar_path(out: Path) -> Path:
    """model.onnx -> model.onnx.json (one sidecar per exported file, whatever the formats beside it)."""
    return Path(out).with_name(Path(out).name + ".json")


def export_run(run, fmt: str, out: Path, force: bool = False) -> Export:
    """Export `run` (a SavedRun) as `fmt` to `out`, after checking the reloaded model on the run's test split."""
    import torch

    from nnlab.rundir.safefile import write_atomic

    require(fmt)
    out, sidecar_out = Path(out), sidecar_path(out)
    for path in (out, sidecar_out):
        if path.exists() and not force:
            raise UsageError(f"--out: {path} exists; nnlab does not overwrite files: pick another path or pass --force")
    model = run.build_model("cpu").eval()
    sidecar = describe(run, out.name, fmt)
    split, raw, X = _check_rows(run)
    mine = preprocess(sidecar, raw)
    preprocessing_diff = float(np.max(np.abs(mine - X))) if len(X) else 0.0
    with torch.inference_mode():
        expected = model(torch.from_numpy(X)).numpy()
    data = _serialize(model, fmt, sidecar, torch.from_numpy(X[:2] if len(X) else np.zeros((1, X.shape[1]), np.float32)))
    got = _run(data, fmt, run, mine.astype(np.float32))
    max_abs_diff = float(np.max(np.abs(got - expected))) if len(X) else 0.0
    sidecar["check"] = {"split": split, "rows": len(X), "max_abs_diff": max_abs_diff,
                        "preprocessing_max_abs_diff": preprocessing_diff, "tolerance": TOLERANCE}
    if not max_abs_diff <= TOLERANCE or not preprocessing_diff <= TOLERANCE:
        what = "the sidecar's preprocessing" if not preprocessing_diff <= TOLERANCE else f"{_runtime(fmt)}'s outputs"
        worst = max(max_abs_diff, preprocessing_diff)
        raise CheckFailed(f"{run.path}: {what} differ from nnlab's by up to {worst:.3g} on the {split} split "
                          f"({len(X)} rows; the limit is {TOLERANCE:g}); nothing was written")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, data)
        write_atomic(sidecar_out, (json.dumps(sidecar, indent=2) + "\n").encode())
    except OSError as e:
        raise UsageError(f"--out: cannot write {out}: {e.strerror}") from None
    return Export(out, sidecar_out, fmt, split, len(X), max_abs_diff, preprocessing_diff)


def _runtime(fmt: str) -> str:
    return {"onnx": "onnxruntime", "torchscript": "torch.jit", "safetensors": "safetensors"}[fmt]


def describe(run, model_file: str, fmt: str) -> dict:
    """The sidecar: every input column's steps, the model's input and output layout, the architecture."""
    from nnlab import __version__

    prep, cfg, ckpt = run.prep, run.cfg, run.checkpoint
    enc = prep.encoding
    columns = list(ckpt["feature_names"])
    steps, i = [], 0
    for name in columns:
        if enc is not None and name in enc.categories:
            cats = enc.categories[name]
            steps.append({"column": name, "kind": "one_hot", "categories": cats, "fill": enc.fill.get(name)})
            i += len(cats)
            continue
        step = {"column": name, "kind": "number", "fill": enc.fill.get(name) if enc else None}
        if prep.mean is not None:
            step.update(mean=float(prep.mean[i]), scale=float(prep.scale[i]))
        steps.append(step)
        i += 1
    classification = cfg.task == "classification"
    return {
        "format": SIDECAR_FORMAT, "nnlab_version": __version__, "model_file": model_file, "model_format": fmt,
        "input": {"name": "input", "dtype": "float32", "n_features": ckpt["n_features"],
                  "names": ckpt.get("input_names", columns), "columns": steps},
        "output": {"name": "scores", "n_outputs": ckpt["n_outputs"], "task": cfg.task, "target": ckpt["target_name"],
                   "meaning": ("logits: softmax (sigmoid for one output, giving the second class) then classes"
                               if classification else "predicted values"),
                   "classes": prep.classes if classification else None},
        "architecture": cfg.model.model_dump(mode="json"),
    }


def preprocess(sidecar: dict, raw: dict[str, np.ndarray]) -> np.ndarray:
    """The sidecar's recipe on raw columns {name: (N,) numbers, or strings for one-hot columns}: the model's input.

    Number: a missing value (NaN) takes `fill`, then (x - mean) / scale in float32. One-hot: one 0/1 column per
    category, in order (a missing value takes `fill`).
    """
    blocks = []
    for step in sidecar["input"]["columns"]:
        values = raw[step["column"]]
        if step["kind"] == "one_hot":
            values = np.array([step["fill"] if v is None else v for v in values.tolist()], dtype=object)
            blocks += [(values == c).astype(np.float32) for c in step["categories"]]
            continue
        x = np.asarray(values, dtype=np.float32)
        if step["fill"] is not None:
            x = np.where(np.isnan(x), np.float32(step["fill"]), x)
        if "mean" in step:
            x = ((x - np.float32(step["mean"])) / np.float32(step["scale"])).astype(np.float32)
        blocks.append(x)
    n = len(next(iter(raw.values()))) if raw else 0
    return np.stack(blocks, axis=1).astype(np.float32) if blocks else np.zeros((n, 0), np.float32)


def _check_rows(run) -> tuple[str, dict, np.ndarray]:
    """(split, its raw columns, nnlab's model input for them): the test split, or train without one."""
    from nnlab.data import load_data
    from nnlab.data.sources import read_source

    splits = load_data(run.cfg, prep=run.prep)
    split = "test" if len(splits.X_test) else "train"
    X_all, _, columns, _, _, text = read_source(run.cfg)
    rows = splits.rows[split]
    raw = {name: (text[name][rows] if name in text else X_all[rows, j]) for j, name in enumerate(columns)}
    return split, raw, splits.X_test if split == "test" else splits.X_train


def _serialize(model, fmt: str, sidecar: dict, example) -> bytes:
    """The model as bytes in `fmt`."""
    import torch

    buffer = io.BytesIO()
    with warnings.catch_warnings():  # torch's deprecation notes on its exporters are not the user's business
        warnings.simplefilter("ignore")
        if fmt == "onnx":
            # The TorchScript-based exporter: it works offline and needs no onnxscript (dynamo=True does).
            torch.onnx.export(model, (example,), buffer, dynamo=False, input_names=["input"], output_names=["scores"],
                              dynamic_axes={"input": {0: "rows"}, "scores": {0: "rows"}}, opset_version=17)
        elif fmt == "torchscript":
            torch.jit.save(torch.jit.trace(model, example), buffer)
        else:
            from safetensors.torch import save

            state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
            return save(state, metadata={"nnlab": json.dumps({"architecture": sidecar["architecture"],
                                                              "n_features": sidecar["input"]["n_features"],
                                                              "n_outputs": sidecar["output"]["n_outputs"]})})
    return buffer.getvalue()


def _run(data: bytes, fmt: str, run, X: np.ndarray) -> np.ndarray:
    """Reload the exported bytes with the format's own runtime and run them on X: (N, n_outputs) float32."""
    import torch

    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
        return session.run(["scores"], {"input": X})[0]
    if fmt == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = torch.jit.load(io.BytesIO(data), map_location="cpu")
        with torch.inference_mode():
            return loaded(torch.from_numpy(X)).numpy()
    from safetensors.torch import load

    state = load(data)
    meta = json.loads(safetensors_metadata(data)["nnlab"])  # the architecture travels in the file's header
    module = run.cfg.model.__class__.model_validate(meta["architecture"]).build(meta["n_features"], meta["n_outputs"])
    module.load_state_dict(state)
    with torch.inference_mode():
        return module.eval()(torch.from_numpy(X)).numpy()


def safetensors_metadata(data: bytes) -> dict:
    """The `__metadata__` of a safetensors file: its header is 8 bytes of little-endian length, then JSON."""
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + n]).get("__metadata__", {})
