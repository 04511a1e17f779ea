"""Keras's `fit` loop written out, so that a run can stop anywhere and resume exactly.

`model.fit` cannot resume mid-epoch, restarts early stopping's and the
learning-rate callbacks' counters, and replays the data order of epoch 0
after a restart. This loop keeps everything a run's future depends on in
one checkpoint file, `checkpoint.npz`, written atomically at the end of
every epoch and every `checkpoint_minutes` within one:

- every variable of the model, its optimizer (moments, step count, learning
  rate, weight average) and its metrics, and the dropout layers' random
  state (Keras seed generators are variables too);
- where training is: the epoch, the batches of it already trained (a
  resumed epoch skips them: its order is a function of the seed and the
  epoch alone, see `Task.shuffle_seed`), and the seconds spent;
- the history so far, early stopping's best value and wait, and the task
  callbacks' counters (say ReduceLROnPlateau's).

So `kill -9` followed by the same command gives the weights and metrics of
a run never interrupted. A step whose loss or gradients are not finite
stops the run at once (`core.gradient_watch`), before anything of it is
saved; with `--diagnose-gradients N` the epoch's gradient norms and
clipping join the history, and the gradient flow through time
(`core.gradient_flow`) is measured at initialisation and every N epochs.

With a weight average (`--ema`) the averaged weights are validated, scored
by the task's callbacks (say validation BLEU) and saved as the best
epoch's: the metric that picks an epoch is the metric of the weights kept.
"""

import contextlib
import csv
import dataclasses
import json
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core.distribution import (
    assign,
    decided_together,
    same_on_every_worker,
    sharded,
    step_functions,
)
from core.files import write_atomically
from core.gradient_flow import record_flow
from core.gradient_watch import GradientWatch
from core.task import Splits, Task

# Counters of Keras callbacks that decide the future of a run: early
# stopping's and ReduceLROnPlateau's. Saved and restored by name.
CALLBACK_COUNTERS = ("wait", "best", "cooldown_counter")


@dataclasses.dataclass
class Progress:
    """Where training is; everything in it is plain JSON."""

    epoch: int = 0  # the epoch in progress, from 0
    step: int = 0  # batches of it already trained
    fit_seconds: float = 0.0  # spent on those batches
    history: list = dataclasses.field(default_factory=list)  # one dict per finished epoch
    best: float | None = None  # the best monitored validation value so far
    wait: int = 0  # epochs since it
    callbacks: list = dataclasses.field(default_factory=list)  # the task callbacks' counters
    done: bool = False


