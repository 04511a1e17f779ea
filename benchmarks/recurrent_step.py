"""Where a recurrent training step's time goes on CPU: one step of the issue-28
model (embedding 128, 2 x bidirectional LSTM-64, a sigmoid unit) on a fixed
batch of `--batch-size` x 200 token ids, right-padded to random lengths.

Contenders, timed in one process and alternated round by round (medians):
Keras's LSTM with the mask, the same without it, and TensorFlow's fused
whole-sequence kernel (`BlockLSTMV2`, the backward direction read through
`tf.reverse_sequence`). Padded tokens per second = batch x 200 / step time.

    python benchmarks/recurrent_step.py --batch-size 32 --rounds 3
    python benchmarks/recurrent_step.py --profile   # where the masked step's time goes
"""

import argparse
import collections
import glob
import json
import statistics
import time

import keras
import numpy as np
import tensorflow as tf
from keras import layers

LENGTH, VOCABULARY, EMBEDDING, UNITS = 200, 20_000, 128, 64


def token_batch(batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids right-padded with 0 to 200, each row 50-200 real tokens; 0/1 labels."""
    rng = np.random.default_rng(0)
    ids = np.zeros((batch_size, LENGTH), np.int64)
    for row, length in enumerate(rng.integers(50, LENGTH + 1, size=batch_size)):
        ids[row, :length] = rng.integers(2, VOCABULARY, size=length)
    return ids, rng.integers(0, 2, size=(batch_size, 1)).astype("float32")


def keras_model(masked: bool) -> keras.Model:
    ids = keras.Input((None,), dtype="int64")
    hidden = layers.Embedding(VOCABULARY, EMBEDDING, mask_zero=masked)(ids)
    hidden = layers.Bidirectional(layers.LSTM(UNITS, return_sequences=True))(hidden)
    hidden = layers.Bidirectional(layers.LSTM(UNITS))(hidden)
    return keras.Model(ids, layers.Dense(1, activation="sigmoid")(hidden))


class FusedModel(keras.Model):
    """The same model on `BlockLSTMV2` (gates in Keras's i, f, c, o order;
    its weight is Keras's kernel over its recurrent kernel)."""

    def __init__(self):
        super().__init__()
        self.embedding = layers.Embedding(VOCABULARY, EMBEDDING)
        self.directions = [
            (
                self.add_weight((width + UNITS, 4 * UNITS), initializer="glorot_uniform"),
                self.add_weight((4 * UNITS,), initializer="zeros"),
            )
            for width in (EMBEDDING, 2 * UNITS)
            for _ in ("forward", "backward")
        ]
        self.output_layer = layers.Dense(1, activation="sigmoid")

    @staticmethod
    def lstm(time_major: tf.Tensor, weight, bias) -> tf.Tensor:
        state = tf.zeros((tf.shape(time_major)[1], UNITS))
        no_peephole = tf.zeros((UNITS,))
        return tf.raw_ops.BlockLSTMV2(
            seq_len_max=tf.cast(tf.shape(time_major)[0], tf.int64),
            x=time_major, cs_prev=state, h_prev=state, w=weight,
            wci=no_peephole, wcf=no_peephole, wco=no_peephole, b=bias,
        )[6]  # fmt: skip

    def call(self, ids):
        lengths = tf.reduce_sum(tf.cast(ids != 0, tf.int32), axis=1)
        hidden = tf.transpose(self.embedding(ids), [1, 0, 2])
        for layer in range(2):
            forward, backward = self.directions[2 * layer : 2 * layer + 2]

            def reverse(values):
                return tf.reverse_sequence(values, lengths, seq_axis=0, batch_axis=1)

            hidden = tf.concat(
                [self.lstm(hidden, *forward), reverse(self.lstm(reverse(hidden), *backward))], -1
            )
        last_real = tf.gather(
            tf.transpose(hidden[..., :UNITS], [1, 0, 2]), lengths - 1, batch_dims=1
        )
        return self.output_layer(tf.concat([last_real, hidden[0, :, UNITS:]], -1))


def step_timer(model: keras.Model, ids: np.ndarray, labels: np.ndarray, steps: int):
    """A compiled training step; the returned function times `steps` of them."""
    optimizer, loss = keras.optimizers.Adam(), keras.losses.BinaryCrossentropy()
    ids, labels = tf.constant(ids), tf.constant(labels)
    model(ids)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            value = loss(labels, model(ids, training=True))
        gradients = tape.gradient(value, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return value

    step().numpy()  # traced outside the timing

    def seconds_per_step() -> float:
        started = time.perf_counter()
        for _ in range(steps):
            step().numpy()
        return (time.perf_counter() - started) / steps

    return seconds_per_step


def profile(timer, directory: str) -> None:
    """Traces one round of `timer` with TensorFlow's profiler and prints the
    time per op type, summed over threads (IDLE: threads waiting)."""
    # TensorFlow's own converter of a trace to op statistics (what the
    # TensorBoard profile plugin shows); a private module of TensorFlow 2.21.
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin

    tf.profiler.experimental.start(directory)
    timer()
    tf.profiler.experimental.stop()
    trace = sorted(glob.glob(f"{directory}/**/*.xplane.pb", recursive=True))[-1]
    data, _ = _pywrap_profiler_plugin.xspace_to_tools_data([trace], "framework_op_stats", {})
    table = json.loads(data)[0]
    columns = [column["id"] for column in table["cols"]]
    seconds, calls = collections.Counter(), collections.Counter()
    for row in table["rows"]:
        values = dict(zip(columns, (cell["v"] if cell else None for cell in row["c"]), strict=True))
        seconds[values["type"]] += values["total_self_time"] / 1e6
        calls[values["type"]] += values["occurrences"] or 0
    total = sum(seconds.values())
    print(f"| op type | thread-seconds | share | calls | trace: {trace} |")
    print("|---|---|---|---|---|")
    for kind, spent in seconds.most_common(12):
        print(f"| {kind} | {spent:.3f} | {spent / total:.1%} | {calls[kind]:,.0f} | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10, help="steps timed per round")
    parser.add_argument(
        "--profile", nargs="?", const="/tmp/recurrent_step_profile", metavar="DIR",
        help="instead of the race, trace --steps masked Keras steps into DIR and sum them",
    )  # fmt: skip
    options = parser.parse_args()
    keras.utils.set_random_seed(0)
    ids, labels = token_batch(options.batch_size)
    if options.profile:
        timer = step_timer(keras_model(True), ids, labels, options.steps)
        timer()  # warm
        return profile(timer, options.profile)
    contenders = {
        "keras, masked": keras_model(True),
        "keras, unmasked": keras_model(False),
        "fused BlockLSTMV2": FusedModel(),
    }
    timers = {
        name: step_timer(model, ids, labels, options.steps) for name, model in contenders.items()
    }
    times = {name: [] for name in timers}
    for _ in range(options.rounds):
        for name, timer in timers.items():
            times[name].append(timer())
    print("| contender | batch | s/step (median) | padded tokens/s | rounds |")
    print("|---|---|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        rounds = ", ".join(f"{value:.3f}" for value in values)
        print(f"| {name} | {options.batch_size} | {median:.3f} | "
              f"{options.batch_size * LENGTH / median:,.0f} | {rounds} |")  # fmt: skip


if __name__ == "__main__":
    main()
