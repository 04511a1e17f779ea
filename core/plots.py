"""The training history as a picture (matplotlib's object interface: no
pyplot, so importing this changes no one's plotting backend)."""

from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def plot_history(history: list[dict], path: Path) -> None:
    """One panel per metric, training beside validation, by epoch; a metric
    measured on validation only (say BLEU) gets a panel of its own."""
    names = [
        key.removeprefix("val_")
        for key in history[0]
        if key not in ("epoch", "learning_rate", "clip_fraction")
        and not key.endswith("_seconds")
        and not key.startswith("grad_norm")
        and not (key.startswith("val_") and key.removeprefix("val_") in history[0])
    ]
    figure = Figure(figsize=(5 * len(names), 3.5))
    axes = figure.subplots(1, len(names), squeeze=False)
    epochs = [row["epoch"] + 1 for row in history]
    for axis, name in zip(axes[0], names, strict=True):
        if name in history[0]:
            axis.plot(epochs, [row[name] for row in history], marker="o", label="train")
        if f"val_{name}" in history[0]:
            axis.plot(
                epochs, [row[f"val_{name}"] for row in history], marker="o", label="validation"
            )
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_title(name)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def plot_flow_curves(records: list[dict], path: Path) -> None:
    """||dL/dh_t|| against the distance back from the last step, log scale,
    one panel per recurrent layer, one curve per measured epoch."""
    layers = list(records[-1]["layers"])
    figure, axes = _panels(len(layers))
    colours = colormaps["viridis"](np.linspace(0, 0.9, len(records)))
    for axis, layer in zip(axes, layers, strict=True):
        for record, colour in zip(records, colours, strict=True):
            norms = np.array(record["layers"][layer]["by_distance"], dtype=float)
            label = "initialisation" if record["epoch"] == 0 else f"after epoch {record['epoch']}"
            if "run" in record:  # a finished run's kept weights
                label = f"kept weights (epoch {record['epoch']})"
            axis.semilogy(np.arange(len(norms)), norms, color=colour, label=label)
        axis.set_xlabel("steps back from the last step (T - t)")
        axis.set_ylabel("mean ||dL/dh_t||")
        axis.set_title(layer)
        axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def plot_flow_heatmap(records: list[dict], path: Path) -> None:
    """log10 ||dL/dh_t|| by epoch (rows) and distance back (columns), one
    panel per recurrent layer."""
    layers = list(records[-1]["layers"])
    figure, axes = _panels(len(layers))
    for axis, layer in zip(axes, layers, strict=True):
        rows = [np.array(r["layers"][layer]["by_distance"], dtype=float) for r in records]
        width = max(len(row) for row in rows)
        grid = np.full((len(rows), width), np.nan)
        for index, row in enumerate(rows):
            grid[index, : len(row)] = np.log10(np.where(row > 0, row, np.nan))
        image = axis.imshow(grid, aspect="auto", origin="lower", interpolation="nearest")
        axis.set_yticks(range(len(records)), [str(r["epoch"]) for r in records])
        axis.set_xlabel("steps back from the last step (T - t)")
        axis.set_ylabel("epoch")
        axis.set_title(layer)
        figure.colorbar(image, ax=axis, label="log10 ||dL/dh_t||")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def _panels(count: int, columns: int = 3) -> tuple:
    """A figure of `count` panels, at most `columns` to a row; the panels in order."""
    width = min(count, columns)
    rows = -(-count // width)
    figure = Figure(figsize=(5 * width, 3.5 * rows))
    axes = figure.subplots(rows, width, squeeze=False).ravel()
    for spare in axes[count:]:
        spare.set_visible(False)
    return figure, list(axes[:count])
