"""Attention heat maps: which source pieces each output piece looked at."""

import numpy as np
from matplotlib.figure import Figure


def attention_map_path(path: str, index: int, count: int) -> str:
    """`map.png` for one input; `map-1.png`, `map-2.png`, ... for several."""
    if count == 1:
        return path
    stem, dot, suffix = path.rpartition(".")
    return f"{stem}-{index + 1}.{suffix}" if dot else f"{path}-{index + 1}"


def plot_attention(weights: np.ndarray, source: np.ndarray, target: np.ndarray, path: str):
    """A heat map: one row per output piece, one column per input piece."""
    source = [piece.decode("utf-8") for piece in source if piece]
    target = [piece.decode("utf-8") for piece in target if piece]
    weights = weights[: len(target), : len(source)]
    figure = Figure(figsize=(1 + 0.45 * len(source), 1 + 0.4 * len(target)))
    axis = figure.subplots()
    axis.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axis.set_xticks(range(len(source)), source, rotation=60, ha="right")
    axis.set_yticks(range(len(target)), target)
    axis.set_xlabel("source pieces")
    axis.set_ylabel("translation pieces")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
