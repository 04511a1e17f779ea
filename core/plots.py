"""The training history as a picture (matplotlib's object interface: no
pyplot, so importing this changes no one's plotting backend)."""

from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def plot_history(history: list[dict], path: Path) -> None:
    """One panel per metric, training beside validation, by epoch; a metric
    measured on validation only (say BLEU) gets a panel of its own."""
    names = [
        key.removeprefix("val_")
        for key in history[0]
        if key not in ("epoch", "learning_rate")
        and not key.endswith("_seconds")
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
