"""The long-range memory task: its generated problems, its cures, and that
it learns."""

import json
import shutil

import numpy as np
import pytest
from helpers import assert_same_outputs, outputs_in_fresh_process, run_script

from core.config import DataConfig
from core.evaluation import evaluate
from core.export import latest_version, load_export
from core.runner import run
from data.errors import DataFormatError
from data.memory import COPIED, DELIMITER, generated
from models.recurrent import initialized
from tasks.memory.config import MemoryConfig, MemoryTraining
from tasks.memory.task import Memory


def test_a_seed_gives_the_same_examples_and_another_seed_others():
    first, again = generated("adding", [3, 4], 5, 50), generated("adding", [3, 4], 5, 50)
    other = generated("adding", [3, 5], 5, 50)
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], other[0])


def test_the_adding_answer_is_the_sum_of_the_two_marked_numbers():
    inputs, answers = generated("adding", [0, 0], 200, 40)
    values, markers = inputs[..., 0], inputs[..., 1]
    assert (markers.sum(1) == 2).all()
    assert (markers[:, :20].sum(1) == 1).all()  # one mark in each half
    np.testing.assert_allclose(answers, (values * markers).sum(1), rtol=1e-6)
    assert 0.0 <= values.min() and values.max() < 1.0


def test_the_copy_answer_repeats_the_symbols_after_the_delay():
    inputs, targets = generated("copy", [0, 0], 50, 30)
    assert inputs.shape == targets.shape == (50, 30 + 20)
    symbols = inputs[:, :COPIED]
    assert 1 <= symbols.min() and symbols.max() <= 8
    assert (inputs[:, COPIED : COPIED + 29] == 0).all() and (
        inputs[:, COPIED + 29] == DELIMITER
    ).all()
    assert (targets[:, :-COPIED] == 0).all()
    np.testing.assert_array_equal(targets[:, -COPIED:], symbols)


def test_the_cures_set_the_weights_they_name():
    chrono = Memory(MemoryConfig(cell="lstm", init="chrono", length=50, units=16)).build_model()
    bias = chrono.get_layer("memory_lstm_0").cell.bias.numpy()
    input_gate, forget_gate = bias[:16], bias[16:32]
    assert (
        (0.0 <= forget_gate).all() and (forget_gate <= np.log(49)).all() and forget_gate.std() > 0
    )
    np.testing.assert_allclose(input_gate, -forget_gate)
    irnn = Memory(MemoryConfig(cell="simple", init="irnn", units=8)).build_model()
    cell = irnn.get_layer("memory_simple_0").cell
    np.testing.assert_array_equal(cell.recurrent_kernel.numpy(), np.eye(8))
    assert cell.activation.__name__ == "relu"
    gru = Memory(MemoryConfig(cell="gru", init="chrono", length=50, units=4)).build_model()
    update_gate = gru.get_layer("memory_gru_0").cell.bias.numpy()[0, :4]
    assert (update_gate >= 0).all()


@pytest.mark.parametrize(
    "settings",
    [
        {"cell": "lstm", "init": "irnn"},
        {"cell": "simple", "init": "chrono"},
        {"problem": "adding", "length": 1},
    ],
)
def test_impossible_settings_are_refused(settings):
    with pytest.raises(ValueError):
        MemoryConfig(**settings)


def test_the_builder_refuses_a_cure_for_another_cell():
    with pytest.raises(ValueError, match="irnn"):
        initialized("gru", "irnn", 100)


def test_an_lstm_learns_the_adding_problem_at_length_20(tmp_path):
    """Solved (test MSE below 0.01, the mean scoring 0.167) within 3000 steps;
    the export answers raw sequences in a fresh process."""
    task = Memory(MemoryConfig(problem="adding", length=20), MemoryTraining())
    metrics = run(task, tmp_path / "run")
    assert metrics["epochs"] <= 30
    report = evaluate(task, tmp_path / "run")
    assert report["metrics"]["mse"] < 0.01 and report["metrics"]["solved"] == 1.0
    assert report["baselines"]["mean_sum"]["mse"] == pytest.approx(1 / 6, abs=0.02)
    export_dir = latest_version(tmp_path / "run" / "export")
    sequences = task.splits().test.inputs[:3]
    export = load_export(export_dir)
    expected = export.answer(sequences)
    fresh = outputs_in_fresh_process(export_dir, sequences.tolist(), "answer")
    assert_same_outputs({name: value.numpy() for name, value in expected.items()}, fresh)
    (row,) = task.predict(export, ["0.5* " + "0.1 " * 17 + "0.25*"], None)
    assert row["sum"] == pytest.approx(0.75, abs=0.3)


def test_the_copy_problem_trains_and_answers_ten_symbols(tmp_path):
    task = Memory(
        MemoryConfig(problem="copy", length=5, units=8),
        MemoryTraining(epochs=1, steps_per_epoch=3, validation_examples=32),
    )
    run(task, tmp_path / "run")
    report = evaluate(task, tmp_path / "run")
    assert 0.0 <= report["metrics"]["recall_error"] <= 1.0
    assert report["baselines"]["no_memory"]["recall_error"] == pytest.approx(7 / 8, abs=0.03)
    export = load_export(latest_version(tmp_path / "run" / "export"))
    (row,) = task.predict(export, ["1 2 3 4 5 6 7 8 1 2"], None)
    assert len(row["recalled"]) == COPIED
    with pytest.raises(DataFormatError, match="the 10 symbols"):
        task.predict(export, ["1 2 9"], None)


def test_a_dataset_is_refused_for_it_would_be_ignored():
    """The examples are generated: `--dataset`, for training or scoring, is an error."""
    task = Memory(MemoryConfig(), MemoryTraining(), DataConfig(dataset="numbers.csv"))
    with pytest.raises(DataFormatError, match="numbers.csv: the memory task generates"):
        task.splits()
    with pytest.raises(DataFormatError, match="reads none"):
        Memory().test_split_of("numbers.csv")


def test_the_benchmark_reuses_a_recorded_rung_and_not_one_from_other_code(tmp_path):
    """The memory ladder outlives its run directories: a rung judged once is
    read back from `memory/rungs.json`, unless its code changed since."""
    plan = ["benchmarks/memory.py", "--problem", "adding", "--ladder", "5", "--seeds", "0"]
    plan += ["--epochs", "1", "--contenders", "lstm", "--runs", str(tmp_path / "runs")]
    plan += ["--output", str(tmp_path / "memory.json")]
    first = run_script(*plan)
    assert first.returncode == 0, first.stderr[-2000:]
    rungs = tmp_path / "memory" / "rungs.json"
    (line, rung), *others = json.loads(rungs.read_text()).items()
    assert not others and line == rung["command"] and "--length 5" in line

    shutil.rmtree(tmp_path / "runs")
    again = run_script(*plan)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "reusing 1 recorded rungs" in again.stdout
    assert not (tmp_path / "runs").exists()  # nothing trained
    assert json.loads((tmp_path / "memory.json").read_text())["results"]["adding"]["lstm"][
        "rungs"
    ] == [{key: value for key, value in rung.items() if key != "flow"}]

    rung["code"] = "0" * 64  # as if the code had changed since
    rungs.write_text(json.dumps({line: rung}))
    retrained = run_script(*plan)
    assert retrained.returncode == 0, retrained.stderr[-2000:]
    assert "reusing" not in retrained.stdout and (tmp_path / "runs").exists()
