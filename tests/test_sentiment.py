"""Sentiment end to end: learning, resuming, exporting, serving awkward input;
your own table, with named columns and any number of classes."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import ROOT, TINY_SENTIMENT
from helpers import assert_same_outputs, outputs_in_fresh_process, run_script

from core import runner
from core.config import DataConfig, TrainingConfig
from core.evaluation import evaluate
from core.export import latest_version
from data.errors import DataFormatError
from data.pipeline import Examples
from tasks import load_task, restore_model
from tasks.sentiment.task import Sentiment, SentimentConfig

POSITIVE, NEGATIVE = ["superb", "delightful", "moving"], ["awful", "boring", "clumsy"]
TOPICS = {
    "world": ["election", "embassy", "treaty"],
    "sport": ["goal", "match", "striker"],
    "business": ["shares", "profit", "merger"],
}


def synthetic_table(path, cues, count=600, seed=0, columns=("text", "label")):
    """Filler words plus one cue word of the example's class, anywhere: only
    the cue decides. `cues` maps each label to its cue words."""
    rng = np.random.default_rng(seed)
    filler = [f"word{index}" for index in range(60)]
    delimiter = "\t" if path.suffix == ".tsv" else ","
    labels = list(cues)
    lines = [delimiter.join(columns)]
    for _ in range(count):
        label = labels[int(rng.integers(len(labels)))]
        words = list(rng.choice(filler, size=int(rng.integers(5, 40))))
        words.insert(int(rng.integers(len(words) + 1)), rng.choice(cues[label]))
        lines.append(f"{' '.join(words)}{delimiter}{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


def synthetic_reviews(path, count=600, seed=0):
    return synthetic_table(path, {0: NEGATIVE, 1: POSITIVE}, count, seed)


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
        "--text-column",
        "--label-column",
        "--run-dir",
    ):
        assert flag in result.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--dropout", "1.5"], "dropout must be in [0, 1), got 1.5"),
        (["--dataset", "{bad}"], "bad.csv, line 3: expected 2 fields"),
        (
            ["--dataset", "{bad}", "--text-column", "sentence"],
            "bad.csv, line 1: no column 'sentence' (--text-column); "
            "the header names ['text', 'label']",
        ),
        (["--label-column", "Text"], "text_column and label_column are both 'text'"),
    ],
)
def test_bad_input_on_the_command_line_is_one_clear_line(tmp_path, arguments, message):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\ngood,1\nbad,0,extra\n")
    arguments = [argument.format(bad=bad) for argument in arguments]
    result = run_script("train.py", "sentiment", "--run-dir", str(tmp_path / "run"), *arguments)
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
    # Beside today's outputs, the ones of any number of classes.
    np.testing.assert_array_equal(outputs["probabilities"].numpy()[:, 1], probability)
    np.testing.assert_allclose(outputs["probabilities"].numpy().sum(axis=1), 1.0, atol=1e-6)
    assert outputs["classes"].numpy().tolist() == [[b"negative", b"positive"]] * 4

    one = serve(tf.constant(["fine"]))["probability"].numpy()
    # The long text once is enough: a thousand of the others.
    short = [awkward[0], *awkward[2:]]
    thousand = serve(tf.constant(short * 333 + ["fine"]))["probability"].numpy()
    assert thousand.shape == (1000,)
    np.testing.assert_allclose(thousand[2::3], np.repeat(one, 333), atol=1e-5)
    np.testing.assert_allclose(thousand[:3], probability[[0, 2, 3]], atol=1e-5)


def train_on_the_command_line(dataset, run_dir, *options):
    """`train.py sentiment --dataset ...` with the tiny model, as a user runs it."""
    tiny = [f"--{name.replace('_', '-')}={value}" for name, value in TINY_SENTIMENT.items()]
    settings = ["--epochs=6", "--batch-size=16", "--patience=6", "--learning-rate=0.01"]
    command = ["train.py", "sentiment", "--dataset", str(dataset), "--run-dir", str(run_dir)]
    subprocess.run(
        [sys.executable, *command, *tiny, *settings, *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return run_dir


@pytest.fixture(scope="module")
def topics_run(tmp_path_factory):
    """Three topics in a `sentence<TAB>label` table, trained from the command line."""
    folder = tmp_path_factory.mktemp("topics")
    table = synthetic_table(folder / "topics.tsv", TOPICS, count=900, columns=("sentence", "label"))
    return train_on_the_command_line(table, folder / "run", "--text-column", "sentence")


def test_learns_three_classes_named_by_a_tables_labels(topics_run):
    """Accuracy >= 0.9 on held-out test examples (chance is 1/3), for the
    model through its export and for the TF-IDF baseline; three classes,
    alphabetical, a softmax head and a 3 x 3 confusion matrix."""
    report = evaluate(load_task(topics_run), topics_run)
    metrics, baseline = report["metrics"], report["baselines"]["tfidf_ngram_logreg"]
    assert metrics["classes"] == ["business", "sport", "world"]
    assert metrics["accuracy"] >= 0.9 and metrics["macro_f1"] >= 0.9, metrics
    assert baseline["accuracy"] >= 0.9 and baseline["macro_f1"] >= 0.9, baseline
    matrix = np.array(metrics["confusion_matrix"])
    assert matrix.shape == (3, 3) and matrix.sum() == report["test_examples"]
    _, model = restore_model(topics_run)
    assert model.get_layer("probabilities").activation.__name__ == "softmax"


def test_three_class_export_serves_label_names_and_probabilities(topics_run):
    """Reloaded in a fresh process: every class's probability (summing to 1),
    the classes in the same order, and the most probable one's name."""
    texts = ["the striker scored a goal", "profit and shares", "", "word1 treaty word2"]
    outputs = outputs_in_fresh_process(latest_version(topics_run / "export"), texts)
    assert sorted(outputs) == ["classes", "label", "probabilities"]
    assert outputs["classes"] == [["business", "sport", "world"]] * 4
    probabilities = np.array(outputs["probabilities"])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    chosen = [["business", "sport", "world"][index] for index in probabilities.argmax(axis=1)]
    assert outputs["label"] == chosen
    assert [outputs["label"][index] for index in (0, 1, 3)] == ["sport", "business", "world"]


