"""The Task interface: the training story, one method per step.

raw splits -> adapt preprocessing on train only -> batches -> model ->
serving function on raw input -> scores -> baselines. `tasks.runner` drives
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

from data.pipeline import TEST_SPLIT_SEED, Examples, carve, epoch_seed
from tasks.config import DataConfig, TrainConfig
from tasks.export import Serving, predict


@dataclasses.dataclass
class NoOptions:
    """A task whose `evaluate.py --predict` takes no options of its own."""


class Splits(NamedTuple):
    """Raw train / validation / test examples; test is touched only to score."""

    train: Examples
    validation: Examples
    test: Examples


class Task(abc.ABC):
    """One sequence task; subclasses set `name` and `Config` (a dataclass)."""

    name: ClassVar[str]
    Config: ClassVar[type]
    # How the task trains: a TrainConfig whose defaults are its benchmark's.
    Train: ClassVar[type] = TrainConfig
    # The validation metric that picks the best epoch and stops training.
    # The loss, by default: it moves smoothly, where accuracy on a few
    # thousand examples jumps by single examples.
    monitor: ClassVar[str] = "val_loss"
    monitor_mode: ClassVar[str] = "min"
    # The test metric a benchmark is judged by, and the benchmark's dataset.
    headline_metric: ClassVar[str]
    higher_is_better: ClassVar[bool] = True
    dataset_name: ClassVar[str]
    # The export's main endpoint: what `evaluate.py --predict` and, unless a
    # task overrides `test_outputs`, the test score call.
    endpoint: ClassVar[str] = "serve"
    # Options of `evaluate.py TASK --predict` (say a beam width), a dataclass.
    PredictOptions: ClassVar[type] = NoOptions

    def __init__(
        self, config=None, train: TrainConfig | None = None, data: DataConfig | None = None
    ):
        self.config = config if config is not None else self.Config()
        self.train = train if train is not None else self.Train()
        self.data = data if data is not None else DataConfig()

    # 1. Raw data.
    @abc.abstractmethod
    def load(self) -> dict[str, Examples]:
        """The dataset's splits: `train` and `test` (and `validation` if the
        dataset has its own), or `all` to be carved."""

    def splits(self) -> Splits:
        """The dataset's own splits where it has them. Test carved from the
        rest by a fixed seed, so it never moves with `--seed`; validation
        carved by `--seed`. `load` returns `train` (or `all`), and
        `validation` and `test` if the dataset has them."""
        loaded = self.load()
        fraction = self.train.validation_fraction
        train = loaded.get("train", loaded.get("all"))
        test = loaded.get("test")
        if test is None:
            train, test = carve(train, fraction, TEST_SPLIT_SEED)
        validation = loaded.get("validation")
        if validation is None:
            train, validation = carve(train, fraction, self.train.seed)
        if self.train.limit:
            train = train.take(np.arange(min(self.train.limit, len(train))))
            validation = validation.take(np.arange(min(self.train.limit, len(validation))))
        return Splits(train, validation, test)

    # 2. Preprocessing fitted on train only, saved with the run.
    @abc.abstractmethod
    def adapt(self, train: Examples) -> None:
        """Fits vocabularies or scalers on the training split."""

    @abc.abstractmethod
    def state(self) -> dict[str, Any]:
        """What `adapt` learned, as JSON-serialisable data."""

    @abc.abstractmethod
    def restore(self, state: dict[str, Any]) -> None:
        """Re-creates the adapted preprocessing from `state()`'s output."""

    def load_state(self, path: Path) -> None:
        self.restore(json.loads(path.read_text()))

    # 3. Batches.
    @abc.abstractmethod
    def batches(self, examples: Examples, training: bool, epoch: int = 0) -> tf.data.Dataset:
        """`(model input, target)` batches for `fit` and `evaluate`; training
        batches in epoch `epoch`'s order (see `shuffle_seed`)."""

    def shuffle_seed(self, epoch: int) -> int:
        """The seed of training epoch `epoch`'s order and augmentation: a
        function of `--seed` and the epoch alone, so a resumed run sees the
        batches an uninterrupted one would."""
        return epoch_seed(self.train.seed, epoch)

    def cached(self, examples: Examples, build) -> tf.data.Dataset:
        """`build()`, made once per split: a cached featurization then serves
        every epoch's pipeline instead of being redone each epoch."""
        made = self.__dict__.setdefault("_cached", {})
        key = id(examples.inputs)  # the split is held below, so its id stays its own
        if key not in made:
            made[key] = (examples, build())
        return made[key][1]

    # 4. Model.
    @abc.abstractmethod
    def build_model(self) -> keras.Model:
        """A fresh, uncompiled model of this task's configuration."""

    @abc.abstractmethod
    def compile_arguments(self) -> dict[str, Any]:
        """`loss` and `metrics` for `model.compile`."""

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

    # 5. Serving on raw input.
    @abc.abstractmethod
    def serving(self, model: keras.Model) -> Serving:
        """The raw-input -> raw-output function that exports serve."""

    def predict(self, export, raw: list[str], options) -> list[dict[str, Any]]:
        """The export's outputs for inputs typed on the command line, as JSON-ready
        dicts, one per input; `options` is a `PredictOptions`."""
        outputs = predict(
            getattr(export, self.endpoint), np.array(raw, dtype=object), progress=False
        )
        return [
            {"input": text, **{name: plain(values[index]) for name, values in outputs.items()}}
            for index, text in enumerate(raw)
        ]

    # 6. Scores.
    def test_outputs(self, export, examples: Examples) -> dict[str, np.ndarray]:
        """The loaded export's outputs for the test examples' raw inputs."""
        return predict(getattr(export, self.endpoint), examples.inputs)

    @abc.abstractmethod
    def score(self, outputs: dict[str, np.ndarray], examples: Examples) -> dict[str, float]:
        """Metrics of serving outputs against the examples' targets."""

    def baselines(self, splits: Splits) -> dict[str, dict[str, float]]:
        """Classical models trained on the same train split, scored on test."""
        return {}

    @property
    def reference(self) -> str | None:
        """A name when this run is a reference model (say a plain GRU): combined
        with other runs into a benchmark, its metrics land under `baselines`
        under this name instead of competing as the model."""
        return None

    def figures(self, outputs: dict[str, np.ndarray], examples: Examples, folder: Path) -> list:
        """Pictures of the test outputs (say forecasts against the truth) that
        `evaluate` writes into the run directory; their paths."""
        return []

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


def plain(value):
    """A numpy value as JSON-ready Python (bytes become text)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if hasattr(value, "tolist"):
        value = value.tolist()
        return [plain(item) for item in value] if isinstance(value, list) else value
    return value
