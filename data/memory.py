"""The long-range memory problems, generated from a seed: no download.

- adding (Hochreiter & Schmidhuber 1997): T steps of (value, marker); the
  values are uniform on [0, 1], two steps are marked (one in each half),
  and the answer is the sum of the two marked values. Predicting the mean
  sum, 1, scores an MSE of 1/6 (about 0.167).
- copy (Arjovsky et al. 2016): 10 symbols from 1..8, T - 1 blanks, a
  delimiter, 10 blanks (T + 20 steps); the answer is blank everywhere except
  the last 10 steps, which repeat the 10 symbols. A model without memory
  recalls 1 symbol in 8.

Examples are drawn by TensorFlow's stateless generators from a key of two
integers, so one key gives the same examples in any process or pipeline.
"""

import numpy as np
import tensorflow as tf

BLANK, DELIMITER = 0, 9
SYMBOLS = 8  # copy symbols are 1..SYMBOLS
COPIED = 10  # symbols to remember


def adding(key, count: int, length: int) -> tuple[tf.Tensor, tf.Tensor]:
    """`count` adding examples of `length` steps: inputs (count, length, 2)
    of (value, marker), answers (count,)."""
    if length < 2:
        raise ValueError(f"the adding problem needs a length of 2 or more, got {length}")
    keys = tf.random.experimental.stateless_split(tf.cast(key, tf.int64), 3)
    values = tf.random.stateless_uniform([count, length], keys[0])
    half = length // 2
    first = tf.random.stateless_uniform([count], keys[1], 0, half, tf.int32)
    second = tf.random.stateless_uniform([count], keys[2], half, length, tf.int32)
    markers = tf.one_hot(first, length) + tf.one_hot(second, length)
    return tf.stack([values, markers], -1), tf.reduce_sum(values * markers, -1)


def copy(key, count: int, delay: int) -> tuple[tf.Tensor, tf.Tensor]:
    """`count` copy examples with a delay of `delay` blanks: input symbols and
    target symbols, both (count, delay + 20) integers."""
    if delay < 1:
        raise ValueError(f"the copy problem needs a delay of 1 or more, got {delay}")
    symbols = tf.random.stateless_uniform(
        [count, COPIED], tf.cast(key, tf.int64), 1, SYMBOLS + 1, tf.int32
    )
    blanks = tf.fill([count, delay - 1], BLANK)
    delimiter = tf.fill([count, 1], DELIMITER)
    inputs = tf.concat([symbols, blanks, delimiter, tf.fill([count, COPIED], BLANK)], 1)
    targets = tf.concat([tf.fill([count, delay + COPIED], BLANK), symbols], 1)
    return inputs, targets


PROBLEMS = {"adding": adding, "copy": copy}


def generated(problem: str, key, count: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` examples of `problem` drawn from `key`, as NumPy arrays."""
    inputs, targets = PROBLEMS[problem](key, count, length)
    return inputs.numpy(), targets.numpy()
