"""Gradient diagnostics measure what they claim: the flow back through time,
saturation, clipping, and the stop of a run whose gradients explode."""

import csv
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import ROOT
from test_runs import weights

from core.gradient_flow import gradient_flow, opened_values, probed
from core.gradient_watch import TrainingDiverged, _dense_rows, _norm
from core.runner import run
from core.task import Task
from tasks.memory.config import MemoryConfig, MemoryTraining
from tasks.memory.task import Memory


def linear_rnn(weight: float, bidirectional: bool = False) -> keras.Model:
    """h_t = x_t + weight * h_(t-1), one unit, no bias; the loss reads h_T."""
    sequence = keras.Input((None, 1))
    rnn = keras.layers.SimpleRNN(
        1,
        activation="linear",
        use_bias=False,
        kernel_initializer="ones",
        recurrent_initializer=keras.initializers.Constant(weight),
        name="linear",
    )
    if bidirectional:
        rnn = keras.layers.Bidirectional(rnn, name="both")
    model = keras.Model(sequence, rnn(sequence))
    model.compile(loss="mse")
    return model


class ManyToOne:
    """A task whose loss has no time axis: the default of `Task`."""

    final_step_only = Task.final_step_only


@pytest.mark.parametrize("weight", [0.9, 1.1])
def test_the_flow_of_a_linear_rnn_is_the_recurrent_weight_to_the_distance(weight):
    """dL/dh_t = w^(T-t) dL/dh_T for h_t = x_t + w h_(t-1)."""
    steps = 30
    inputs = np.random.default_rng(0).normal(size=(4, steps, 1)).astype("float32")
    flow = gradient_flow(ManyToOne(), linear_rnn(weight), (inputs, np.zeros((4, 1), "float32")))
    norms = np.array(flow["layers"]["linear"]["by_distance"])
    expected = norms[0] * weight ** np.arange(steps)
    np.testing.assert_allclose(norms, expected, rtol=1e-5)
    assert flow["layers"]["linear"]["by_step"] == pytest.approx(norms[::-1].tolist(), rel=1e-6)


def test_a_backward_layer_flows_from_the_start():
    """Reading right to left, the backward layer's last step is the first."""
    inputs = np.random.default_rng(1).normal(size=(2, 12, 1)).astype("float32")
    flow = gradient_flow(
        ManyToOne(), linear_rnn(0.8, bidirectional=True), (inputs, np.zeros((2, 2), "float32"))
    )
    backward = np.array(flow["layers"]["both/backward"]["by_distance"])
    np.testing.assert_allclose(backward, backward[0] * 0.8 ** np.arange(12), rtol=1e-5)
    assert set(flow["layers"]) == {"both/forward", "both/backward"}


@pytest.mark.parametrize("cell", [keras.layers.SimpleRNN, keras.layers.LSTM, keras.layers.GRU])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_the_probed_loop_gives_the_layers_own_outputs(cell, return_sequences):
    """The diagnostic runs the layers in its own loop; masked (right-padded)
    sequences, both directions, either kind of output: the same numbers."""
    ids = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(20, 6, mask_zero=True)(ids)
    both = keras.layers.Bidirectional(cell(5, return_sequences=return_sequences))(embedded)
    model = keras.Model(
        ids, cell(4, return_sequences=return_sequences)(both) if return_sequences else both
    )
    batch = np.array([[3, 4, 5, 6, 7], [8, 9, 0, 0, 0], [1, 2, 3, 0, 0]], dtype="int32")
    expected = model(batch).numpy()
    with tf.GradientTape() as tape, probed(model, tape, probes := []):
        probed_outputs = model(batch).numpy()
    np.testing.assert_allclose(probed_outputs, expected, rtol=1e-5, atol=1e-6)
    assert len(probes) == (3 if return_sequences else 2)
    np.testing.assert_allclose(model(batch).numpy(), expected)  # the layers are themselves again


def test_saturation_counts_values_at_their_bounds():
    """A tanh RNN with huge weights sits at +-1; with tiny ones it never does."""
    inputs = np.random.default_rng(2).normal(size=(8, 10, 3)).astype("float32")

    def saturation(scale: float) -> float:
        sequence = keras.Input((None, 3))
        rnn = keras.layers.SimpleRNN(
            16,
            kernel_initializer=keras.initializers.RandomNormal(stddev=scale),
            recurrent_initializer=keras.initializers.RandomNormal(stddev=scale),
        )
        model = keras.Model(sequence, rnn(sequence))
        model.compile(loss="mse")
        flow = gradient_flow(ManyToOne(), model, (inputs, np.zeros((8, 16), "float32")))
        return next(iter(flow["layers"].values()))["saturation"]["state"]

    assert saturation(100.0) > 0.9
    assert saturation(0.01) == 0.0