def fit(
    task: Task,
    model: keras.Model,
    splits: Splits,
    run_dir: Path,
    checkpoint_minutes: float = 5.0,
    strategy: tf.distribute.Strategy | None = None,
    watch: GradientWatch | None = None,
) -> list[dict]:
    """Trains `model` (compiled in `strategy`'s scope) to the end, resuming from
    `run_dir/checkpoint.npz` if there is one; the best epoch's weights go to
    `run_dir/best.weights.h5`. Returns the history, one dict per epoch.
    `watch` is the one its optimizer reports to (`core.gradient_watch`)."""
    strategy = strategy or tf.distribute.get_strategy()
    path = run_dir / "checkpoint.npz"
    validation = task.batches(splits.validation, training=False)
    state = _training_variables(model, validation, strategy)
    diagnosing = task.training.diagnose_gradients
    if diagnosing:
        state += watch.variables
        diagnosed = next(iter(validation))  # the fixed batch of the gradient flow
        if not path.exists():  # a new run: the flow at initialisation
            record_flow(task, model, diagnosed, 0, run_dir)
    progress = _restore(path, state, strategy) if path.exists() else Progress()
    if not same_on_every_worker(strategy, progress.epoch * 1e6 + progress.step):
        raise FileNotFoundError(
            f"the workers of the cluster found different training states in {run_dir}: "
            "every worker must read the chief's run directory, on a filesystem they share"
        )
    extra = task.callbacks(model, splits)
    # A terminal gets Keras's bar; a log (a pipe, a file) one line per epoch
    # and one per mid-epoch checkpoint, so a long epoch still shows progress.
    on_terminal = sys.stdout.isatty()
    callbacks = keras.callbacks.CallbackList(
        [*extra, keras.callbacks.TensorBoard(str(run_dir / "logs"))],
        add_progbar=True,
        verbose=1 if on_terminal else 2,
        epochs=task.training.epochs,
        steps=task.training.steps_per_epoch or None,
        model=model,
    )
    callbacks.on_train_begin()
    for callback, counters in zip(extra, progress.callbacks, strict=False):
        for name, value in counters.items():
            setattr(callback, name, value)
    train_step, _ = step_functions(model, strategy)
    model.stop_training = False
    last_save = time.monotonic()
    while not progress.done:
        epoch = progress.epoch
        if progress.step == 0:
            model.reset_metrics()
            if watch is not None:
                watch.reset()
        callbacks.on_epoch_begin(epoch)
        batches = _epoch_batches(task, splits, epoch).skip(progress.step)
        iterator = iter(sharded(strategy, batches))
        started = time.perf_counter() - progress.fit_seconds
        while True:
            callbacks.on_train_batch_begin(progress.step)
            try:
                logs = train_step(iterator)
            except (StopIteration, tf.errors.OutOfRangeError):
                break
            progress.step += 1
            if watch is not None:
                watch.check(float(logs["loss"]), f"epoch {epoch + 1}, batch {progress.step}")
            callbacks.on_train_batch_end(progress.step - 1, logs)
            due = time.monotonic() - last_save > 60 * checkpoint_minutes
            if decided_together(strategy, due, progress.step):
                progress.fit_seconds = time.perf_counter() - started
                _save(path, state, progress, extra)
                last_save = time.monotonic()
                if not on_terminal:
                    print(
                        f"epoch {epoch + 1}: {progress.step} batches in "
                        f"{progress.fit_seconds:.0f} s, loss {float(logs['loss']):.4f}; "
                        "checkpoint saved",
                        flush=True,
                    )
        progress.fit_seconds = time.perf_counter() - started
        logs = {name: float(value) for name, value in model.get_metrics_result().items()}
        if diagnosing:
            logs |= watch.epoch_logs(progress.step * strategy.num_replicas_in_sync)
        with averaged_weights(model):
            scores = validate(model, validation, strategy)
            logs |= {f"val_{name}": value for name, value in scores.items()}
            for callback in callbacks.callbacks:  # one by one: they may add the monitor to logs
                callback.on_epoch_end(epoch, logs)
            _keep_if_best(task, model, progress, logs, run_dir / "best.weights.h5")
            if diagnosing and (epoch + 1) % diagnosing == 0:
                logs["diagnose_seconds"] = record_flow(task, model, diagnosed, epoch + 1, run_dir)
        logs |= {
            "learning_rate": float(model.optimizer.learning_rate.numpy()),
            "fit_seconds": progress.fit_seconds,
            "epoch_seconds": time.perf_counter() - started,
        }
        progress.history.append({"epoch": epoch, **logs})
        progress.epoch, progress.step, progress.fit_seconds = epoch + 1, 0, 0.0
        progress.done = (
            progress.epoch >= task.training.epochs
            or progress.wait >= task.training.patience
            or model.stop_training
        )
        _save(path, state, progress, extra)
        write_history(progress.history, run_dir / "history.csv")
        last_save = time.monotonic()
    callbacks.on_train_end(progress.history[-1])
    return progress.history


def _epoch_batches(task: Task, splits: Splits, epoch: int) -> tf.data.Dataset:
    batches = task.batches(splits.train, training=True, epoch=epoch)
    if task.training.steps_per_epoch:
        # An epoch of a fixed number of batches: this epoch's order, repeated as needed.
        batches = batches.repeat().take(task.training.steps_per_epoch)
    return batches


def _keep_if_best(task: Task, model, progress: Progress, logs: dict, path: Path) -> None:
    """Early stopping's bookkeeping; the weights of an improving epoch are saved."""
    value = logs[task.monitor]
    better = np.greater if task.monitor_mode == "max" else np.less
    if progress.best is None or better(value, progress.best):
        progress.best, progress.wait = value, 0
        write_atomically(path, model.save_weights)
    else:
        progress.wait += 1


