"""PNG plots for a run directory: the loss curve, the fitted curve of a one-input regression, the confusion matrix.

matplotlib is imported only here, only when a run plots, and only its Figure and Agg canvas: pyplot (its global
figure manager and backend machinery) costs most of a second on every run and draws nothing more.
"""

from pathlib import Path

import numpy as np

from nnlab.views.sparkline import spans_decades

LOSS_NAMES = {"mse": "mean squared error", "sse": "sum of squared errors per step", "bce": "binary cross-entropy",
              "cross_entropy": "cross-entropy"}


def save_run_plots(run_dir: Path, cfg, history: list[dict], model, splits, device, baseline: dict | None,
                   best_epoch: int | None = None) -> list[Path]:
    """Every plot that fits this run, drawn here: loss.png always (the best validation epoch marked), fit.png or
    confusion.png when they apply."""
    return draw(plot_jobs(run_dir, cfg, history, model, splits, device, baseline, best_epoch))


def plot_jobs(run_dir: Path, cfg, history: list[dict], model, splits, device, baseline: dict | None,
              best_epoch: int | None = None) -> list[tuple]:
    """The plots that fit this run as (function name, keyword arguments of plain data): draw() makes them, here or
    in views.plotter's helper process."""
    from nnlab.scoring.baselines import least_squares_curve
    from nnlab.scoring.metrics import predict_scores, predicted_classes

    run_dir = Path(run_dir)
    jobs = [("loss_curve", {"path": run_dir / "loss.png", "history": history, "loss": cfg.loss, "title": cfg.name,
                            "best_epoch": best_epoch})]
    scores = lambda X: predict_scores(model, _tensor(X, device))  # noqa: E731
    if cfg.task == "regression" and splits.n_features == 1 and splits.y_train.shape[1] == 1:
        unscale = _unscaler(splits.prep)
        x_all = np.concatenate([splits.X_train[:, 0], splits.X_test[:, 0]])
        grid = np.linspace(x_all.min(), x_all.max(), 400, dtype=np.float32)[:, None]  # in the model's units
        labels = {"x": splits.feature_names[0], "y": splits.target_name,
                  "title": f"{cfg.name}: {cfg.model.kind} fit" + (f", degree {cfg.model.degree}"
                                                                  if cfg.model.kind == "polynomial" else "")}
        jobs.append(("fitted_curve", {
            "path": run_dir / "fit.png", "x_train": unscale(splits.X_train[:, 0]), "y_train": splits.y_train[:, 0],
            "x_test": unscale(splits.X_test[:, 0]), "y_test": splits.y_test[:, 0], "grid": unscale(grid[:, 0]),
            "predicted": scores(grid)[:, 0], "baseline": least_squares_curve(cfg, baseline, grid), "labels": labels}))
    elif cfg.task == "classification":
        split, X, y = ("test", splits.X_test, splits.y_test) if len(splits.X_test) else \
            ("train", splits.X_train, splits.y_train)
        jobs.append(("confusion_matrix", {
            "path": run_dir / "confusion.png", "y_true": y.reshape(-1).astype(np.int64),
            "y_pred": predicted_classes(scores(X)), "classes": splits.prep.classes,
            "title": f"{cfg.name}: confusion matrix, {split} split ({len(X)} rows)"}))
    return jobs


def draw(jobs: list[tuple]) -> list[Path]:
    """Make each (function name, keyword arguments) of plot_jobs(); the paths written."""
    drawers = {"loss_curve": loss_curve, "fitted_curve": fitted_curve, "confusion_matrix": confusion_matrix}
    return [drawers[name](**kwargs) for name, kwargs in jobs]


def preload() -> None:
    """Import what drawing needs and draw a throwaway figure (fonts, text layout, the PNG writer): the cost of a
    first plot, paid in the helper process while the run trains."""
    import io

    fig, ax = _figure(2, 2)
    ax.plot([1, 2], [1, 10], "-o", label="warm")
    ax.set_yscale("log")
    ax.set_title("warm")
    ax.legend()
    fig.colorbar(ax.imshow([[0, 1], [1, 0]], cmap="Blues"), ax=ax)
    fig.savefig(io.BytesIO(), format="png", dpi=30, pil_kwargs={"compress_level": 1})