class SpectralRadius3(Memory):
    """The memory task with its SimpleRNN's recurrent weights scaled to
    spectral radius 3: gradients grow like 3^(T - t)."""

    def build_model(self):
        model = super().build_model()
        weights = model.get_layer("memory_simple_0").cell.recurrent_kernel
        radius = np.max(np.abs(np.linalg.eigvals(weights.numpy())))
        weights.assign(weights.numpy() * 3.0 / radius)
        return model


def exploding(init: str, clipnorm: float) -> SpectralRadius3:
    return SpectralRadius3(
        MemoryConfig(cell="simple", init=init, length=30, units=16),
        MemoryTraining(
            epochs=2,
            steps_per_epoch=10,
            clipnorm=clipnorm,
            validation_examples=64,
            diagnose_gradients=1,
        ),
    )


def test_exploding_gradients_stop_the_run_naming_the_layer(tmp_path):
    """A ReLU RNN at spectral radius 3 without clipping: the stop fires,
    names the recurrent layer, and leaves nothing non-finite saved."""
    with pytest.raises(TrainingDiverged, match="gradient norm of memory_simple_0") as raised:
        run(exploding("irnn", clipnorm=0.0), tmp_path / "run")
    assert "epoch 1, batch" in str(raised.value) and "the same command resumes" in str(raised.value)
    checkpoint = tmp_path / "run" / "checkpoint.npz"
    if checkpoint.exists():
        with np.load(checkpoint) as saved:
            assert all(np.isfinite(saved[name]).all() for name in saved.files if name != "progress")
    assert not (tmp_path / "run" / "best.weights.h5").exists()


def test_clipping_is_counted_when_it_fires(tmp_path):
    """The tanh RNN at spectral radius 3 with --clipnorm 1: every step clipped,
    the norms and the share in history.csv, the flow at each epoch."""
    run(exploding("orthogonal", clipnorm=1.0), tmp_path / "run")
    with (tmp_path / "run" / "history.csv").open() as file:
        history = list(csv.DictReader(file))
    assert all(float(row["clip_fraction"]) > 0 for row in history)
    assert all(float(row["grad_norm/memory_simple_0"]) > 1.0 for row in history)
    flow = json.loads((tmp_path / "run" / "gradients" / "flow.json").read_text())
    assert [record["epoch"] for record in flow["epochs"]] == [0, 1, 2]
    assert (tmp_path / "run" / "gradients" / "flow_heatmap.png").exists()


def test_diagnosing_changes_no_weight(tmp_path):
    """The diagnostics only read: the same run with and without them ends
    with the same weights, bit for bit."""
    weights = []
    for diagnose in (0, 1):
        task = Memory(
            MemoryConfig(length=8, units=8),
            MemoryTraining(
                epochs=2, steps_per_epoch=5, validation_examples=64, diagnose_gradients=diagnose
            ),
        )
        run(task, tmp_path / f"run{diagnose}")
        model = task.build_model()
        model.load_weights(tmp_path / f"run{diagnose}" / "best.weights.h5")
        weights.append([w.numpy() for w in model.weights])
    for without, with_diagnostics in zip(*weights, strict=True):
        np.testing.assert_array_equal(without, with_diagnostics)


