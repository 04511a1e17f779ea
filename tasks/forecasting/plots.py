"""Pictures of forecasts: chosen test windows against the truth, and the
forecast for the latest window of a file."""

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from data.series import Series, Windows


def future_dates(dates: np.ndarray | None, steps: int) -> np.ndarray | None:
    """The `steps` timestamps after the last date, at the series' usual spacing."""
    if dates is None or len(dates) < 2:
        return None
    step = np.median(np.diff(dates).astype("timedelta64[s]").astype(np.int64))
    return dates[-1] + np.arange(1, steps + 1) * np.timedelta64(int(step), "s")


def _axis_values(series: Series, first: int, count: int) -> np.ndarray:
    """Dates of rows `[first, first + count)`, or row numbers without dates."""
    if series.dates is None:
        return np.arange(first, first + count)
    return series.dates[first : first + count]


def windows_figure(
    windows: Windows,
    forecasts: np.ndarray,
    chosen: np.ndarray,
    column: int,
    name: str,
    path: Path,
) -> None:
    """One panel per chosen window: its lookback, the actual future, the forecast.

    `forecasts` holds one channel's raw forecast per window, `(windows, horizon)`.
    """
    lookback, horizon = windows.lookback, windows.horizon
    figure = Figure(figsize=(11, 2.6 * len(chosen)))
    axes = figure.subplots(len(chosen), 1, squeeze=False)
    for axis, index in zip(axes[:, 0], chosen, strict=True):
        first = int(windows.starts[index])
        times = _axis_values(windows.series, first, lookback + horizon)
        axis.plot(times[:lookback], windows.inputs[index, :, column], color="0.5", label="lookback")
        axis.plot(times[lookback:], windows.targets[index, :, column], label="actual")
        axis.plot(times[lookback:], forecasts[index], label="forecast")
        axis.set_title(f"{windows.series.name} {name}, test window {index + 1} of {len(windows)}")
        axis.legend(loc="upper left", fontsize="small")
    figure.tight_layout()
    # Benchmarks commit one per dataset and horizon: small enough for git.
    figure.savefig(path, dpi=72)


def latest_figure(
    series: Series,
    window: np.ndarray,
    forecast: np.ndarray,
    columns: list[str],
    targets: list[int],
    path: str | Path,
) -> None:
    """The latest window and its forecast, one panel per forecast channel."""
    lookback, horizon = window.shape[0], forecast.shape[0]
    past = _axis_values(series, len(series.values) - lookback, lookback)
    future = future_dates(series.dates, horizon)
    if future is None:
        future = np.arange(len(series.values), len(series.values) + horizon)
    figure = Figure(figsize=(11, 2.4 * len(targets)))
    axes = figure.subplots(len(targets), 1, squeeze=False)
    for axis, (position, column) in zip(axes[:, 0], enumerate(targets), strict=True):
        axis.plot(past, window[:, column], color="0.5", label="history")
        axis.plot(future, forecast[:, position], label="forecast")
        axis.set_title(f"{series.name} {columns[column]}")
        axis.legend(loc="upper left", fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
