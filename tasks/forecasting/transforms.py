"""The daily cycle and the least-squares line, one implementation each.

Training batches, the blend's tuning, the linear baselines and the export
all compute them here, in TensorFlow, so what a model learns to read is
what it is served.
"""

import numpy as np
import tensorflow as tf

from data.series import DAY_SECONDS


def mean_day_at(mean_day: np.ndarray, starts: np.ndarray, rows: int) -> tf.Tensor:
    """`(windows, rows, channels)`: the mean day (one row per slot of the day)
    at each of `rows` rows, at the day's regular step, of windows whose first
    rows are dated `starts` (seconds since 1970-01-01, on the series' clock)."""
    per_day = len(mean_day)
    starts = tf.cast(starts, tf.int64)
    first_slot = tf.math.floormod(starts, DAY_SECONDS) * per_day // DAY_SECONDS
    slots = tf.math.floormod(first_slot[:, None] + tf.range(rows, dtype=tf.int64), per_day)
    return tf.gather(tf.constant(mean_day, tf.float32), slots)


def dated_seconds(dates: np.ndarray) -> np.ndarray:
    """`datetime64` dates as the seconds that `mean_day_at` reads."""
    return dates.astype("datetime64[s]").astype(np.int64)


def straight_line(
    seen: tf.Tensor, kernel: np.ndarray, bias: np.ndarray, relative: bool
) -> tf.Tensor:
    """Least squares' forecast of each channel from its lookback, the same map
    for every channel: `seen` `(windows, lookback, channels)` -> `(windows,
    horizon, channels)`, measured from each window's last value if `relative`."""
    origin = seen[:, -1:] if relative else 0.0
    kernel, bias = tf.constant(kernel, tf.float32), tf.constant(bias, tf.float32)[:, None]
    return tf.einsum("blc,lh->bhc", seen - origin, kernel) + bias + origin
