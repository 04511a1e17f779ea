"""Fit any task into a run directory, resumably, and export it.

Every step can be cut off (`kill -9`) and the same command resumes it; the
run then ends with the weights and metrics of a run never interrupted.

run_dir/config.json          resolved settings, commit and data fingerprint
run_dir/state.json           preprocessing adapted on train (vocabularies)
run_dir/checkpoint.npz       training state while training (core.fitting)
run_dir/progress.json        which steps after training are done
run_dir/best.weights.h5      weights of the best validation epoch
run_dir/history.csv          one row per epoch, with its wall time
run_dir/logs/                TensorBoard
run_dir/training_curve.png   the history as a picture
run_dir/metrics.json         validation metrics, time and throughput: the run is finished
run_dir/export/<N>/          SavedModel serving raw input -> raw output
"""

import dataclasses
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core.distribution import WorkerLost, clean_up, make_strategy, precision, writing_place
from core.export import export, next_version
from core.files import remove_leftovers, write_json
from core.fitting import fit, read_history, validate
from core.gradient_watch import GradientWatch, WatchedAdam
from core.plots import plot_history
from core.task import Splits, Task

REPOSITORY = Path(__file__).resolve().parent.parent


def run(
    task: Task,
    run_dir: Path,
    command: str = "",
    checkpoint_minutes: float = 5.0,
    distribute: str = "none",
) -> dict:
    """Trains, tunes, exports and validates `task` in `run_dir`, resuming
    whatever an earlier attempt left unfinished; a finished run with the
    same settings is returned as it is. `distribute` names the strategy
    (`core.distribution`); in a cluster only the chief writes `run_dir`."""
    strategy = make_strategy(distribute)
    place = writing_place(run_dir, strategy)
    try:
        return _run(task, run_dir, place, command, checkpoint_minutes, strategy)
    except tf.errors.UnavailableError:
        if distribute != "multi-worker":
            raise
        # tf.distribute's health checks stop every worker when one stops;
        # there is no joining a running cluster again in this Keras.
        raise WorkerLost(
            "a worker of the cluster stopped (see TensorFlow's lines above); start every "
            "worker again with the same command: the run resumes from the training state "
            f"last saved in {run_dir}"
        ) from None
    finally:
        clean_up(run_dir, place)


def _run(task: Task, shown: Path, run_dir: Path, command, checkpoint_minutes, strategy) -> dict:
    """`run`, writing into `run_dir` (the chief's, or a worker's scratch copy of
    it); `shown` is the run directory named in messages."""
    if tf.config.list_physical_devices("GPU"):
        # GPU kernels (cuDNN's among them) may sum in any order unless asked
        # not to; ops without a deterministic kernel then fail instead. The
        # CPU kernels used here are deterministic already, and the flag costs
        # them about 3.5% of wall time (docs/experiments/reproducibility.md).
        tf.config.experimental.enable_op_determinism()
    task.settle()
    keras.utils.set_random_seed(task.training.seed)
    splits = task.splits()  # bad data stops here, before the run directory exists
    settings = {
        "task": task.name,
        "config": dataclasses.asdict(task.config),
        "train": dataclasses.asdict(task.training),
        "data": dataclasses.asdict(task.data),
        "data_fingerprint": fingerprint(splits),
        "command": command,
        "source": source_version(),
    }
    _refuse_other_settings(task, run_dir, settings, shown)
    if (run_dir / "metrics.json").exists():
        print(f"{shown} already holds this run, finished")
        return json.loads((run_dir / "metrics.json").read_text())
    run_dir.mkdir(parents=True, exist_ok=True)
    remove_leftovers(run_dir)
    if not (run_dir / "config.json").exists():
        write_json(run_dir / "config.json", settings)
    state = run_dir / "state.json"
    if state.exists():
        task.load_state(state)
    else:
        task.adapt(splits.train)
        write_json(state, task.state())

    # Data loading and adapting may draw random numbers, and a resumed run
    # skips them: the weights are drawn from a freshly seeded state.
    keras.utils.set_random_seed(task.training.seed)
    with strategy.scope(), precision(task.training.mixed_precision):
        model = task.build_model()
        averaging = (
            {"use_ema": True, "ema_momentum": task.training.ema} if task.training.ema else {}
        )
        watch = GradientWatch(model, task.training.clipnorm)
        model.compile(
            optimizer=WatchedAdam(
                task.training.learning_rate,
                clipnorm=task.training.clipnorm or None,
                watch=watch,
                **averaging,
            ),
            **task.compile_arguments(),
        )
        model.optimizer.build(model.trainable_variables)  # its slots are in every weights file
    progress_path = run_dir / "progress.json"
    progress = json.loads(progress_path.read_text()) if progress_path.exists() else {}
    if "trained" not in progress:
        task.start_from(model)  # a resumed fit then loads its checkpoint over it
        fit(task, model, splits, run_dir, checkpoint_minutes, strategy, watch)
        progress["trained"] = True
        write_json(progress_path, progress)
    (run_dir / "checkpoint.npz").unlink(missing_ok=True)  # training is over; its state with it
    model.load_weights(run_dir / "best.weights.h5")
    if "tuned" not in progress:
        task.tune(model, splits)
        write_json(state, task.state())
        progress["tuned"] = True
        write_json(progress_path, progress)
    # Before the export: it also builds the preprocessing layers (say a
    # vocabulary lookup), which a run resumed after training has not called.
    validation_batches = task.batches(splits.validation, training=False)
    validation = validate(model, validation_batches, strategy)
    if "exported" not in progress:
        root = run_dir / "export"
        # The version is chosen once: an export cut off and redone replaces it.
        progress.setdefault("export_version", next_version(root))
        write_json(progress_path, progress)
        for leftover in root.glob(".tmp-*"):
            shutil.rmtree(leftover)
        export(model, task.serving(model), root, progress["export_version"])
        progress["exported"] = True
        write_json(progress_path, progress)

    history = read_history(run_dir / "history.csv")
    plot_history(history, run_dir / "training_curve.png")
    metrics = {
        "validation": validation,
        "epochs": len(history),
        "best_epoch": 1 + _best_index(history, task),
        "train_examples": len(splits.train),
        **_throughput(task, task.batches(splits.train, training=True), history),
    }
    write_json(run_dir / "metrics.json", metrics)
    return metrics