def _tensor(X: np.ndarray, device):
    import torch

    return torch.from_numpy(np.ascontiguousarray(X)).to(device)


def _unscaler(prep):
    """Model inputs back to the data's own units (undoes standardization of the one feature)."""
    if prep.mean is None:
        return lambda x: x
    return lambda x: x * float(prep.scale[0]) + float(prep.mean[0])


def _figure_classes():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    return Figure, FigureCanvasAgg


def _figure(width: float, height: float):
    """A figure drawn by the Agg canvas (files only: no display, works over ssh and in CI), and its axes."""
    Figure, FigureCanvasAgg = _figure_classes()
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def loss_curve(path: Path, history: list[dict], loss: str, title: str, best_epoch: int | None = None) -> Path:
    """Train, validation and test loss against epoch; a log scale when the values span more than two decades."""
    fig, ax = _figure(7, 4.5)
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.92)  # fixed margins: a layout engine draws twice
    epochs = [row["epoch"] for row in history]
    values = []
    for key, label, style in (("train_loss", "train", "-o"), ("val_loss", "val", "-^"), ("test_loss", "test", "-s")):
        series = [row.get(key) for row in history]
        if all(v is not None for v in series):
            ax.plot(epochs, series, style, label=label, markersize=3)
            values += series
    if best_epoch is not None:
        ax.axvline(best_epoch, linestyle=":", color="tab:gray", label=f"best epoch ({best_epoch})")
    if spans_decades(values):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)  # no epoch 2.5
    ax.set_ylabel(f"loss: {LOSS_NAMES[loss]}" + (" (log scale)" if ax.get_yscale() == "log" else ""))
    ax.set_title(f"{title}: loss per epoch")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return _save(fig, path)


def fitted_curve(path: Path, x_train, y_train, x_test, y_test, grid, predicted, baseline, labels: dict) -> Path:
    """A one-input regression as the notebooks draw it: the data points and the fitted curve over them."""
    fig, ax = _figure(7, 4.5)
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.92)  # fixed margins: a layout engine draws twice
    small = len(x_train) > 500  # thousands of points: thin dots, so the curve stays visible
    ax.scatter(x_train, y_train, s=2 if small else 12, alpha=0.6, color="tab:gray", label="train data", zorder=3)
    if len(x_test):
        ax.scatter(x_test, y_test, s=2 if small else 12, alpha=0.8, color="tab:orange", label="test data", zorder=3)
    ax.plot(grid, predicted, color="tab:blue", linewidth=2, label="network")
    if baseline is not None:
        ax.plot(grid, baseline, "--", color="tab:red", linewidth=1.5, label="least-squares optimum")
    ax.set_xlabel(labels["x"])
    ax.set_ylabel(labels["y"])
    ax.set_title(labels["title"])
    ax.grid(True, alpha=0.3)
    ax.legend()
    return _save(fig, path)


def confusion_matrix(path: Path, y_true: np.ndarray, y_pred: np.ndarray, classes: list, title: str) -> Path:
    """Counts of true class (rows) against predicted class (columns), each cell labelled."""
    from nnlab.scoring.metrics import confusion_counts

    k = len(classes)
    counts = confusion_counts(y_true, y_pred, k)
    size = max(4.0, 0.6 * k + 2.5)
    fig, ax = _figure(size + 1, size)
    fig.subplots_adjust(left=0.15, right=0.95, bottom=0.15, top=0.9)
    image = ax.imshow(counts, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, label="rows (count)")
    names = [str(c) for c in classes]
    ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 3 else 0)
    ax.set_yticks(range(k), names)
    for i in range(k):
        for j in range(k):
            dark = counts[i, j] > counts.max() / 2
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", color="white" if dark else "black")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    """The PNG drawn in memory, then written as every run file is (rundir.safefile: never through a link)."""
    import io

    from nnlab.rundir.safefile import write_atomic
    from nnlab.rundir.store import saving

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, pil_kwargs={"compress_level": 1})  # zlib's fastest: drawing costs
    with saving(Path(path).parent):
        write_atomic(Path(path), buffer.getvalue())
    return Path(path)
