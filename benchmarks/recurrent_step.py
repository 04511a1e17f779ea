"""Where a recurrent training step's time goes on CPU: one step of the issue-28
model (embedding 128, 2 x bidirectional LSTM-64, a sigmoid unit) on a fixed
batch of `--batch-size` x 200 token ids, right-padded to random lengths.

Contenders, timed in one process and alternated round by round (medians):
Keras's LSTM with the mask, the same without it, and the project's
`recurrent_stack`, whose LSTM projects every step's input before the loop. (TensorFlow's
fused `BlockLSTMV2` kernel was measured here at commit 8336e77 and dropped.)
Padded tokens per second = batch x 200 / step time.

    python benchmarks/recurrent_step.py --batch-size 32 --rounds 3
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

from models.recurrent import recurrent_stack, token_embedding  # noqa: E402

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


def project_model() -> keras.Model:
    """The same model on the project's stack (inputs projected once per sequence)."""
    ids = keras.Input((None,), dtype="int64")
    hidden = token_embedding(ids, VOCABULARY, EMBEDDING)
    hidden = recurrent_stack(
        hidden, cell="lstm", units=UNITS, depth=2, bidirectional=True, return_sequences=False
    )
    return keras.Model(ids, layers.Dense(1, activation="sigmoid")(hidden))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10, help="steps timed per round")
    options = parser.parse_args()
    keras.utils.set_random_seed(0)
    ids, labels = token_batch(options.batch_size)
    contenders = {
        "keras, masked": keras_model(True),
        "keras, unmasked": keras_model(False),
        "project stack, masked": project_model(),
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
