"""Sentiment end to end: learning, resuming, exporting, serving awkward input."""

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import ROOT, TINY_SENTIMENT
from helpers import assert_same_outputs, outputs_in_fresh_process

from core import runner
from core.config import DataConfig, TrainingConfig
from core.evaluation import evaluate
from core.export import latest_version
from tasks import load_task, restore_model
from tasks.sentiment.task import Sentiment, SentimentConfig

POSITIVE, NEGATIVE = ["superb", "delightful", "moving"], ["awful", "boring", "clumsy"]


def synthetic_reviews(path, count=600, seed=0):
    """Filler words plus one sentiment word, anywhere: only the word decides."""
    rng = np.random.default_rng(seed)
    filler = [f"word{index}" for index in range(60)]
    lines = ["text,label"]
    for _ in range(count):
        label = int(rng.integers(2))
        words = list(rng.choice(filler, size=int(rng.integers(5, 40))))
        words.insert(int(rng.integers(len(words) + 1)), rng.choice([NEGATIVE, POSITIVE][label]))
        lines.append(f"{' '.join(words)},{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


def tiny_task(dataset="", mirror="", data_dir="", **train):
    settings = dict(epochs=5, batch_size=16, patience=5, learning_rate=1e-2) | train
    return Sentiment(
        SentimentConfig(**TINY_SENTIMENT),
        TrainingConfig(**settings),
        DataConfig(dataset=str(dataset), data_mirror=mirror, data_dir=str(data_dir)),
    )


def test_learns_synthetic_sentiment_well_beyond_chance(tmp_path):
    """A sentiment word hidden among filler decides the label: accuracy >= 0.9
    on held-out test examples (chance is 0.5), scored through the export."""
    task = tiny_task(synthetic_reviews(tmp_path / "reviews.csv"))
    runner.run(task, tmp_path / "run")
    report = evaluate(load_task(tmp_path / "run"), tmp_path / "run")
    assert report["metrics"]["accuracy"] >= 0.9, report["metrics"]
    assert report["baselines"]["tfidf_ngram_logreg"]["accuracy"] >= 0.9


def test_help_lists_the_task_options():
    result = subprocess.run(
        [sys.executable, "train.py", "sentiment", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    for flag in (
        "--vocabulary-size",
        "--cell",
        "--pooling",
        "--clipnorm",
        "--data-mirror",
        "--dataset",
        "--run-dir",
    ):
        assert flag in result.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--dropout", "1.5"], "dropout must be in [0, 1), got 1.5"),
        (["--dataset", "{bad}"], "bad.csv, line 3: expected 2 fields"),
    ],
)
def test_bad_input_on_the_command_line_is_one_clear_line(tmp_path, arguments, message):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\ngood,1\nbad,0,extra\n")
    arguments = [argument.format(bad=bad) for argument in arguments]
    result = subprocess.run(
        [sys.executable, "train.py", "sentiment", "--run-dir", str(tmp_path / "run"), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()  # nothing half-made left behind


@pytest.fixture(scope="module")
def imdb_run(tmp_path_factory, mirror, tfds_dir):
    """A few training steps on a small subset of the real IMDB, exported."""
    run_dir = tmp_path_factory.mktemp("imdb") / "run"
    task = tiny_task(mirror=mirror, data_dir=tfds_dir, limit=256, epochs=1, steps_per_epoch=4)
    runner.run(task, run_dir)
    return run_dir


def test_real_imdb_run_has_every_artifact(imdb_run):
    for name in (
        "config.json",
        "state.json",
        "history.csv",
        "metrics.json",
        "training_curve.png",
        "best.weights.h5",
        "logs",
    ):
        assert (imdb_run / name).exists(), name
    assert latest_version(imdb_run / "export").name == "1"


def test_export_reloaded_in_fresh_process_predicts_like_the_model(imdb_run):
    task, model = restore_model(imdb_run)
    reviews = task.splits().test.inputs[:16].tolist()
    in_process = task.serving(model).endpoints["serve"].function(tf.constant(reviews))
    reloaded = outputs_in_fresh_process(latest_version(imdb_run / "export"), reviews)
    assert_same_outputs({k: v.numpy() for k, v in in_process.items()}, reloaded)


def test_export_handles_awkward_input(imdb_run):
    """Empty, 20,000-word and non-ASCII texts; batches of one and of 1,000."""
    loaded = tf.saved_model.load(str(latest_version(imdb_run / "export")))
    serve = loaded.serve
    awkward = ["", " ".join(["long"] * 20_000), "Ужасный фильм 😡 — 最悪", "fine"]
    outputs = serve(tf.constant(awkward))
    probability = outputs["probability"].numpy()
    assert probability.shape == (4,) and np.all((probability >= 0) & (probability <= 1))
    assert set(outputs["label"].numpy().tolist()) <= {b"negative", b"positive"}

    one = serve(tf.constant(["fine"]))["probability"].numpy()
    thousand = serve(tf.constant(awkward * 250))["probability"].numpy()
    assert thousand.shape == (1000,)
    np.testing.assert_allclose(thousand[3::4], np.repeat(one, 250), atol=1e-5)
    np.testing.assert_allclose(thousand[:4], probability, atol=1e-5)