@contextlib.contextmanager
def averaged_weights(model: keras.Model):
    """With `--ema`, the weight average stands in for the raw weights inside
    the block; training goes on from the raw ones after it."""
    optimizer = model.optimizer
    if not getattr(optimizer, "use_ema", False):
        yield
        return
    pairs = list(
        zip(optimizer._trainable_variables, optimizer._model_variables_moving_average, strict=False)
    )

    def swap():
        for variable, average in pairs:
            raw = variable.numpy()
            variable.assign(average)
            average.assign(raw)

    swap()
    try:
        yield
    finally:
        swap()


def validate(model: keras.Model, batches: tf.data.Dataset, strategy=None) -> dict[str, float]:
    """The compiled loss and metrics over `batches`, as `model.evaluate` gives
    them, under any strategy (see `core.distribution`)."""
    strategy = strategy or tf.distribute.get_strategy()
    _, test_step = step_functions(model, strategy)
    model.reset_metrics()
    iterator = iter(sharded(strategy, batches))
    while True:
        try:
            test_step(iterator)
        except (StopIteration, tf.errors.OutOfRangeError):
            break
    return {name: float(value) for name, value in model.get_metrics_result().items()}


def _training_variables(model: keras.Model, validation: tf.data.Dataset, strategy) -> list:
    """Every variable training changes, in a fixed order; the optimizer's and
    the metrics' are created first (by building them on one batch)."""
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    # The metrics' variables are made here, outside the replicas' threads: made
    # lazily inside the first distributed step, they race under MirroredStrategy
    # ("You must feed a value for placeholder"). `fit` builds them the same way.
    with strategy.scope():
        model._symbolic_build(data_batch=next(iter(validation.take(1))))
    model.reset_metrics()
    seen, variables = set(), []
    for variable in [*model.variables, *model.optimizer.variables, *model.metrics_variables]:
        if id(variable) not in seen:
            seen.add(id(variable))
            variables.append(variable)
    return variables


def _save(path: Path, variables: list, progress: Progress, callbacks: list) -> None:
    progress.callbacks = [
        {
            name: float(getattr(callback, name))
            for name in CALLBACK_COUNTERS
            if isinstance(getattr(callback, name, None), (int, float, np.number))
        }
        for callback in callbacks
    ]
    arrays = {f"variable_{index}": variable.numpy() for index, variable in enumerate(variables)}
    arrays["progress"] = np.array(json.dumps(dataclasses.asdict(progress)))

    def write(staging: Path) -> None:
        with staging.open("wb") as file:
            np.savez(file, **arrays)

    write_atomically(path, write)


def _restore(path: Path, variables: list, strategy) -> Progress:
    with np.load(path) as saved:
        count = len(saved.files) - 1
        if count != len(variables):
            raise ValueError(
                f"{path} holds {count} variables, the model {len(variables)}: it was "
                "written by other code; delete it to restart the run"
            )
        for index, variable in enumerate(variables):
            value = saved[f"variable_{index}"]
            if value.shape != tuple(variable.shape):
                raise ValueError(
                    f"{path}: variable {index} ({variable.path}) has shape {value.shape}, "
                    f"the model's is {tuple(variable.shape)}; delete it to restart the run"
                )
            assign(variable, value, strategy)
        return Progress(**json.loads(str(saved["progress"])))


def write_history(history: list[dict], path: Path) -> None:
    """history.csv: one row per epoch, every logged value."""
    names = list(dict.fromkeys(name for row in history for name in row))

    def write(staging: Path) -> None:
        with staging.open("w", newline="") as file:
            writer = csv.DictWriter(file, names)
            writer.writeheader()
            writer.writerows(history)

    write_atomically(path, write)


def read_history(path: Path) -> list[dict]:
    """history.csv as one dict per epoch."""
    if not path.exists():
        return []
    with path.open(newline="") as file:
        return [
            {name: float(value) for name, value in row.items() if value}
            for row in csv.DictReader(file)
        ]
