"""Training under tf.distribute: every task under MirroredStrategy over two
logical CPU devices (tests/conftest.py), and a cluster of two worker
processes on localhost that trains as one process would."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import ROOT, TINY_SENTIMENT
from test_forecasting import TINY as TINY_FORECASTING
from test_forecasting import sine_csv
from test_forecasting import tiny_task as tiny_forecasting
from test_language_model import words_corpus
from test_music import tiny_task as tiny_music
from test_pos import synthetic_treebank
from test_pos import tiny_task as tiny_pos
from test_runs import weights
from test_sentiment import synthetic_reviews
from test_sentiment import tiny_task as tiny_sentiment
from test_translation import tiny_task as tiny_translation
from test_translation import write_parallel_files

import gpu_check
from core import runner
from core.config import DataConfig
from core.distribution import localhost_cluster, make_strategy, precision
from core.evaluation import evaluate
from core.export import latest_version
from core.fitting import read_history, validate
from models.attention import attend
from models.heads import AttentionPooling, MaskedMaxPooling
from tasks import load_task
from tasks.language_model.config import LanguageModelConfig, LanguageModelTraining
from tasks.language_model.task import LanguageModel
from tasks.memory.config import MemoryConfig, MemoryTraining
from tasks.memory.task import Memory

FEW_STEPS = dict(epochs=1, steps_per_epoch=3)
TINY_RUNS = {
    "sentiment": lambda folder, mirror, tfds: tiny_sentiment(
        synthetic_reviews(folder / "reviews.csv", count=200), **FEW_STEPS
    ),
    "pos": lambda folder, mirror, tfds: tiny_pos(
        synthetic_treebank(folder / "treebank.conllu", count=120), **FEW_STEPS
    ),
    "translation": lambda folder, mirror, tfds: tiny_translation(
        write_parallel_files(folder), **FEW_STEPS
    ),
    "music": lambda folder, mirror, tfds: tiny_music(
        "nade", mirror=mirror, data_dir=tfds, limit=16, **FEW_STEPS
    ),
    "forecasting": lambda folder, mirror, tfds: tiny_forecasting(
        sine_csv(folder / "sine.csv", rows=600), train=FEW_STEPS
    ),
    "language_model": lambda folder, mirror, tfds: LanguageModel(
        LanguageModelConfig(embedding_dim=8, units=16, samples=8),
        LanguageModelTraining(**FEW_STEPS),
        DataConfig(dataset=str(words_corpus(folder / "corpus.txt"))),
    ),
    # With the gradient diagnostics, which watch every replica's gradients.
    "memory": lambda folder, mirror, tfds: Memory(
        MemoryConfig(problem="copy", length=5, units=8),
        MemoryTraining(validation_examples=32, diagnose_gradients=1, **FEW_STEPS),
    ),
}


@pytest.mark.parametrize("name", list(TINY_RUNS))
def test_every_task_trains_on_two_mirrored_replicas_in_mixed_precision(
    name, tmp_path, mirror, tfds_dir
):
    """A few steps on two replicas in bfloat16 (this CPU's mixed precision):
    the recurrent layers compute in it while the outputs stay float32, and so
    does every floating output of the export; the weights saved under the
    strategy, reloaded into a new model, give the validation scores measured
    during the run, and the export scores the test split."""
    strategy = make_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    run_dir = tmp_path / "run"
    task = TINY_RUNS[name](tmp_path, mirror, tfds_dir)
    task.training = dataclasses.replace(task.training, mixed_precision=True)
    metrics = runner.run(task, run_dir, distribute="mirrored")
    assert all(np.isfinite(value) for value in metrics["validation"].values()), metrics

    task = load_task(run_dir)
    with strategy.scope(), precision(True):
        model = task.build_model()
        model.load_weights(run_dir / "best.weights.h5")
        model.compile(**task.compile_arguments())
    assert "bfloat16" in {layer.compute_dtype for layer in model.layers}
    assert all(output.dtype == "float32" for output in model.outputs)
    validation = task.batches(task.splits().validation, training=False)
    assert validate(model, validation, strategy) == pytest.approx(metrics["validation"], rel=1e-6)

    export = tf.saved_model.load(str(latest_version(run_dir / "export")))
    for signature in export.signatures.values():
        for output in signature.structured_outputs.values():
            assert output.dtype not in (tf.float16, tf.bfloat16), signature.structured_outputs
    report = evaluate(load_task(run_dir), run_dir)
    headline = report["metrics"][next(iter(report["metrics"]))]
    assert np.isfinite(headline), report["metrics"]


WORKER = """
import shutil, sys
from pathlib import Path
import core.runner, train
kept, clean_up = Path(sys.argv[1]), core.runner.clean_up
def keep_then_clean_up(run_dir, place):  # the worker's final weights, kept for the test
    shutil.copy(place / "best.weights.h5", kept)
    clean_up(run_dir, place)
core.runner.clean_up = keep_then_clean_up
train.main(sys.argv[2:])
"""


def command_line(name: str, folder) -> list[str]:
    """A tiny run without dropout, so that one process and two workers
    compute the same sums."""
    if name == "sentiment":
        sizes = {**TINY_SENTIMENT, "dropout": 0, "head_dropout": 0}
        dataset = synthetic_reviews(folder / "reviews.csv", count=320)
    else:
        sizes = TINY_FORECASTING
        dataset = sine_csv(folder / "sine.csv", rows=800)
    options = [f"--{key.replace('_', '-')}={value}" for key, value in sizes.items()]
    # Saving the training state as often as the workers can agree on it.
    saving = "--checkpoint-minutes=0"
    return [name, f"--dataset={dataset}", *options, "--epochs=2", "--batch-size=16", saving]


def start(arguments: list[str], environment: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *arguments],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT)} | environment,
    )


@pytest.mark.parametrize("name", ["sentiment", "forecasting"])
def test_two_workers_train_in_step_as_one_process_would(name, tmp_path):
    """Two worker processes on localhost: both end with the same weights;
    only the chief writes the run directory, and the other's scratch copy
    is gone; each epoch's training loss is the one-process loss with the
    same global batch to 1e-3: a batch of odd size splits unevenly, and
    each worker's mean then weighs its half as much as the other's."""
    base = command_line(name, tmp_path)
    single = start(["train.py", *base, f"--run-dir={tmp_path / 'single'}"], {})
    assert single.wait(timeout=600) == 0, single.stdout.read()[-3000:]

    workers = []
    for index, config in enumerate(localhost_cluster(2)):
        scratch = tmp_path / f"tmp-{index}"
        scratch.mkdir()
        environment = {"TF_CONFIG": json.dumps(config), "TMPDIR": str(scratch)}
        arguments = [
            "-c",
            WORKER,
            str(tmp_path / f"weights-{index}.weights.h5"),
            *base,
            f"--run-dir={tmp_path / 'cluster'}",
            "--distribute=multi-worker",
        ]
        workers.append(start(arguments, environment))
    for worker in workers:
        assert worker.wait(timeout=600) == 0, worker.stdout.read()[-3000:]

    run = tmp_path / "cluster"
    assert {"metrics.json", "best.weights.h5", "history.csv", "export"} <= {
        path.name for path in run.iterdir()
    }
    assert not (run / "checkpoint.npz").exists()
    assert list((tmp_path / "tmp-1").iterdir()) == []  # the scratch copy is gone
    chief, other = (weights(tmp_path / f"weights-{index}.weights.h5") for index in range(2))
    assert sorted(chief) == sorted(other)
    for key, value in chief.items():
        np.testing.assert_array_equal(value, other[key], err_msg=key)
    for key, value in weights(run).items():
        np.testing.assert_array_equal(value, chief[key], err_msg=key)

    alone = [row["loss"] for row in read_history(tmp_path / "single" / "history.csv")]
    together = [row["loss"] for row in read_history(run / "history.csv")]
    np.testing.assert_allclose(together, alone, rtol=1e-3)


def test_masked_attention_and_pooling_stay_finite_in_float16():
    """Masked positions get a score that float16 holds (-1e9 is -inf there,
    and -inf times a zero mask is NaN), and the results are float32's."""
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(2, 5, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    for layer in (AttentionPooling, MaskedMaxPooling):
        single = layer(dtype="float32")
        expected = single(inputs, mask=mask)
        half = layer(dtype="float16")
        half(inputs.astype("float16"), mask=mask)  # builds it
        half.set_weights(single.get_weights())
        result = half(inputs.astype("float16"), mask=mask)
        assert np.all(np.isfinite(result)), layer.__name__
        np.testing.assert_allclose(result, expected, atol=0.02, err_msg=layer.__name__)
    scores = rng.normal(size=(2, 1, 5)).astype("float16")
    context, weights = attend(scores, inputs.astype("float16"), mask)
    assert np.all(np.isfinite(context)) and np.all(np.asarray(weights)[0, 0, 3:] == 0)


def test_gpu_check_reports_cudnn_eligibility_on_a_cpu_machine(tmp_path, tfds_dir):
    """Keras's cuDNN rule for every task's default model; no GPU here, so no
    timings, and it says so."""
    report_path = tmp_path / "gpu.json"
    result = subprocess.run(
        [sys.executable, "gpu_check.py", "--limit=200", f"--json={report_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        # The datasets prepared once for the whole test session.
        env=os.environ | {"PYTHONPATH": str(ROOT), "TFDS_DATA_DIR": str(tfds_dir)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = {entry["task"]: entry for entry in json.loads(report_path.read_text())}
    assert set(report) == set(TINY_RUNS)
    assert result.stdout.count("timings: no GPU") == len(TINY_RUNS)
    assert all(row["cudnn"] for row in report["sentiment"]["layers"])
    (music,) = report["music"]["layers"]  # its default recurrent dropout rules cuDNN out
    assert not music["cudnn"] and music["remedy"] == ["--recurrent-dropout 0"]
    stepped = [row for row in report["translation"]["layers"] if row["kind"] == "GRUCell"]
    assert stepped and not stepped[0]["cudnn"]


def test_gpu_check_times_training_steps_in_both_precisions(tmp_path):
    """The timing path, run on the CPU: steps/s and timesteps/s for float32
    and mixed precision."""
    task = tiny_forecasting(sine_csv(tmp_path / "sine.csv", rows=600))
    splits = task.splits()
    task.adapt(splits.train)
    timing = gpu_check.timings(task, splits, steps=2, device="CPU:0")
    for mode in ("float32", "mixed"):
        assert timing[mode]["steps_per_second"] > 0 and timing[mode]["timesteps_per_second"] > 0
