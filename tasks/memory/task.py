"""Long-range memory, the textbook test of vanishing and exploding gradients.

The adding and copy problems (`data.memory`) at a chosen length T, with a
SimpleRNN, LSTM or GRU and an initialisation. Training examples are fresh
every batch, drawn from (--seed, epoch, batch); validation examples from
--seed; test examples from a fixed key, the same for every run.

Solved means, on test: an MSE below 0.01 on adding (predicting the mean
scores 0.167), fewer than 1 % of the recalled symbols wrong on copy (a
model without memory gets 7 in 8 wrong). A run stops as soon as validation
meets that bar; the step it did so is in its history.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from core.export import Endpoint, Serving, predict
from core.task import Splits, Task, last_steps
from data.errors import DataFormatError
from data.memory import BLANK, COPIED, DELIMITER, PROBLEMS, SYMBOLS, generated
from data.pipeline import TEST_SPLIT_SEED, Examples
from models.recurrent import initialized, recurrent_stack
from tasks.memory.config import MemoryConfig, MemoryTraining

SOLVED_BELOW = {"adding": ("mse", 0.01), "copy": ("recall_error", 0.01)}
TEST_EXAMPLES = 1000
# Keys of the validation and test draws; training keys are (epoch seed, batch).
VALIDATION_STREAM, TEST_STREAM = 1_000_001, 1_000_002


def recall_error(targets, probabilities):
    """Share of the last 10 steps (the recalled symbols) predicted wrong."""
    recalled = ops.argmax(probabilities[:, -COPIED:], axis=-1)
    wrong = ops.not_equal(ops.cast(recalled, "int32"), ops.cast(targets[:, -COPIED:], "int32"))
    return ops.mean(ops.cast(wrong, "float32"))


class StopWhenSolved(keras.callbacks.Callback):
    """Ends training once the validation metric is below the solved bar."""

    def __init__(self, metric: str, bar: float):
        super().__init__()
        self.metric, self.bar = metric, bar

    def on_epoch_end(self, epoch, logs=None):
        if logs[f"val_{self.metric}"] < self.bar:
            self.model.stop_training = True


class Memory(Task):
    """Long-range memory: the adding and copy problems, for vanishing and exploding gradients."""

    name = "memory"
    Config = MemoryConfig
    Training = MemoryTraining
    headline_metric = "solved"
    dataset_name = "generated adding / copy problems (data/memory.py)"

    @property
    def steps(self) -> int:
        """Timesteps of one example."""
        return self.config.length + (2 * COPIED if self.config.problem == "copy" else 0)

    # Data: generated, so `load` has nothing to read.
    def load(self) -> dict:
        raise DataFormatError(
            f"--dataset {self.data.dataset}: the memory task generates its examples "
            "(--problem, --length, --seed) and reads none"
        )

    def splits(self) -> Splits:
        """Train holds the numbers of one epoch's examples, drawn afresh each
        epoch; validation and test are drawn once."""
        if self.data.dataset:
            self.load()  # refuses it
        config, training = self.config, self.training
        count = training.batch_size * training.steps_per_epoch
        validation_count = min(training.limit or np.inf, training.validation_examples)
        draw = lambda key, number: Examples(  # noqa: E731
            *generated(config.problem, key, int(number), config.length)
        )
        return Splits(
            Examples(np.arange(count), np.zeros(count)),
            draw([training.seed, VALIDATION_STREAM], validation_count),
            draw([TEST_SPLIT_SEED, TEST_STREAM], TEST_EXAMPLES),
        )

    def adapt(self, train: Examples) -> None:
        return None

    def state(self) -> dict:
        return {}

    def restore(self, state: dict) -> None:
        return None

    def batches(self, examples: Examples, training: bool, epoch: int = 0) -> tf.data.Dataset:
        size = self.training.batch_size
        if not training:
            return tf.data.Dataset.from_tensor_slices(tuple(examples)).batch(size)
        seed, problem, length = (
            self.shuffle_seed(epoch),
            PROBLEMS[self.config.problem],
            self.config.length,
        )
        return (
            tf.data.Dataset.range(len(examples) // size)
            .map(lambda step: problem(tf.stack([tf.constant(seed, tf.int64), step]), size, length))
            .prefetch(2)
        )

    def count_tokens(self, batches) -> tuple[int, int]:
        timesteps = self.training.batch_size * self.training.steps_per_epoch * self.steps
        return timesteps, timesteps

    # Model.
    def build_model(self) -> keras.Model:
        config = self.config
        # Chrono's longest memory as Tallec & Ollivier set it: T, or 3T/2 for copy.
        longest = config.length * 3 // 2 if config.problem == "copy" else config.length
        options = initialized(config.cell, config.init, longest)
        if config.problem == "adding":
            inputs = keras.Input((None, 2), name="sequence")
            x = inputs
        else:
            inputs = keras.Input((None,), dtype="int32", name="sequence")
            # One-hot symbols: a fixed identity embedding.
            x = layers.Embedding(
                DELIMITER + 1,
                DELIMITER + 1,
                embeddings_initializer="identity",
                trainable=False,
                name="one_hot",
            )(inputs)
        recurrent = recurrent_stack(
            x,
            cell=config.cell,
            units=config.units,
            return_sequences=config.problem == "copy",
            name="memory",
            cell_options=options,
        )
        if config.problem == "adding":
            output = layers.Dense(1, name="sum", dtype="float32")(recurrent)
        else:
            output = layers.Dense(
                SYMBOLS + 1, activation="softmax", name="symbol", dtype="float32"
            )(recurrent)
        return keras.Model(inputs, output, name="memory")

    def compile_arguments(self) -> dict:
        if self.config.problem == "adding":
            return {"loss": "mse", "metrics": ["mse"]}
        return {"loss": "sparse_categorical_crossentropy", "metrics": [recall_error]}

    def callbacks(self, model, splits) -> list:
        return [StopWhenSolved(*SOLVED_BELOW[self.config.problem])]

    def final_step_only(self, inputs, targets) -> tuple:
        """Copy's loss at its last step alone: the last recalled symbol,
        the one remembered longest after the first."""
        if self.config.problem == "adding":
            return targets, None
        steps = tf.shape(targets)[1]
        return targets, last_steps(tf.fill([tf.shape(targets)[0]], steps), steps)

    # Serving.
    def serving(self, model: keras.Model) -> Serving:
        if self.config.problem == "adding":

            def answer(sequences):
                return {"sum": model(sequences, training=False)[:, 0]}

            signature = [tf.TensorSpec([None, None, 2], tf.float32, name="sequences")]
        else:

            def answer(sequences):
                probabilities = model(sequences, training=False)[:, -COPIED:]
                return {"recalled": tf.argmax(probabilities, -1, output_type=tf.int32)}

            signature = [tf.TensorSpec([None, None], tf.int32, name="sequences")]
        return Serving({"answer": Endpoint(answer, signature)}, [])

    def predict(self, export, raw: list[str], options) -> list[dict]:
        """Adding: numbers with the two marked ones starred, "0.3 0.7* 0.1 0.4*";
        copy: the 10 symbols (1..8) to remember, "1 2 3 4 5 6 7 8 1 2", sent
        with the run's delay."""
        rows = []
        for text in raw:
            sequence = self._parsed(text)
            answer = export.answer(tf.constant(sequence[None]))
            value = next(iter(answer.values())).numpy()[0]
            key = "sum" if self.config.problem == "adding" else "recalled"
            rows.append({"input": text, key: value.tolist() if value.ndim else float(value)})
        return rows

    def _parsed(self, text: str) -> np.ndarray:
        words = text.split()
        if self.config.problem == "adding":
            try:
                values = [float(word.rstrip("*")) for word in words]
            except ValueError as error:
                raise DataFormatError(f"--predict {text!r}: {error}") from None
            markers = [float(word.endswith("*")) for word in words]
            if sum(markers) != 2:
                raise DataFormatError(f"--predict {text!r}: star exactly two numbers, e.g. 0.7*")
            return np.array([values, markers], dtype="float32").T
        if len(words) != COPIED or not all(w.isdigit() and 1 <= int(w) <= SYMBOLS for w in words):
            raise DataFormatError(
                f"--predict {text!r}: give the {COPIED} symbols to remember, each 1..{SYMBOLS}"
            )
        delay = [BLANK] * (self.config.length - 1) + [DELIMITER] + [BLANK] * COPIED
        return np.array([int(word) for word in words] + delay, dtype="int32")

    # Scores.
    def test_outputs(self, export, examples: Examples) -> dict:
        return predict(
            export.answer,
            examples.inputs,
            arguments=lambda chosen: [tf.constant(examples.inputs[chosen])],
        )

    def score(self, outputs: dict, examples: Examples) -> dict:
        metric, bar = SOLVED_BELOW[self.config.problem]
        if self.config.problem == "adding":
            scores = {"mse": float(np.mean((outputs["sum"] - examples.targets) ** 2))}
        else:
            wrong = outputs["recalled"] != examples.targets[:, -COPIED:]
            scores = {"recall_error": float(wrong.mean())}
        return {"solved": float(scores[metric] < bar), **scores}

    def baselines(self, splits: Splits) -> dict:
        """Without memory: the mean sum (adding), the most frequent training
        symbol (copy: all are equally frequent, so 7 in 8 wrong)."""
        test = splits.test
        if self.config.problem == "adding":
            guess = np.full(len(test), 2 * 0.5, dtype="float32")  # expected MSE: 1/6
            return {"mean_sum": self.score({"sum": guess}, test)}
        guess = np.ones((len(test), COPIED), dtype="int32")
        return {"no_memory": self.score({"recalled": guess}, test)}