def test_evaluate_measures_a_finished_runs_flow(tmp_path):
    import subprocess
    import sys

    train = [
        sys.executable,
        "train.py",
        "memory",
        "--length",
        "6",
        "--units",
        "4",
        "--epochs",
        "1",
        "--steps-per-epoch",
        "3",
        "--validation-examples",
        "32",
        "--run-dir",
        str(tmp_path / "run"),
    ]
    subprocess.run(train, cwd=ROOT, check=True, capture_output=True)
    result = subprocess.run(
        [
            sys.executable,
            "evaluate.py",
            "memory",
            "--model",
            str(tmp_path / "run"),
            "--gradients",
            str(tmp_path / "out"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "gradient_flow.png" in result.stdout
    flow = json.loads((tmp_path / "out" / "gradient_flow.json").read_text())
    (record,) = flow["epochs"]
    assert len(record["layers"]["memory_lstm_0"]["by_step"]) == 6
    assert set(record["layers"]["memory_lstm_0"]["saturation"]) == {
        "input_gate",
        "forget_gate",
        "candidate",
        "output_gate",
    }


def test_a_sparse_embedding_gradient_has_the_norm_of_its_dense_form():
    """Rows seen twice are summed first; the dense table is never built."""
    gradient = tf.IndexedSlices(
        tf.constant([[1.0, 2.0], [3.0, 4.0], [1.0, 1.0]]),
        tf.constant([0, 5, 0]),
        tf.constant([10, 2]),
    )
    dense = tf.convert_to_tensor(gradient)
    assert float(_norm(_dense_rows(gradient))) == pytest.approx(float(tf.norm(dense)), rel=1e-6)
    huge = tf.constant([3e30, 4e30])  # its square overflows float32
    assert float(_norm(huge)) == pytest.approx(5e30, rel=1e-6)


def test_the_opened_values_rebuild_each_cells_step():
    """The gates the saturation counts are the cell's own: they give its output."""
    x, h, c = tf.random.normal([4, 5]), tf.random.normal([4, 3]), tf.random.normal([4, 3])
    gru = keras.layers.GRUCell(3)
    output = gru(x, [h])[0]
    opened = {name: value for name, (value, _) in opened_values(gru, x, h).items()}
    z, candidate = opened["update_gate"], opened["candidate"]
    np.testing.assert_allclose(z * h + (1 - z) * candidate, output, atol=1e-6)
    lstm = keras.layers.LSTMCell(3)
    output = lstm(x, [h, c])[0]
    opened = {name: value for name, (value, _) in opened_values(lstm, x, h).items()}
    carry = opened["forget_gate"] * c + opened["input_gate"] * opened["candidate"]
    np.testing.assert_allclose(opened["output_gate"] * tf.tanh(carry), output, atol=1e-6)


class SteppedLinear(keras.layers.Layer):
    """A cell stepped in a loop of its own, as a decoder with attention does."""

    def __init__(self, weight: float):
        super().__init__()
        self.cell = keras.layers.SimpleRNNCell(
            1,
            activation="linear",
            use_bias=False,
            kernel_initializer="ones",
            recurrent_initializer=keras.initializers.Constant(weight),
        )

    def call(self, sequence):
        state = [tf.zeros_like(sequence[:, 0])]
        for step in range(sequence.shape[1]):
            output, state = self.cell(sequence[:, step], state)
        return output


def test_a_cell_stepped_in_its_own_loop_is_measured_too():
    sequence = keras.Input((12, 1))
    model = keras.Model(sequence, SteppedLinear(0.7)(sequence))
    model.compile(loss="mse")
    inputs = np.random.default_rng(3).normal(size=(3, 12, 1)).astype("float32")
    flow = gradient_flow(ManyToOne(), model, (inputs, np.zeros((3, 1), "float32")))
    (norms,) = (np.array(layer["by_distance"]) for layer in flow["layers"].values())
    np.testing.assert_allclose(norms, norms[0] * 0.7 ** np.arange(12), rtol=1e-5)


# `python -c KILL_AT_EPOCH_1_BATCH_50 ARGS...`: train.py, killed by SIGKILL
# after the 51st step of the second epoch.
KILL_AT_EPOCH_1_BATCH_50 = """
import os, runpy, signal, sys
sys.path.insert(0, os.getcwd())
import keras
from tasks.memory.task import Memory


class Kill(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == (1, 50):
            os.kill(os.getpid(), signal.SIGKILL)


callbacks = Memory.callbacks
Memory.callbacks = lambda self, *arguments: [*callbacks(self, *arguments), Kill()]
sys.argv = ["train.py", *sys.argv[1:]]
runpy.run_path("train.py", run_name="__main__")
"""


def test_a_diagnosed_run_killed_mid_epoch_resumes_to_the_same_numbers(tmp_path):
    """The epoch's gradient sums are in the checkpoint: the history's norms
    and clipping share, the flow and the weights are those of a run never
    interrupted."""
    import subprocess
    import sys

    arguments = ["memory", "--length", "12", "--units", "16", "--epochs", "3",
                 "--validation-examples", "64", "--diagnose-gradients", "1",
                 "--checkpoint-minutes", "0.001"]  # fmt: skip

    def train(run_dir, *prefix):
        command = [sys.executable, *prefix, *arguments, "--run-dir", str(run_dir)]
        return subprocess.run(command, cwd=ROOT, capture_output=True, check=False).returncode

    assert train(tmp_path / "whole", "train.py") == 0
    assert train(tmp_path / "cut", "-c", KILL_AT_EPOCH_1_BATCH_50) == -9
    assert train(tmp_path / "cut", "train.py") == 0

    def kept(run_dir):
        with (run_dir / "history.csv").open() as file:
            history = [
                {k: v for k, v in row.items() if not k.endswith("seconds")}
                for row in csv.DictReader(file)
            ]
        flow = json.loads((run_dir / "gradients" / "flow.json").read_text())["epochs"]
        return history, [{k: v for k, v in r.items() if k != "seconds"} for r in flow]

    assert kept(tmp_path / "cut") == kept(tmp_path / "whole")
    assert "clip_fraction" in kept(tmp_path / "whole")[0][0]
    cut, whole = weights(tmp_path / "cut"), weights(tmp_path / "whole")
    assert cut.keys() == whole.keys()
    for name in whole:
        np.testing.assert_array_equal(cut[name], whole[name])
