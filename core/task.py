"""The Task interface: the training story, one method per step.

raw splits -> adapt preprocessing on train only -> batches -> model ->
serving function on raw input -> scores -> baselines. `core.runner` drives
these steps the same way for every task; a task module holds only what is
specific to its task.
"""

import abc
import dataclasses
import json
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import keras
import numpy as np
import tensorflow as tf

from core.config import DataConfig, NoOptions, TrainingConfig
from core.export import Serving
from data.errors import DataFormatError
from data.pipeline import TEST_SPLIT_SEED, Examples, carve, epoch_seed


def last_steps(lengths: tf.Tensor, steps) -> tf.Tensor:
    """A (batch, steps) weight that is 1 at each sequence's last real step
    (sequences right-padded to `steps`) and 0 elsewhere."""
    return tf.one_hot(tf.cast(lengths, tf.int32) - 1, steps)


class Splits(NamedTuple):
    """Raw train / validation / test examples; test is touched only to score."""

    train: Examples
    validation: Examples
    test: Examples


class Task(abc.ABC):
    """One sequence task: the steps of its training story, in order.

    Every task implements the required steps (abstract methods); the
    optional ones below them do nothing, or the obvious, unless a task
    needs them. A task's package holds only what is specific to it.
    """

    # What the task is: its command-line name, its settings' dataclasses
    # (their defaults are its benchmark's), `evaluate.py --predict`'s options.
    name: ClassVar[str]
    Config: ClassVar[type]
    Training: ClassVar[type] = TrainingConfig
    PredictOptions: ClassVar[type] = NoOptions
    # How it is judged: the test metric of its benchmark, on which dataset.
    headline_metric: ClassVar[str]
    higher_is_better: ClassVar[bool] = True
    dataset_name: ClassVar[str]
    # The validation metric that picks the best epoch and stops training.
    # The loss, by default: it moves smoothly, where accuracy on a few
    # thousand examples jumps by single examples.
    monitor: ClassVar[str] = "val_loss"
    monitor_mode: ClassVar[str] = "min"

    def __init__(
        self, config=None, training: TrainingConfig | None = None, data: DataConfig | None = None
    ):
        self.config = config if config is not None else self.Config()
        self.training = training if training is not None else self.Training()
        self.data = data if data is not None else DataConfig()

    # Required steps.
    # 1. Raw data.
    @abc.abstractmethod
    def load(self) -> dict[str, Examples]:
        """The dataset's splits: `train` and `test` (and `validation` if the
        dataset has its own), or `all` to be carved."""

    # 2. Preprocessing fitted on train only. It is kept in the run's
    # `state.json`, not in the weights file: a Keras weights file holds
    # variables, and vocabularies, SentencePiece models, scalers and what
    # `tune` chose are not variables. The export (a SavedModel) carries
    # them all, so a served model needs nothing beside it.
    @abc.abstractmethod
    def adapt(self, train: Examples) -> None:
        """Fits vocabularies or scalers on the training split."""

    @abc.abstractmethod
    def state(self) -> dict[str, Any]:
        """What `adapt` learned, as JSON-serialisable data."""

    @abc.abstractmethod
    def restore(self, state: dict[str, Any]) -> None:
        """Re-creates the adapted preprocessing from `state()`'s output."""

    # 3. Batches.
    @abc.abstractmethod
    def batches(self, examples: Examples, training: bool, epoch: int = 0) -> tf.data.Dataset:
        """`(model input, target)` batches for `fit` and `evaluate`; training
        batches in epoch `epoch`'s order (see `shuffle_seed`)."""

    # 4. Model.
    @abc.abstractmethod
    def build_model(self) -> keras.Model:
        """A fresh, uncompiled model of this task's configuration."""

    @abc.abstractmethod
    def compile_arguments(self) -> dict[str, Any]:
        """`loss` and `metrics` for `model.compile`."""

    # 5. Serving raw input, as exported.
    @abc.abstractmethod
    def serving(self, model: keras.Model) -> Serving:
        """The raw-input -> raw-output function that exports serve."""

    @abc.abstractmethod
    def predict(self, export, raw: list[str], options) -> list[dict[str, Any]]:
        """The export's outputs for inputs given on the command line
        (`evaluate.py --predict`), one JSON-ready dict per input; `options`
        is a `PredictOptions`."""

    # 6. Scores of the reloaded export on test.
    @abc.abstractmethod
    def test_outputs(self, export, examples: Examples) -> dict[str, np.ndarray]:
        """The loaded export's outputs for the examples' raw inputs."""

    @abc.abstractmethod
    def score(self, outputs: dict[str, np.ndarray], examples: Examples) -> dict[str, float]:
        """Metrics of serving outputs against the examples' targets."""

    # Optional steps.
    def splits(self) -> Splits:
        """The dataset's own splits where it has them. Test carved from the
        rest by a fixed seed, so it never moves with `--seed`; validation
        carved by `--seed`. `load` returns `train` (or `all`), and
        `validation` and `test` if the dataset has them."""
        loaded = self.load()
        fraction = self.training.validation_fraction
        train = loaded.get("train", loaded.get("all"))
        if train is None:
            raise DataFormatError(
                f"{self.data.dataset}: nothing to train on, only {', '.join(loaded)} "
                f"(evaluate.py {self.name} --model RUN --dataset scores a trained run on it)"
            )
        test = loaded.get("test")
        if test is None:
            train, test = carve(train, fraction, TEST_SPLIT_SEED)
        validation = loaded.get("validation")
        if validation is None:
            train, validation = carve(train, fraction, self.training.seed)
        if self.training.limit:
            train = train.take(np.arange(min(self.training.limit, len(train))))
            validation = validation.take(np.arange(min(self.training.limit, len(validation))))
        return Splits(train, validation, test)

    def test_split_of(self, dataset: str):
        """What `evaluate.py --dataset` scores a finished run on: that
        dataset's own test split where it has one, else all of it (a file
        of test examples), read with the run's settings and checked by
        `in_run_terms`."""
        self.data = dataclasses.replace(self.data, dataset=dataset)
        loaded = self.load()
        parts = [loaded["test"]] if "test" in loaded else list(loaded.values())
        test = (
            parts[0]
            if len(parts) == 1
            else Examples(
                np.concatenate([part.inputs for part in parts]),
                np.concatenate([part.targets for part in parts]),
            )
        )
        return self.in_run_terms(test)

    def in_run_terms(self, test):
        """Another dataset's test examples as this run reads them (its class
        ids, its column order); labels, tags or channels that the run never
        saw in training are refused by name."""
        return test

    def settle(self) -> None:
        """Settings that follow from another run (say a pretrained encoder's
        width), filled in when training starts, before the run's settings
        are recorded; a setting given otherwise on the command line is an
        error here. A finished run's recorded settings need nothing else."""
        return None

    def start_from(self, model: keras.Model) -> None:
        """Sets a freshly built model's starting weights (say from a
        pretrained run) before training; Keras's initialisation by default."""
        return None

    def callbacks(self, model: keras.Model, splits: Splits) -> list[keras.callbacks.Callback]:
        """Task-specific callbacks, run before checkpointing and early stopping,
        so a validation metric they add to the epoch's logs (say BLEU) can be
        the `monitor`."""
        return []

    def tune(self, model: keras.Model, splits: Splits) -> None:
        """Settings chosen on validation once training is over (say a decoder's
        length penalty, or a blend fit on the training part), kept in
        `state()`; the best weights are loaded."""
        return None

    def baselines(self, splits: Splits) -> dict[str, dict[str, float]]:
        """Classical models trained on the same train split, scored on test."""
        return {}

    def figures(self, outputs: dict[str, np.ndarray], examples: Examples, folder: Path) -> list:
        """Pictures of the test outputs (say forecasts against the truth) that
        `evaluate` writes into the run directory; their paths."""
        return []

    @property
    def reference(self) -> str | None:
        """A name when this run is a reference model (say a plain GRU): combined
        with other runs into a benchmark, its metrics land under `baselines`
        under this name instead of competing as the model."""
        return None

    def final_step_only(self, inputs, targets) -> tuple:
        """`(targets, sample_weight)` under which the compiled loss counts each
        sequence's last real step only: the gradient-flow diagnostic
        (`core.gradient_flow`) then sees the flow back through time alone. A
        task whose loss has no time axis (many-to-one) keeps its targets."""
        return targets, None

    def count_tokens(self, batches: tf.data.Dataset) -> tuple[int, int]:
        """(real, padded) timesteps in one pass over integer-token batches.

        Several inputs (say words and bigrams) are aligned, so the first counts.
        """
        real = padded = 0
        for inputs, _ in batches:
            ids = tf.nest.flatten(inputs)[0]
            real += int(tf.math.count_nonzero(ids))
            padded += int(tf.size(ids))
        return real, padded

    # Helpers for the steps.
    def shuffle_seed(self, epoch: int) -> int:
        """The seed of training epoch `epoch`'s order and augmentation: a
        function of `--seed` and the epoch alone, so a resumed run sees the
        batches an uninterrupted one would."""
        return epoch_seed(self.training.seed, epoch)

    def cached(self, examples: Examples, build) -> tf.data.Dataset:
        """`build()`, made once per split: a cached featurization then serves
        every epoch's pipeline instead of being redone each epoch."""
        made = self.__dict__.setdefault("_cached", {})
        key = id(examples.inputs)  # the split is held below, so its id stays its own
        if key not in made:
            made[key] = (examples, build())
        return made[key][1]

    def load_state(self, path: Path) -> None:
        self.restore(json.loads(path.read_text()))