def _throughput(task: Task, train_batches, history: list[dict]) -> dict:
    """Wall time of all epochs, and timesteps per second of the training steps."""
    real, padded = task.count_tokens(train_batches)
    fit_seconds = sum(row["fit_seconds"] for row in history)
    # With steps_per_epoch an epoch is not one pass, so tokens are unknown.
    passes = 0 if task.training.steps_per_epoch else len(history)
    return {
        "train_seconds": round(sum(row["epoch_seconds"] for row in history), 1),
        "tokens_per_epoch": real,
        "tokens_per_second": round(real * passes / fit_seconds) if passes else None,
        "padded_tokens_per_second": round(padded * passes / fit_seconds) if passes else None,
    }


def _refuse_other_settings(task: Task, run_dir: Path, settings: dict, shown: Path) -> None:
    """A run directory resumes only the run it holds: same task, model,
    training and data settings, and the same data. A setting newer than the
    run's code counts as its default there."""
    path = run_dir / "config.json"
    if not path.exists():
        return
    saved = json.loads(path.read_text())
    classes = {"config": type(task.config), "train": type(task.training)}
    for part in ("task", "config", "train", "data"):
        ours, theirs = settings[part], saved[part]
        if part in classes and saved["task"] == task.name:
            theirs = dataclasses.asdict(classes[part]()) | theirs
        if part == "data":  # where a copy of the data lives is not a setting of the run
            ours, theirs = {"dataset": ours["dataset"]}, {"dataset": theirs["dataset"]}
        if ours == theirs:
            continue
        if isinstance(ours, dict):
            differ = [name for name in ours if ours[name] != theirs.get(name)]
            detail = ", ".join(
                f"{name} {theirs.get(name)!r} (now {ours[name]!r})" for name in differ
            )
        else:
            detail = f"{theirs!r} (now {ours!r})"
        raise FileExistsError(
            f"{shown} holds a run with other {part} settings: {detail}; "
            "repeat its settings or choose another --run-dir"
        )
    if saved.get("data_fingerprint", settings["data_fingerprint"]) != settings["data_fingerprint"]:
        raise FileExistsError(
            f"{shown} holds a run trained on other data than "
            f"{settings['data']['dataset'] or 'the benchmark dataset'} holds now; "
            "choose another --run-dir"
        )


def fingerprint(splits: Splits) -> str:
    """A sha256 of every example of every split, to tell data apart."""
    digest = hashlib.sha256()

    def feed(value) -> None:
        if isinstance(value, np.ndarray) and value.dtype != object:
            digest.update(f"{value.dtype}{value.shape}".encode())
            digest.update(np.ascontiguousarray(value).tobytes())
        elif isinstance(value, (np.ndarray, tuple, list)):
            digest.update(f"[{len(value)}".encode())
            for item in value.ravel() if isinstance(value, np.ndarray) else value:
                feed(item)
        elif dataclasses.is_dataclass(value):
            feed([getattr(value, field.name) for field in dataclasses.fields(value)])
        else:
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else repr(value)
            digest.update(f"{len(text)}:{text}".encode())

    feed(list(splits))
    return digest.hexdigest()


# Results and documents, not code: a worktree holding one benchmark's
# uncommitted results, or a diary entry written while a benchmark trains,
# still runs its commit exactly.
NOT_CODE = ("benchmarks/*.json", "benchmarks/*/*", "README.md", "docs/*")


def source_version(repository: Path = REPOSITORY) -> dict:
    """The commit of the code that runs, and whether files other than
    results and documents (`NOT_CODE`) differ from it."""

    def git(*arguments) -> str:
        result = subprocess.run(
            ["git", *arguments], cwd=repository, capture_output=True, text=True, check=False
        )
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    excluded = [f":(exclude){pattern}" for pattern in NOT_CODE]
    changed = git("status", "--porcelain", "--", ".", *excluded)
    return {"commit": commit or None, "clean": bool(commit) and not changed}


def _best_index(history: list[dict], task: Task) -> int:
    """The epoch (from 0) with the best monitored validation metric."""
    values = [row[task.monitor] for row in history]
    return values.index(max(values) if task.monitor_mode == "max" else min(values))
