"""Fit any task into a run directory, resumably, and export it.

run_dir/config.json          resolved task, training and data settings
run_dir/state.json           preprocessing adapted on train (vocabularies)
run_dir/backup/              BackupAndRestore: resume after an interruption
run_dir/best.weights.h5      weights of the best validation epoch
run_dir/history.csv          one row per epoch, with its wall time
run_dir/logs/                TensorBoard
run_dir/training_curve.png   the history as a picture
run_dir/metrics.json         validation metrics, time and throughput
run_dir/export/<N>/          SavedModel serving raw input -> raw output
"""

import csv
import dataclasses
import json
import os
import sys
import time
import warnings
from pathlib import Path

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from tasks import TASKS  # noqa: E402
from tasks.base import Task  # noqa: E402
from tasks.config import DataConfig, from_dict  # noqa: E402
from tasks.export import export  # noqa: E402

# Keras says this at the end of every first pass over a dataset of unknown
# length, which is every bucketed dataset; it is not a problem here.
warnings.filterwarnings("ignore", message="Your input ran out of data")


def train(task: Task, run_dir: Path, command: str = "") -> dict:
    """Trains `task` into `run_dir`, resuming if an earlier attempt was cut off."""
    if (run_dir / "metrics.json").exists():
        raise FileExistsError(f"{run_dir} already holds a finished run; choose another --run-dir")
    settings = _settings_of_resumable_run(task, run_dir, command)
    keras.utils.set_random_seed(task.train.seed)
    splits = task.splits()  # bad data stops here, before the run directory exists
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / "config.json").exists():
        write_json(run_dir / "config.json", settings)
    state = run_dir / "state.json"
    if state.exists():
        task.load_state(state)
    else:
        task.adapt(splits.train)
        _write_atomically(state, task.save_state)

    model = task.build_model()
    averaging = {"use_ema": True, "ema_momentum": task.train.ema} if task.train.ema else {}
    model.compile(
        optimizer=keras.optimizers.Adam(
            task.train.learning_rate, clipnorm=task.train.clipnorm or None, **averaging
        ),
        **task.compile_arguments(),
    )
    train_batches = task.batches(splits.train, training=True)
    validation_batches = task.batches(splits.validation, training=False)
    model.fit(
        train_batches.repeat() if task.train.steps_per_epoch else train_batches,
        validation_data=validation_batches,
        epochs=task.train.epochs,
        steps_per_epoch=task.train.steps_per_epoch or None,
        callbacks=_callbacks(
            task, run_dir, read_history(run_dir / "history.csv"), task.callbacks(model, splits)
        ),
        verbose=1 if sys.stdout.isatty() else 2,
        shuffle=False,  # the batches are shuffled by tf.data, afresh every epoch
    )
    model.load_weights(run_dir / "best.weights.h5")
    task.tune(model, splits)
    _write_atomically(state, task.save_state)
    export(model, task.serving(model), run_dir / "export")

    history = read_history(run_dir / "history.csv")
    plot_history(history, run_dir / "training_curve.png")
    metrics = {
        "validation": model.evaluate(validation_batches, return_dict=True, verbose=0),
        "epochs": len(history),
        "best_epoch": 1 + _best_index(history, task),
        "train_examples": len(splits.train),
        **_throughput(task, train_batches, history),
    }
    write_json(run_dir / "metrics.json", metrics)
    return metrics


def _throughput(task: Task, train_batches, history: list[dict]) -> dict:
    """Wall time of all epochs, and timesteps per second of the training steps."""
    real, padded = task.count_tokens(train_batches)
    fit_seconds = sum(row["fit_seconds"] for row in history)
    # With steps_per_epoch an epoch is not one pass, so tokens are unknown.
    passes = 0 if task.train.steps_per_epoch else len(history)
    return {
        "train_seconds": round(sum(row["epoch_seconds"] for row in history), 1),
        "tokens_per_epoch": real,
        "tokens_per_second": round(real * passes / fit_seconds) if passes else None,
        "padded_tokens_per_second": round(padded * passes / fit_seconds) if passes else None,
    }


class EpochTimer(keras.callbacks.Callback):
    """Writes each epoch's wall time into its logs, so that history.csv keeps
    it across interruptions: `fit_seconds` for the training steps alone,
    `epoch_seconds` with validation too."""

    def on_epoch_begin(self, epoch, logs=None):
        self.started = self.fitted = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.fitted = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs["fit_seconds"] = self.fitted - self.started
        logs["epoch_seconds"] = time.perf_counter() - self.started


