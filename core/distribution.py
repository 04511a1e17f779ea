"""Training on several devices or machines with tf.distribute.

`--distribute none` trains in one process on its default device;
`mirrored` copies the model onto every local GPU (or CPU device) of one
process; `multi-worker` trains one copy per process of a cluster that the
environment variable `TF_CONFIG` names, as TensorFlow's multi-worker guide
does. `--batch-size` is the global batch: each step splits it among the
replicas, so a run's settings mean the same under every strategy.

Keras's `fit`, `evaluate` and `predict` reduce each step's metrics across
workers with `strategy.reduce(..., axis=0)`, which fails on the scalar
metric values of a multi-worker cluster (keras-team/keras#20585). The
training loop (`core.fitting`) therefore runs its own steps, `train_step`
and `test_step` of the model under `strategy.run`, and reads the metrics
once per epoch from their variables, which tf.distribute sums over every
replica of the cluster.

In a cluster every worker reads the run directory, which must therefore be
on a filesystem they share (as TensorFlow's guide assumes for checkpoints),
and only the chief writes it. When a worker stops, tf.distribute's health
checks stop the others; starting every worker again with the same command
resumes the run from the chief's last saved training state.
"""

import contextlib
import functools
import json
import os
import shutil
import socket
import tempfile
import weakref
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core.config import STRATEGIES

ON_READ = tf.VariableSynchronization.ON_READ
_STEPS = weakref.WeakKeyDictionary()  # model -> {id(strategy): its step functions}
AGREE_EVERY = 8  # steps between a cluster's agreements on when to save


class WorkerLost(RuntimeError):
    """A worker of the cluster stopped; the others cannot go on without it."""


@contextlib.contextmanager
def precision(mixed: bool):
    """Layers made inside compute in float16 on a GPU (bfloat16 on a CPU, which
    has no fast float16) and keep float32 weights; the tasks make their output
    layers float32, so that losses, softmaxes and exports stay float32. With
    float16, `compile` scales the loss against underflow."""
    previous = keras.config.dtype_policy()
    if mixed:
        gpu = tf.config.list_physical_devices("GPU")
        keras.config.set_dtype_policy("mixed_float16" if gpu else "mixed_bfloat16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@functools.cache
def make_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy `--distribute NAME` asks for; a multi-worker one must be
    made before TensorFlow runs anything else. One per process: a second
    strategy's collective operations take the first one's instance keys
    and fail with a shape mismatch (tensorflow/tensorflow#62790)."""
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "--distribute multi-worker needs the cluster in the environment variable "
                'TF_CONFIG, say {"cluster": {"worker": ["host1:port", "host2:port"]}, '
                '"task": {"type": "worker", "index": 0}} on the first machine'
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"--distribute must be one of {STRATEGIES}, got {name!r}")


def localhost_cluster(workers: int) -> list[dict]:
    """The TF_CONFIG of each worker of a cluster on this machine, on free ports."""
    sockets = [socket.socket() for _ in range(workers)]
    for each in sockets:
        each.bind(("localhost", 0))
    cluster = {"worker": [f"localhost:{each.getsockname()[1]}" for each in sockets]}
    for each in sockets:
        each.close()
    return [{"cluster": cluster, "task": {"type": "worker", "index": i}} for i in range(workers)]


def is_chief() -> bool:
    """Whether this process writes the run: the `chief` task of `TF_CONFIG`,
    or worker 0 of a cluster without one, or a process outside any cluster."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task = config.get("task", {})
    if not task:
        return True
    if "chief" in config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


def writing_place(run_dir: Path, strategy: tf.distribute.Strategy) -> Path:
    """Where this process writes: the run directory, unless it is a worker of a
    cluster other than the chief; then a scratch copy of it (the chief's
    checkpoint included, so that a restarted cluster resumes together), to
    be removed by `clean_up`."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or is_chief():
        return run_dir
    scratch = Path(tempfile.mkdtemp(prefix="rnn-worker-"))
    if run_dir.is_dir():
        shutil.copytree(run_dir, scratch, dirs_exist_ok=True, ignore_dangling_symlinks=True)
    return scratch


def clean_up(run_dir: Path, place: Path) -> None:
    if place != run_dir:
        shutil.rmtree(place, ignore_errors=True)


def sharded(strategy: tf.distribute.Strategy, batches: tf.data.Dataset):
    """`batches` split among the replicas; in a cluster each worker reads every
    batch and keeps its share of each (sharding by data: the examples come from
    memory, not from files, and bucketed batches differ in length)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(batches.with_options(options))


def step_functions(model: keras.Model, strategy: tf.distribute.Strategy):
    """(train, test) functions of an iterator over `sharded` batches: one step of
    the model's `train_step` / `test_step` on every replica. The training step
    returns the first replica's running metrics, for the progress bar. Made
    once per model and strategy, so that each traces once."""
    made = _STEPS.setdefault(model, {})
    if id(strategy) not in made:
        made[id(strategy)] = _steps(model, strategy)
    return made[id(strategy)]


def _steps(model: keras.Model, strategy: tf.distribute.Strategy):

    @tf.function(reduce_retracing=True)
    def train(iterator):
        logs = strategy.run(model.train_step, args=(next(iterator),))
        return {name: strategy.experimental_local_results(value)[0] for name, value in logs.items()}

    @tf.function(reduce_retracing=True)
    def test(iterator):
        strategy.run(model.test_step, args=(next(iterator),))

    return train, test


def assign(variable, value: np.ndarray, strategy: tf.distribute.Strategy) -> None:
    """Sets a variable to a saved value. A metric's variables are kept per
    replica and summed when read, so the value goes to the first replica and
    zeros to the others."""
    kept_per_replica = getattr(variable, "synchronization", None) in ("on_read", ON_READ)
    if not kept_per_replica or strategy.num_replicas_in_sync == 1:
        variable.assign(value)
        return

    def per_replica():
        first = tf.distribute.get_replica_context().replica_id_in_sync_group == 0
        variable.assign(tf.where(first, value, tf.zeros_like(value)))

    strategy.run(tf.function(per_replica))


def decided_together(strategy: tf.distribute.Strategy, wanted: bool, step: int) -> bool:
    """Whether to do now what every worker must do at the same step (say save
    the training state, whose metrics are read across the cluster): in a
    cluster, asked every `AGREE_EVERY` steps and done if any worker wants it."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return wanted
    if step % AGREE_EVERY:
        return False
    votes = strategy.run(lambda: tf.constant(float(wanted)))
    return bool(strategy.reduce("SUM", votes, axis=None) > 0)


def same_on_every_worker(strategy: tf.distribute.Strategy, value: float) -> bool:
    """Whether every worker of a cluster holds `value` (say where training is)."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    votes = strategy.run(lambda: tf.constant([value, value * value], tf.float64))
    total, squares = strategy.reduce("SUM", votes, axis=None).numpy()
    return bool(np.isclose(total * total, strategy.num_replicas_in_sync * squares))
