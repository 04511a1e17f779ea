"""Multivariate time series: CSV reading, chronological splits, windows, batches.

The long-horizon forecasting protocol (Informer, Autoformer, PatchTST, SegRNN)
splits a series by time, never at random: train rows first, then
validation, then test. The validation and test parts start `lookback` rows
early, so that their first window forecasts the first row after the
previous part; every window whose forecast lies inside a part is used.
"""

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from sklearn.preprocessing import StandardScaler

from data.errors import DataFormatError
from data.options import REPEATED_TIMES
from data.tables import read_utf8

MISSING = {"", "na", "nan", "null", "none", "?", "-"}
SPLITS = ("train", "validation", "test")
DAY_SECONDS = 24 * 3600
# The ETT papers' calendar splits (`--split`), by the seconds between rows.
ETT_STEPS = {"ett-hourly": 3600, "ett-minute": 900}


@dataclass(frozen=True)
class Series:
    """A series as read: `values` (rows, channels) float32, one name per channel,
    and the timestamps (`datetime64[s]`) when the file has a date column."""

    name: str
    columns: tuple[str, ...]
    values: np.ndarray
    dates: np.ndarray | None = None


@dataclass(frozen=True)
class Windows:
    """Every window of `lookback` input rows and `horizon` target rows that lies
    in rows `[start, stop)` of `series`, in time order, one per start row.

    The windows are views into the series, never copies, so all of ETTm1's
    overlapping windows cost no memory.
    """

    series: Series
    start: int
    stop: int
    lookback: int
    horizon: int

    def __len__(self) -> int:
        return max(0, self.stop - self.start - self.lookback - self.horizon + 1)

    @property
    def starts(self) -> np.ndarray:
        """The first row of each window."""
        return np.arange(self.start, self.start + len(self))

    @property
    def inputs(self) -> np.ndarray:
        """`(windows, lookback, channels)` raw values."""
        rows = self.series.values[self.start : self.start + len(self) + self.lookback - 1]
        return np.lib.stride_tricks.sliding_window_view(rows, self.lookback, axis=0).swapaxes(1, 2)

    @property
    def targets(self) -> np.ndarray:
        """`(windows, horizon, channels)` raw values that follow each input."""
        rows = self.series.values[self.start + self.lookback : self.stop]
        return np.lib.stride_tricks.sliding_window_view(rows, self.horizon, axis=0).swapaxes(1, 2)

    def first(self, count: int) -> "Windows":
        """The first `count` windows (for smoke runs)."""
        stop = min(self.stop, self.start + count + self.lookback + self.horizon - 1)
        return Windows(self.series, self.start, stop, self.lookback, self.horizon)


def protocol_borders(ends: tuple[int, int, int], lookback: int) -> dict[str, tuple[int, int]]:
    """Row ranges of the three parts, given where train, validation and test end.

    ETTh: ends (8640, 11520, 14400), i.e. 12/4/4 months of hours; ETTm: 4x.
    """
    train_end, validation_end, test_end = ends
    return {
        "train": (0, train_end),
        "validation": (train_end - lookback, validation_end),
        "test": (validation_end - lookback, test_end),
    }


def ratio_ends(rows: int) -> tuple[int, int, int]:
    """70% train, 10% validation, 20% test: the protocol's split of other series."""
    train, test = int(rows * 0.7), int(rows * 0.2)
    return train, rows - test, rows


def month_ends(step_seconds: int) -> tuple[int, int, int]:
    """Where train, validation and test end in the ETT papers' split: after
    12, 16 and 20 months of 30 days of rows `step_seconds` apart (hourly:
    8640, 11520, 14400)."""
    month = 30 * DAY_SECONDS // step_seconds
    return 12 * month, 16 * month, 20 * month


def split_ends(series: Series, split: str, path: str | Path) -> tuple[int, int, int]:
    """Where the parts of a series read from `path` end under `--split`:
    70/10/20%, or the ETT months, which hold only if the rows are that far
    apart, all of them, and fill the 20 months."""
    if split == "ratio":
        return ratio_ends(len(series.values))
    step = ETT_STEPS[split]
    ends = month_ends(step)
    _require_step(series, step, f"--split {split}", path)
    if len(series.values) < ends[-1]:
        raise DataFormatError(
            f"{path}: --split {split} needs {ends[-1]} rows (20 months of rows "
            f"{_duration(step)} apart), the file has {len(series.values)}"
        )
    return ends