def _callbacks(task: Task, run_dir: Path, history: list[dict], extra: list) -> list:
    monitor, mode = task.monitor, task.monitor_mode
    # A resumed run must beat the best epoch before the interruption.
    best_so_far = history[_best_index(history, task)][monitor] if history else None
    # With --ema the averaged weights are validated, checkpointed and kept;
    # training steps still update the raw ones. The swap comes after the
    # backup, so that a resumed run trains on from the raw weights.
    averaging = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if task.train.ema else []
    return [
        *extra,
        EpochTimer(),  # after `extra`, so that epoch_seconds includes their work
        keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
        *averaging,
        keras.callbacks.ModelCheckpoint(
            str(run_dir / "best.weights.h5"),
            monitor=monitor,
            mode=mode,
            save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=best_so_far,
        ),
        keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=task.train.patience, baseline=best_so_far
        ),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(run_dir / "logs")),
    ]


def _settings_of_resumable_run(task: Task, run_dir: Path, command: str) -> dict:
    """The run's config.json; a resumed run must have the saved settings."""
    settings = {
        "task": task.name,
        "config": dataclasses.asdict(task.config),
        "train": dataclasses.asdict(task.train),
        "data": dataclasses.asdict(task.data),
        "command": command,
    }
    path = run_dir / "config.json"
    if path.exists():
        saved = json.loads(path.read_text())
        for part in ("task", "config", "train"):
            if saved[part] != settings[part]:
                raise FileExistsError(
                    f"{run_dir} holds an interrupted run with other {part} settings "
                    f"({saved[part]}); resume with the same options or choose another --run-dir"
                )
    return settings


def load_task(run_dir: Path, data: DataConfig | None = None) -> Task:
    """Re-creates the task a run was trained with, adapted state included."""
    path = run_dir / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.json)")
    saved = json.loads(path.read_text())
    task_class = TASKS[saved["task"]]
    task = task_class(
        from_dict(task_class.Config, saved["config"]),
        from_dict(task_class.Train, saved["train"]),
        data or from_dict(DataConfig, saved["data"]),
    )
    task.load_state(run_dir / "state.json")
    return task


def restore_model(run_dir: Path) -> tuple[Task, keras.Model]:
    """The task and its best model, as `train` left them in `run_dir`."""
    task = load_task(run_dir)
    model = task.build_model()
    model.load_weights(run_dir / "best.weights.h5")
    return task, model


def read_history(path: Path) -> list[dict]:
    """history.csv as one dict per epoch; a re-run epoch keeps its last row."""
    if not path.exists():
        return []
    with path.open(newline="") as file:
        rows = {int(row["epoch"]): row for row in csv.DictReader(file)}
    return [{key: float(value) for key, value in rows[epoch].items()} for epoch in sorted(rows)]


def _best_index(history: list[dict], task: Task) -> int:
    """The epoch (from 0) with the best monitored validation metric."""
    values = [row[task.monitor] for row in history]
    return values.index(max(values) if task.monitor_mode == "max" else min(values))


def plot_history(history: list[dict], path: Path) -> None:
    """One panel per metric, training beside validation, by epoch; a metric
    measured on validation only (say BLEU) gets a panel of its own."""
    names = [
        key.removeprefix("val_")
        for key in history[0]
        if key not in ("epoch", "learning_rate")
        and not key.endswith("_seconds")
        and not (key.startswith("val_") and key.removeprefix("val_") in history[0])
    ]
    figure, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.5), squeeze=False)
    epochs = [row["epoch"] + 1 for row in history]
    for axis, name in zip(axes[0], names, strict=True):
        if name in history[0]:
            axis.plot(epochs, [row[name] for row in history], marker="o", label="train")
        if f"val_{name}" in history[0]:
            axis.plot(
                epochs, [row[f"val_{name}"] for row in history], marker="o", label="validation"
            )
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_title(name)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_json(path: Path, data) -> None:
    """Writes JSON atomically: readers see the old file or the new one."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_text(path: Path, text: str) -> None:
    """Writes a text file atomically."""
    _write_atomically(path, lambda staging: staging.write_text(text))


def _write_atomically(path: Path, write) -> None:
    staging = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    write(staging)
    os.replace(staging, path)
