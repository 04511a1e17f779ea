"""How far the gradient reaches back through time, measured on one batch.

Backpropagation through time multiplies one Jacobian dh_t/dh_(t-1) per step,
so the gradient that reaches step t from a loss at step T shrinks (or grows)
with T - t. This module measures, for every recurrent layer and direction,

- ||dL/dh_t|| at every step t: the whole gradient backpropagation carries
  to the state h_t, through the layers above at step t and through the
  recurrence after it. (The gradient with respect to the layer's output
  sequence is the layers above's share alone; it misses the recurrence.)
  It is measured exactly: a zero tensor s_t is added to every state h_t
  inside the layer's loop, which changes no value, and dL/ds_t = dL/dh_t;
- saturation: the share of the cell's gate and tanh values within 0.01 of
  their bounds, where their derivative, and so the gradient, vanishes.

The layers run in a loop written here (eagerly, one batch), with the
masking rules of Keras's own loop; tests check that it gives the layer's
outputs. A cell that a layer steps in a loop of its own (translation's
attention decoder) is probed at each of its calls instead. Layers are
found with Keras's private `Layer._flatten_layers`, which walks nested
layers and models (Keras 3.15). The loss is the compiled loss restricted, for tasks with a loss at
every step, to each sequence's last real step (`Task.final_step_only`), so
that the curve shows the flow back through time alone.
"""

import contextlib
import json
import time
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from core.files import write_json
from core.plots import plot_flow_curves, plot_flow_heatmap