def test_predict_on_the_command_line_shows_label_and_probabilities(topics_run):
    result = subprocess.run(
        [sys.executable, "evaluate.py", "sentiment", "--model", str(topics_run)]
        + ["--predict", "a merger lifts profit"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    (row,) = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert row["input"] == "a merger lifts profit" and row["label"] == "business"
    assert sorted(row["probabilities"]) == ["business", "sport", "world"]
    assert row["probabilities"]["business"] == max(row["probabilities"].values())


def tiny_task_on_labels(tmp_path, labels, **config):
    """A task reading a table of these labels, one short text each, repeated."""
    path = tmp_path / "labels.csv"
    rows = [f"text number {index},{label}" for index, label in enumerate(labels * 10)]
    path.write_text("\n".join(["text,label", *rows]) + "\n")
    return Sentiment(
        SentimentConfig(**TINY_SENTIMENT, **config), data=DataConfig(dataset=str(path))
    )


RATINGS = [str(rating) for rating in range(10, 0, -1)]


@pytest.mark.parametrize(
    ("names", "classes", "head"),
    [
        ({"neg": "negative", "pos": "positive"}, ("negative", "positive"), (1, "sigmoid")),
        (dict(zip(RATINGS, RATINGS, strict=True)), tuple(map(str, range(1, 11))), (10, "softmax")),
    ],
)
def test_classes_in_order_and_their_head(tmp_path, names, classes, head):
    """IMDB's two classes keep one sigmoid unit; ratings 1-10 are ten classes
    in numeric order (10 after 9), ids following that order, under a softmax.
    `names` maps each label as written to its class. The run's state keeps them."""
    labels = list(names)
    task = tiny_task_on_labels(tmp_path, labels)
    splits = task.splits()
    assert task.classes == classes
    for examples in splits:
        written = [labels[int(text.split()[-1]) % len(labels)] for text in examples.inputs]
        assert [classes[target] for target in examples.targets] == [names[w] for w in written]
    task.adapt(splits.train)
    assert task.state()["classes"] == list(classes)
    output = task.build_model().layers[-1]
    assert (output.units, output.activation.__name__) == head


def test_a_test_label_never_seen_in_training_names_label_and_file(tmp_path):
    folder = tmp_path / "reviews"
    folder.mkdir()
    (folder / "train.csv").write_text("text,label\ngood,a\nbad,b\nfine,a\nugly,b\n" * 5)
    (folder / "test.csv").write_text("text,label\ngood,a\nodd,c\n")
    task = Sentiment(SentimentConfig(**TINY_SENTIMENT), data=DataConfig(dataset=str(folder)))
    with pytest.raises(
        DataFormatError, match=r"test\.csv \(test\): label 'c' never seen in training"
    ):
        task.splits()


class ExportBeforeClasses:
    """A two-class export as served before any number of classes: the
    positive class's probability and the label alone."""

    @staticmethod
    def serve(texts):
        probability = tf.fill(tf.shape(texts), 0.75)
        return {"probability": probability, "label": tf.fill(tf.shape(texts), "positive")}


def test_a_run_from_before_any_number_of_classes_is_still_served_and_scored():
    """Its state names no classes (IMDB's two, then) and its export serves
    `probability` and `label` alone."""
    task = Sentiment(SentimentConfig(**TINY_SENTIMENT))
    task.restore({"words": ["", "[UNK]", "fine"]})
    (row,) = task.predict(ExportBeforeClasses, ["fine"], None)
    assert row == {
        "input": "fine",
        "label": "positive",
        "probability": 0.75,
        "probabilities": {"negative": 0.25, "positive": 0.75},
    }
    examples = Examples(np.array(["fine", "dull"], dtype=object), np.array([1, 0]))
    scores = task.score(task.test_outputs(ExportBeforeClasses, examples), examples)
    assert scores["accuracy"] == 0.5 and scores["confusion_matrix"] == [[0, 1], [0, 1]]


def test_a_run_is_scored_on_another_table_with_its_own_classes(topics_run, tmp_path):
    """`evaluate.py --dataset`: a new table of the same topics is scored
    whole with the run's classes, beside the run's own evaluation; a topic
    the run never learned is refused by name."""
    other = synthetic_table(
        tmp_path / "news.tsv", TOPICS, count=90, seed=7, columns=("sentence", "label")
    )
    report = evaluate(load_task(topics_run), topics_run, str(other))
    assert report["test_examples"] == 90 and report["metrics"]["accuracy"] >= 0.9
    assert report["metrics"]["classes"] == ["business", "sport", "world"]
    assert (topics_run / "elsewhere" / "news.tsv" / "evaluation.json").exists()

    science = synthetic_table(
        tmp_path / "science.tsv", TOPICS | {"science": ["atom"]}, columns=("sentence", "label")
    )
    with pytest.raises(DataFormatError, match=r"science\.tsv \(test\): label 'science' never"):
        evaluate(load_task(topics_run), topics_run, str(science))