def _require_step(series: Series, step_seconds: int, option: str, path: str | Path) -> None:
    """Refuses a series unless each date follows the one before by `step_seconds`
    or repeats it."""
    if series.dates is None:
        raise DataFormatError(f"{path}: {option} needs each row's date; give --date-column")
    gaps = np.diff(series.dates).astype("timedelta64[s]").astype(np.int64)
    # A repeated time got past `read_series` only with --repeated-times keep,
    # which reads by row as the published loaders do; the ETT months are
    # counted in rows too, so a repeat is one more row, every other gap exact.
    wrong = np.flatnonzero((gaps != step_seconds) & (gaps != 0))
    if len(wrong):
        row = wrong[0] + 1
        late, early = (str(date).replace("T", " ") for date in series.dates[[row, row - 1]])
        # Line 1 is the header; blank lines aside, row r is on line r + 2.
        raise DataFormatError(
            f"{path}, line {row + 2}: {late} comes {_duration(gaps[row - 1])} after "
            f"{early}; {option} needs every row {_duration(step_seconds)} after the one before"
        )


def _duration(seconds: int) -> str:
    """`3600` -> '1 hour', `900` -> '15 minutes': in the largest whole unit."""
    sizes = {"day": DAY_SECONDS, "hour": 3600, "minute": 60, "second": 1}
    unit = next(unit for unit, size in sizes.items() if seconds % size == 0)
    count = int(seconds // sizes[unit])
    return f"{count} {unit}{'' if count == 1 else 's'}"


def split_windows(
    series: Series, ends: tuple[int, int, int], lookback: int, horizon: int
) -> dict[str, Windows]:
    """The protocol's train/validation/test windows; too short a series is an error."""
    if ends[-1] > len(series.values):
        raise DataFormatError(
            f"{series.name}: the protocol needs {ends[-1]} rows, the series has "
            f"{len(series.values)}"
        )
    windows = {
        name: Windows(series, start, stop, lookback, horizon)
        for name, (start, stop) in protocol_borders(ends, lookback).items()
    }
    empty = [name for name, part in windows.items() if len(part) == 0]
    if empty:
        rows = len(series.values)
        raise DataFormatError(
            f"{series.name}: {rows} rows are too short for lookback {lookback} + horizon "
            f"{horizon}: the {', '.join(empty)} part holds no whole window "
            f"(each part needs at least {lookback + horizon} rows counting its lookback)"
        )
    return windows


def fit_scaler(train: Windows) -> StandardScaler:
    """Per-channel mean and deviation of the training rows, and only those."""
    return StandardScaler().fit(train.series.values[train.start : train.stop])


def window_batches(
    scaled: np.ndarray,
    windows: Windows,
    batch_size: int,
    *,
    training: bool,
    seed: int,
    targets: list[int] | None = None,
) -> tf.data.Dataset:
    """`(input window, target window)` batches cut from `scaled` rows by `tf.data`.

    Only start rows are shuffled and batched; each batch is then gathered
    from the series in one step. Training shuffles in an order fixed by
    `seed` (each epoch passes its own); the last, smaller batch is kept, so
    evaluation sees every window. `targets` picks the forecast channels
    (default: all).
    """
    lookback, horizon = windows.lookback, windows.horizon
    starts = tf.data.Dataset.from_tensor_slices(windows.starts.astype("int32"))
    if training:
        starts = starts.shuffle(len(windows), seed=seed, reshuffle_each_iteration=False)
    rows = tf.constant(scaled, tf.float32)
    columns = tf.constant(targets if targets is not None else list(range(scaled.shape[1])))
    offsets = tf.range(lookback + horizon)

    def gather(first_rows):
        window = tf.gather(rows, first_rows[:, None] + offsets[None])
        return window[:, :lookback], tf.gather(window[:, lookback:], columns, axis=2)

    return starts.batch(batch_size).map(gather).prefetch(tf.data.AUTOTUNE)


def rows_per_day(dates: np.ndarray | None) -> int | None:
    """Rows in one day, when the dates are regular and a day holds whole rows."""
    if dates is None or len(dates) < 2:
        return None
    step = np.median(np.diff(dates).astype("timedelta64[s]").astype(np.int64))
    return int(DAY_SECONDS // step) if 0 < step < DAY_SECONDS and DAY_SECONDS % step == 0 else None


def slots_of_day(dates: np.ndarray, per_day: int) -> np.ndarray:
    """Each row's slot in its day, `0 .. per_day - 1`: the hour, for hourly rows."""
    seconds = (dates - dates.astype("datetime64[D]")).astype("timedelta64[s]").astype(np.int64)
    return seconds * per_day // DAY_SECONDS


def mean_day(values: np.ndarray, slots: np.ndarray, per_day: int) -> np.ndarray:
    """`(per_day, channels)`: the mean of the rows in each slot of the day (0
    where no row falls)."""
    counts = np.bincount(slots, minlength=per_day)[:, None]
    sums = np.zeros((per_day, values.shape[1]))
    np.add.at(sums, slots, values)
    return (sums / np.maximum(counts, 1)).astype(np.float32)


def read_series(
    path: str | Path, date_column: str = "date", repeated_times: str = "error"
) -> Series:
    """A CSV with a header: one optional date column, every other column a number.

    Missing values, non-numeric values, dates that do not parse or do not
    increase, and ragged rows raise `DataFormatError` naming file, line and
    column. `repeated_times="keep"` accepts a date equal to the one before
    (kept as its own row, in file order); earlier dates are still refused.
    """
    if repeated_times not in REPEATED_TIMES:
        raise ValueError(f"repeated_times must be one of {REPEATED_TIMES}, got {repeated_times!r}")
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file")
    reader = csv.reader(io.StringIO(read_utf8(path), newline=""))
    header = [name.strip() for name in next(reader, [])]
    if not header:
        raise DataFormatError(f"{path}: empty file; expected a header line of column names")
    if date_column and date_column not in header:
        raise DataFormatError(
            f"{path}, line 1: no date column {date_column!r} among {header} "
            "(name it with --date-column, or pass --date-column '' for none)"
        )
    date_index = header.index(date_column) if date_column else None
    columns = [name for index, name in enumerate(header) if index != date_index]
    if not columns:
        raise DataFormatError(f"{path}, line 1: no value columns besides the date")
    dates, values, lines = [], [], []
    for row in reader:
        line = reader.line_num
        if not row:
            continue
        lines.append(line)
        if len(row) != len(header):
            raise DataFormatError(
                f"{path}, line {line}: expected {len(header)} fields ({', '.join(header)}), "
                f"got {len(row)}"
            )
        if date_index is not None:
            dates.append(_date(row[date_index], path, line, date_column))
        cells = [cell for index, cell in enumerate(row) if index != date_index]
        values.append(
            [_number(cell, path, line, name) for cell, name in zip(cells, columns, strict=True)]
        )
    if not values:
        raise DataFormatError(f"{path}: no rows after the header")
    stamps = np.array(dates, dtype="datetime64[s]") if date_index is not None else None
    if stamps is not None:
        _require_time_order(stamps, lines, repeated_times, path, date_column)
    name = re.sub(r"[^a-z0-9]+", "_", path.stem.lower()).strip("_") or "series"
    return Series(name, tuple(columns), np.array(values, dtype=np.float32), stamps)


def _require_time_order(
    stamps: np.ndarray, lines: list[int], repeated_times: str, path: Path, column: str
) -> None:
    """Refuses a date before the one above it, and one equal to it unless
    `repeated_times` is 'keep'; `lines` holds each row's line in the file."""
    gaps = np.diff(stamps).astype(np.int64)
    wrong = np.flatnonzero(gaps < 0 if repeated_times == "keep" else gaps <= 0)
    if not len(wrong):
        return
    row = wrong[0] + 1
    if gaps[wrong[0]] < 0:
        raise DataFormatError(
            f"{path}, line {lines[row]}: {column} {stamps[row]} does not come after "
            f"{stamps[row - 1]}; rows must be in time order"
        )
    repeats = int(np.sum(gaps == 0))
    raise DataFormatError(
        f"{path}, line {lines[row]}: duplicate {column} {str(stamps[row]).replace('T', ' ')}, "
        f"already on line {lines[row - 1]} (the file has {repeats:,} repeated "
        f"time{'s' if repeats > 1 else ''}); to read each as a row of its own, in file "
        "order, as the published loaders do, pass --repeated-times keep"
    )


def _number(cell: str, path: Path, line: int, column: str) -> float:
    text = cell.strip()
    if text.lower() in MISSING:
        raise DataFormatError(
            f"{path}, line {line}: missing value in column {column!r}; fill or drop the "
            "row first (the protocol needs a complete, regular series)"
        )
    try:
        value = float(text)
    except ValueError:
        raise DataFormatError(
            f"{path}, line {line}: column {column!r} holds {cell!r}, not a number "
            "(every column but the date column must be numeric)"
        ) from None
    if not math.isfinite(value):
        raise DataFormatError(f"{path}, line {line}: column {column!r} holds {cell!r}")
    return value


def _date(cell: str, path: Path, line: int, column: str) -> np.datetime64:
    try:
        return np.datetime64(cell.strip().replace(" ", "T"), "s")
    except ValueError:
        raise DataFormatError(
            f"{path}, line {line}: {column} {cell!r} is not a date like 2016-07-01 00:00:00"
        ) from None
