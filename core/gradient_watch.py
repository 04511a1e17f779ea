"""Gradient norms of every training step: per layer, how often clipping fired,
and which layer blew up when training diverges.

Keras clips inside the optimizer and reports nothing, so an explosion that
clipping hides looks like a run that learns slowly. `WatchedAdam` is Adam
that hands each step's gradients (before clipping) to a `GradientWatch`;
the watch keeps sums over the epoch and the last step's norms, a few small
reductions per step (docs/experiments/gradients.md measures them).

`--clipnorm` in Keras clips each weight's gradient to that norm on its own,
so clipping "fires" on a step where any weight's gradient norm exceeds it.
Under a tf.distribute strategy every replica clips its own gradients before
they are summed; the watch then counts replica steps.
"""

import keras
import numpy as np
import tensorflow as tf

SUM_PER_REPLICA = {
    "synchronization": tf.VariableSynchronization.ON_READ,
    "aggregation": tf.VariableAggregation.SUM,
    "trainable": False,
}


class TrainingDiverged(ArithmeticError):
    """The loss or a gradient stopped being finite; nothing of that step was saved."""


def layer_of(variable) -> str:
    """The layer a weight belongs to, from its path: `bi/forward_gru/gru_cell/
    kernel` -> `bi/forward_gru`, `out/kernel` -> `out`."""
    parts = variable.path.split("/")[:-1]
    cells = [index for index, part in enumerate(parts) if part.endswith("_cell")]
    return "/".join(parts[: cells[0]] if cells else parts) or variable.path


class GradientWatch:
    """Per-layer gradient norms, summed over the steps of an epoch, the steps
    whose gradients clipping changed, and the last step's norms."""

    def __init__(self, model: keras.Model, clipnorm: float):
        self.clipnorm = clipnorm
        self.layers = list(dict.fromkeys(layer_of(v) for v in model.trainable_variables))
        count = len(self.layers)
        self.norm_sums = tf.Variable(tf.zeros(count), name="norm_sums", **SUM_PER_REPLICA)
        self.global_sum = tf.Variable(0.0, name="global_sum", **SUM_PER_REPLICA)
        self.clipped = tf.Variable(0.0, name="clipped", **SUM_PER_REPLICA)
        self.last = tf.Variable(tf.zeros(count), name="last", **SUM_PER_REPLICA)
        self.before = tf.Variable(tf.zeros(count), name="before", **SUM_PER_REPLICA)

    @property
    def variables(self) -> list:
        """What a checkpoint keeps, so that a resumed epoch's sums are whole."""
        return [self.norm_sums, self.global_sum, self.clipped]

    def record(self, gradients, variables) -> None:
        """Called by the optimizer with one step's gradients, before clipping."""
        by_layer = {name: [] for name in self.layers}
        every = []
        for gradient, variable in zip(gradients, variables, strict=True):
            if gradient is not None:
                norm = _norm(_dense_rows(gradient))
                by_layer[layer_of(variable)].append(norm)
                every.append(norm)
        norms = tf.stack([_norm(tf.stack(parts)) if parts else 0.0 for parts in by_layer.values()])
        self.before.assign(self.last)
        self.last.assign(norms)
        self.norm_sums.assign_add(norms)
        self.global_sum.assign_add(_norm(norms))
        if self.clipnorm:
            fired = tf.reduce_max(tf.stack(every)) > self.clipnorm
            self.clipped.assign_add(tf.cast(fired, tf.float32))

    def epoch_logs(self, steps: int) -> dict:
        """The epoch's mean norms and clipped share over its `steps` replica
        steps, for history.csv and TensorBoard. (The watch does not count
        steps itself: a count that needs no data would also run in the step
        that finds the data exhausted.)"""
        steps = max(steps, 1)
        sums = self.norm_sums.read_value().numpy()
        logs = {
            f"grad_norm/{name}": float(total / steps)
            for name, total in zip(self.layers, sums, strict=True)
        }
        logs["grad_norm"] = float(self.global_sum.read_value()) / steps
        logs["clip_fraction"] = float(self.clipped.read_value()) / steps
        return logs

    def reset(self) -> None:
        for variable in self.variables:
            variable.assign(tf.zeros_like(variable))

    def check(self, loss: float, where: str) -> None:
        """Raises `TrainingDiverged` if the step's loss or gradient norms are not
        finite, naming the layer whose gradient norm exploded: the one that is
        not finite, or, when none or all of them are, the largest one of the
        step before."""
        norms = self.last.read_value().numpy()
        if np.isfinite(loss) and np.isfinite(norms).all():
            return
        before = self.before.read_value().numpy()
        broken = [
            name for name, norm in zip(self.layers, norms, strict=True) if not np.isfinite(norm)
        ]
        if broken and len(broken) < len(self.layers):
            culprit = f"the gradient norm of {', '.join(broken)} is not finite"
        else:
            largest = self.layers[int(np.nanargmax(np.nan_to_num(before, posinf=np.inf)))]
            culprit = (
                f"the gradient norm of {largest} was the largest the step before "
                f"({np.nanmax(before):.3g})"
            )
        raise TrainingDiverged(
            f"training diverged at {where}: the loss is {loss:.3g} and {culprit}. "
            f"Gradient norms by layer, this step: {_listed(self.layers, norms)}; the step "
            f"before: {_listed(self.layers, before)}. Nothing of this step was saved: the "
            "same command resumes from the last checkpoint; a lower --learning-rate or a "
            "--clipnorm may keep the run finite"
        )


def _listed(names: list, norms: np.ndarray) -> str:
    return ", ".join(f"{name} {norm:.3g}" for name, norm in zip(names, norms, strict=True))


def _dense_rows(gradient) -> tf.Tensor:
    """A gradient as float32 values whose norm is its norm: an embedding's
    sparse gradient as its rows, a row seen twice summed (never the whole
    dense table, which would cost more than the step)."""
    if not isinstance(gradient, tf.IndexedSlices):
        return tf.cast(gradient, tf.float32)
    rows, position = tf.unique(gradient.indices)
    return tf.math.unsorted_segment_sum(
        tf.cast(gradient.values, tf.float32), position, tf.size(rows)
    )


def _norm(values: tf.Tensor) -> tf.Tensor:
    """The L2 norm, computed on values scaled by their largest, so that a norm
    near float32's largest number does not overflow on the way (squares)."""
    largest = tf.reduce_max(tf.abs(values))
    scale = tf.where(largest > 0, largest, 1.0)
    return largest * tf.sqrt(tf.reduce_sum(tf.square(values / scale)))


class WatchedAdam(keras.optimizers.Adam):
    """Adam that shows each step's gradients, before clipping, to a `GradientWatch`."""

    def __init__(self, *arguments, watch: GradientWatch | None = None, **options):
        super().__init__(*arguments, **options)
        self._watch = watch

    def apply(self, grads, trainable_variables=None):
        if self._watch is not None:
            self._watch.record(grads, trainable_variables or self._trainable_variables)
        return super().apply(grads, trainable_variables)