NEAR_BOUND = 0.01  # a value this close to its bound counts as saturated
BOUNDS = {"sigmoid": (0.0, 1.0), "hard_sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}


class Probe(NamedTuple):
    """One recurrent layer's run over the batch, as the diagnostic saw it."""

    name: str
    backwards: bool
    shift: tf.Tensor | list  # the zeros added to the states, (batch, steps, units), or per step
    mask: tf.Tensor | None  # real steps, (batch, steps); None: up to the last one reached
    values: dict  # gate or activation name -> ((batch, steps, units), its bounds)


CELLS = (keras.layers.SimpleRNNCell, keras.layers.LSTMCell, keras.layers.GRUCell)


def recurrent_parts(model: keras.Model) -> tuple[dict, dict]:
    """What the diagnostic probes, by readable names: every Keras recurrent
    layer (a bidirectional one as `name/forward` and `name/backward`), and
    every cell a layer steps in a loop of its own (say a decoder with
    attention), not a recurrent layer's."""
    layers = model._flatten_layers(include_self=False)
    named, owned = {}, set()
    for layer in layers:
        if isinstance(layer, keras.layers.Bidirectional):
            named[id(layer.forward_layer)] = f"{layer.name}/forward"
            named[id(layer.backward_layer)] = f"{layer.name}/backward"
        if isinstance(layer, keras.layers.RNN):
            owned.add(id(layer.cell))
    recurrent = {
        named.get(id(layer), layer.name): layer
        for layer in layers
        if isinstance(layer, keras.layers.RNN)
    }
    cells = {
        layer.name: layer for layer in layers if isinstance(layer, CELLS) and id(layer) not in owned
    }
    return recurrent, cells


def gradient_flow(task, model: keras.Model, batch) -> dict:
    """||dL/dh_t|| and saturation of every recurrent layer on `batch`, an
    `(inputs, targets)` pair of `task.batches`; the model must be compiled.

    Per layer: `by_step`, the mean norm over the examples real at step t;
    `by_distance`, the mean norm d steps before the layer's last real step
    (the sequence's end for a forward layer, its start for a backward one),
    so that sequences of different lengths line up; `saturation`, the share
    of each gate's values within 0.01 of its bounds, over real steps."""
    started = time.perf_counter()
    inputs, targets = batch
    targets, weights = task.final_step_only(inputs, targets)
    probes: list[Probe] = []
    with tf.GradientTape() as tape, probed(model, tape, probes):
        predictions = model(inputs, training=False)
        loss = model.compute_loss(inputs, targets, predictions, weights, training=False)
    gradients = tape.gradient(loss, [probe.shift for probe in probes])
    layers = {}
    for probe, gradient in zip(probes, gradients, strict=True):
        if isinstance(gradient, list):  # a cell stepped in a loop: one per step
            gradient = tf.stack(gradient, 1)
        norms = np.linalg.norm(np.asarray(gradient, dtype="float64"), axis=-1)
        real = _reached(norms) if probe.mask is None else probe.mask.numpy().astype(bool)
        layers[probe.name] = {
            "by_step": _mean_over_real(norms, real),
            "by_distance": _mean_over_real(*_by_distance(norms, real, probe.backwards)),
            "saturation": {
                name: _saturated(values, bounds, real)
                for name, (values, bounds) in probe.values.items()
            },
        }
    return {
        "loss": float(loss),
        "examples": int(tf.shape(tf.nest.flatten(inputs)[0])[0]),
        "seconds": round(time.perf_counter() - started, 3),
        "layers": layers,
    }


@contextlib.contextmanager
def probed(model: keras.Model, tape: tf.GradientTape, probes: list):
    """Inside the block, every recurrent layer of `model` runs the loop below,
    which records a `Probe` per call into `probes`; a cell stepped in a loop
    of its own adds a zero to its state at every call, recorded after it."""
    layers, cells = recurrent_parts(model)
    for name, layer in layers.items():
        layer.__dict__["inner_loop"] = _probed_loop(name, layer, tape, probes)
    steps = {name: [] for name in cells}
    for name, cell in cells.items():
        cell.__dict__["call"] = _probed_step(cell, tape, steps[name])
    try:
        yield
    finally:
        for layer in layers.values():
            layer.__dict__.pop("inner_loop", None)
        for cell in cells.values():
            cell.__dict__.pop("call", None)
    for name, calls in steps.items():
        if calls:
            values = {
                gate: (tf.stack([opened[gate][0] for _, opened in calls], 1), bounds)
                for gate, (_, bounds) in calls[0][1].items()
            }
            probes.append(Probe(name, False, [shift for shift, _ in calls], None, values))


def _probed_step(cell, tape: tf.GradientTape, calls: list):
    """A stand-in for `cell.call` that adds a watched zero to the new state."""
    step = type(cell).call

    def call(inputs, states, training=False):
        output, new_states = step(cell, inputs, states, training=training)
        shift = tf.zeros_like(output)
        tape.watch(shift)
        if not isinstance(states, (list, tuple)):  # one state, not in a list
            calls.append((shift, opened_values(cell, inputs, states)))
            return output + shift, new_states + shift
        calls.append((shift, opened_values(cell, inputs, states[0])))
        return output + shift, [new_states[0] + shift, *new_states[1:]]

    return call


def _probed_loop(name: str, layer, tape: tf.GradientTape, probes: list):
    """A stand-in for `layer.inner_loop` with Keras's masking rules: a masked
    step keeps the states and outputs zeros (`zero_output_for_mask`) or the
    previous output."""
    cell = layer.cell

    def inner_loop(sequences, initial_state, mask, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        batch, steps = ops.shape(sequences)[0], sequences.shape[1]
        real = tf.ones([batch, steps], bool) if mask is None else tf.cast(mask, bool)
        shift = tf.zeros([batch, steps, cell.units], cell.compute_dtype)
        tape.watch(shift)
        states = list(initial_state)
        output = tf.zeros([batch, cell.units], cell.compute_dtype)
        outputs, values = [], {}
        order = range(steps - 1, -1, -1) if layer.go_backwards else range(steps)
        for step in order:
            x = sequences[:, step]
            opened = opened_values(cell, x, states[0])
            new_output, new_states = cell(x, states, training=training)
            new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
            new_states[0] = new_states[0] + shift[:, step]
            new_output = new_output + shift[:, step]
            keep = real[:, step, None]
            states = [tf.where(keep, new, old) for new, old in zip(new_states, states, strict=True)]
            held = tf.zeros_like(output) if layer.zero_output_for_mask else output
            output = tf.where(keep, new_output, held)
            outputs.append(output)
            for gate, (value, bounds) in opened.items():
                values.setdefault(gate, ([], bounds))[0].append(value)
        in_time_order = slice(None, None, -1) if layer.go_backwards else slice(None)
        probes.append(
            Probe(
                name,
                layer.go_backwards,
                shift,
                real,
                {
                    gate: (tf.stack(series[in_time_order], 1), bounds)
                    for gate, (series, bounds) in values.items()
                },
            )
        )
        # Keras's loop returns the outputs in the order it read the steps.
        return output, tf.stack(outputs, 1), states

    return inner_loop


def opened_values(cell, x, h) -> dict:
    """The values of one step of `cell` that can saturate, with their bounds:
    the gates and the tanh candidate of an LSTM or GRU, a plain RNN's state.
    An unbounded activation (ReLU, linear) has none."""
    kind = type(cell).__name__
    gate_bounds = BOUNDS.get(getattr(getattr(cell, "recurrent_activation", None), "__name__", ""))
    bounds = BOUNDS.get(getattr(cell.activation, "__name__", ""), None)
    if kind == "LSTMCell":
        z = ops.matmul(x, cell.kernel) + ops.matmul(h, cell.recurrent_kernel)
        if cell.use_bias:
            z = z + cell.bias
        i, f, c, o = ops.split(z, 4, axis=-1)
        named = {
            "input_gate": (cell.recurrent_activation(i), gate_bounds),
            "forget_gate": (cell.recurrent_activation(f), gate_bounds),
            "candidate": (cell.activation(c), bounds),
            "output_gate": (cell.recurrent_activation(o), gate_bounds),
        }
    elif kind == "GRUCell":
        projected = ops.matmul(x, cell.kernel)
        inner = ops.matmul(h, cell.recurrent_kernel)
        if cell.use_bias:
            if cell.reset_after:
                projected, inner = projected + cell.bias[0], inner + cell.bias[1]
            else:
                projected = projected + cell.bias
        x_z, x_r, x_h = ops.split(projected, 3, axis=-1)
        z = cell.recurrent_activation(x_z + inner[:, : cell.units])
        r = cell.recurrent_activation(x_r + inner[:, cell.units : 2 * cell.units])
        if cell.reset_after:
            candidate = x_h + r * inner[:, 2 * cell.units :]
        else:
            candidate = x_h + ops.matmul(r * h, cell.recurrent_kernel[:, 2 * cell.units :])
        named = {
            "update_gate": (z, gate_bounds),
            "reset_gate": (r, gate_bounds),
            "candidate": (cell.activation(candidate), bounds),
        }
    elif kind == "SimpleRNNCell":
        z = ops.matmul(x, cell.kernel) + ops.matmul(h, cell.recurrent_kernel)
        if cell.use_bias:
            z = z + cell.bias
        named = {"state": (cell.activation(z), bounds)}
    else:
        named = {}
    return {name: value for name, value in named.items() if value[1] is not None}


def _reached(norms: np.ndarray) -> np.ndarray:
    """Without a mask, an example's steps up to the last one the gradient
    reaches: the loss is at its last real step, so nothing after it is."""
    reached = norms > 0
    last = np.where(reached.any(1), norms.shape[1] - 1 - np.argmax(reached[:, ::-1], 1), -1)
    return np.arange(norms.shape[1])[None, :] <= last[:, None]


def _mean_over_real(norms: np.ndarray, real: np.ndarray) -> list:
    """Column means of `norms` over the rows where `real`; None where no row is."""
    counts = real.sum(0)
    sums = np.where(real, norms, 0.0).sum(0)
    return [
        float(total / count) if count else None for total, count in zip(sums, counts, strict=True)
    ]


def _by_distance(norms: np.ndarray, real: np.ndarray, backwards: bool):
    """`norms` and `real` re-indexed by steps before the last real step the
    layer reads (right-padded sequences: the end, or the start when backwards)."""
    if backwards:
        return norms, real
    index = real.sum(1)[:, None] - 1 - np.arange(norms.shape[1])[None, :]
    valid = index >= 0
    rows = np.arange(len(norms))[:, None]
    return np.where(valid, norms[rows, np.maximum(index, 0)], 0.0), valid


def _saturated(values: tf.Tensor, bounds: tuple, real: np.ndarray) -> float:
    values = np.asarray(tf.cast(values, tf.float32))
    low, high = bounds
    near = (values - low < NEAR_BOUND) | (high - values < NEAR_BOUND)
    weights = np.broadcast_to(real[..., None], near.shape)
    return float(near[weights].mean()) if weights.any() else 0.0


def record_flow(task, model: keras.Model, batch, epoch: int, run_dir: Path) -> float:
    """Measures the flow after `epoch` epochs (0: at initialisation) into
    `run_dir/gradients/flow.json`, one entry per epoch (replaced when measured
    again, as a resumed run does), with its pictures; returns its seconds."""
    folder = run_dir / "gradients"
    path = folder / "flow.json"
    records = json.loads(path.read_text())["epochs"] if path.exists() else []
    measured = {"epoch": epoch, **gradient_flow(task, model, batch)}
    records = sorted([*(r for r in records if r["epoch"] != epoch), measured], key=_epoch)
    write_flow(records, folder, "flow")
    return measured["seconds"]


def measure_run(task, run_dir: Path, folder: Path) -> list[Path]:
    """The flow of a finished run's kept weights (`best.weights.h5`) on its
    first validation batch, into `folder/gradient_flow.json` and `.png`."""
    model = task.build_model()
    model.load_weights(run_dir / "best.weights.h5")
    model.compile(**task.compile_arguments())
    batch = next(iter(task.batches(task.splits().validation, training=False)))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    record = {
        "epoch": metrics["best_epoch"],
        "run": str(run_dir),
        **gradient_flow(task, model, batch),
    }
    return write_flow([record], folder, "gradient_flow")


def write_flow(records: list[dict], folder: Path, stem: str) -> list[Path]:
    """`stem.json` and the pictures of `records` (from `gradient_flow`, each
    with its `epoch`): the curves, and with several epochs a heat map."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{stem}.json", folder / f"{stem}.png"]
    write_json(paths[0], {"near_bound": NEAR_BOUND, "epochs": records})
    plot_flow_curves(records, paths[1])
    if len(records) > 1:
        paths.append(folder / f"{stem}_heatmap.png")
        plot_flow_heatmap(records, paths[2])
    return paths


def _epoch(record: dict) -> int:
    return record["epoch"]
