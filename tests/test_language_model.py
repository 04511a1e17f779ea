"""The language model's parts: it learns a language, the sampled softmax
trains what the full one scores."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from models.language import WordSoftmax, bidirectional_language_model, per_real_step


def synthetic_language(count: int, vocabulary: int, seed: int = 0) -> np.ndarray:
    """Documents that step through the words 7 at a time, one word in ten
    replaced by noise; right-padded ids (0 = padding, words from 3)."""
    rng = np.random.default_rng(seed)
    documents = []
    for _ in range(count):
        start = rng.integers(3, vocabulary)
        words = [(start + 7 * k) % (vocabulary - 3) + 3 for k in range(rng.integers(10, 40))]
        documents.append([w if rng.random() > 0.1 else rng.integers(3, vocabulary) for w in words])
    ids = np.zeros((count, max(map(len, documents))), "int64")
    for row, document in enumerate(documents):
        ids[row, : len(document)] = document
    return ids


def real_targets(ids: np.ndarray) -> dict:
    """The steps whose next (forward) or previous (backward) word is real."""
    real = ids != 0
    following = np.pad(real[:, 1:], [[0, 0], [0, 1]])
    preceding = np.pad(real[:, :-1], [[0, 0], [1, 0]])
    return {
        "forward": (real & following).astype("float32"),
        "backward": (real & preceding).astype("float32"),
    }


@pytest.mark.parametrize(
    ("shape", "epochs"),
    [({}, 5), ({"depth": 2, "tie_embeddings": True}, 8)],
    ids=["one_layer", "two_layers_tied"],
)
def test_the_model_learns_a_synthetic_language_no_unigram_model_can(shape, epochs):
    """Perplexity below 4 in both directions, where the best unigram model
    (the training words' frequencies) has 47; a deeper model takes longer."""
    keras.utils.set_random_seed(0)
    vocabulary = 50
    ids = synthetic_language(2000, vocabulary)
    train, validation = ids[:1800], ids[1800:]
    model = bidirectional_language_model(
        vocabulary, embedding_dim=16, units=32, samples=16, **shape
    )
    model.compile(
        keras.optimizers.Adam(1e-2), loss={"forward": per_real_step, "backward": per_real_step}
    )
    model.fit(train, real_targets(train), epochs=epochs, batch_size=32, verbose=0)
    scores = model.evaluate(validation, real_targets(validation), verbose=0, return_dict=True)
    counts = np.bincount(train[train > 0], minlength=vocabulary)[3:]
    frequencies = counts / counts.sum()
    unigram = np.exp(-(frequencies * np.log(frequencies)).sum())
    assert unigram > 40
    assert np.exp(scores["forward_loss"]) < 4 and np.exp(scores["backward_loss"]) < 4


# 3 rows: the 8 steps are scored in three pieces, the last one padded.
@pytest.mark.parametrize("scored_rows", [3, 2048])
def test_the_softmax_scores_in_full_outside_training_and_skips_padding(scored_rows, monkeypatch):
    monkeypatch.setattr("models.language.SCORED_ROWS", scored_rows)
    softmax = WordSoftmax(30, samples=5)
    hidden = np.random.default_rng(1).normal(size=(2, 4, 8)).astype("float32")
    targets = np.array([[3, 4, 5, 0], [6, 0, 0, 0]])
    full = softmax(hidden, targets).numpy()
    logits = softmax.logits(hidden).numpy()
    expected = -(logits - np.log(np.exp(logits).sum(-1, keepdims=True)))
    expected = np.take_along_axis(expected, targets[..., None], -1)[..., 0] * (targets != 0)
    np.testing.assert_allclose(full, expected, rtol=1e-5, atol=1e-6)
    sampled = softmax(hidden, targets, training=True).numpy()
    assert (sampled[targets == 0] == 0).all() and (sampled[targets != 0] > 0).all()
    assert sampled.shape == full.shape == (2, 4)


@pytest.mark.parametrize("samples", [30, 100])
def test_as_many_samples_as_words_is_the_full_softmax(samples):
    softmax = WordSoftmax(30, samples=samples)
    hidden = np.ones((1, 2, 4), "float32")
    targets = np.array([[3, 7]])
    np.testing.assert_allclose(
        softmax(hidden, targets, training=True), softmax(hidden, targets), rtol=1e-6
    )


def words_corpus(path, count: int = 400):
    """Reviews-like documents that step through 15 words 3 at a time."""
    import random

    rng = random.Random(0)
    words = "the film was good bad great awful plot actor story scene music long short sad".split()
    documents = []
    for _ in range(count):
        start = rng.randrange(len(words))
        length = rng.randint(5, 30)
        documents.append(" ".join(words[(start + 3 * k) % len(words)] for k in range(length)))
    path.write_text(".\n\n".join(documents) + ".\n")
    return path


@pytest.fixture(scope="module")
def language_model_run(tmp_path_factory):
    """A language model trained on `words_corpus`: (its task, its run directory)."""
    from core.config import DataConfig
    from core.runner import run
    from tasks.language_model.config import LanguageModelConfig, LanguageModelTraining
    from tasks.language_model.task import LanguageModel

    folder = tmp_path_factory.mktemp("language_model")
    task = LanguageModel(
        LanguageModelConfig(embedding_dim=8, units=16, samples=8),
        LanguageModelTraining(epochs=6, learning_rate=1e-2),
        DataConfig(dataset=str(words_corpus(folder / "corpus.txt"))),
    )
    run(task, folder / "run")
    return task, folder / "run"


def test_the_task_scores_and_generates_through_its_export(language_model_run):
    """Perplexity below 4 (17 words: uniform has 17), as the trigram
    baseline on the same words; the same seed gives the same text in a
    fresh process; temperature 0 is top-k 1; an empty prompt is continued
    too; `--predict` continues a prompt."""
    from helpers import outputs_in_fresh_process

    from core.evaluation import evaluate
    from core.export import latest_version, load_export
    from tasks.language_model.config import GenerateOptions

    task, run_dir = language_model_run
    report = evaluate(task, run_dir)
    assert report["metrics"]["perplexity"] < 4 and report["metrics"]["bits_per_character"] > 0
    trigram = report["baselines"]["kneser_ney_trigram"]
    assert 1 < trigram["perplexity"] < 4 and trigram["words"] == report["metrics"]["words"]
    export_dir = latest_version(run_dir / "export")
    export = load_export(export_dir)

    def generated(temperature, top_k, seed, prompts=("the film was", "")):
        return (
            export.generate(
                prompts=tf.constant(list(prompts)),
                length=tf.constant(5),
                temperature=tf.constant(temperature),
                top_k=tf.constant(top_k),
                seed=tf.constant(seed),
            )["text"]
            .numpy()
            .tolist()
        )

    sampled = generated(1.0, 0, 7)
    fresh = outputs_in_fresh_process(
        export_dir,
        {
            "prompts": (["the film was", ""], "string"),
            "length": (5, "int32"),
            "temperature": (1.0, "float32"),
            "top_k": (0, "int32"),
            "seed": (7, "int32"),
        },
        "generate",
    )
    assert fresh["text"] == [text.decode() for text in sampled]
    assert generated(0.0, 0, 1) == generated(1.0, 1, 2)
    assert all(len(text.split()) == 5 for text in sampled)
    likeliest = task.predict(export, ["the film was"], GenerateOptions(length=5, temperature=0))
    greedy = generated(0.0, 0, 0)[0].decode()
    assert likeliest == [{"prompt": "the film was", "continuation": greedy}]


def labelled_reviews(path, count: int = 300):
    """The corpus's words with "good" or "bad" among them: the word decides."""
    import random

    rng = random.Random(1)
    words = "the film was great awful plot actor story scene music long short sad".split()
    lines = ["text,label"]
    for _ in range(count):
        label = rng.randrange(2)
        review = [rng.choice(words) for _ in range(rng.randint(4, 20))]
        review.insert(rng.randrange(len(review) + 1), ("bad", "good")[label])
        lines.append(f"{' '.join(review)},{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


def pretrained_sentiment(run_dir, dataset, **config):
    from core.config import DataConfig, TrainingConfig
    from tasks.sentiment.config import SentimentConfig
    from tasks.sentiment.task import Sentiment

    return Sentiment(
        SentimentConfig(pretrained=str(run_dir), **config),
        TrainingConfig(epochs=8, batch_size=16, learning_rate=1e-2, patience=8),
        DataConfig(dataset=str(dataset)),
    )


def test_sentiment_starts_from_the_language_models_encoder(language_model_run, tmp_path):
    """Its vocabulary and settings follow the language model; its
    bidirectional encoder computes, before training, the language model's
    forward states and its backward states in time order; it then trains
    and serves raw strings."""
    from core.export import latest_version
    from core.runner import run
    from tasks import restore_model

    _, run_dir = language_model_run
    task = pretrained_sentiment(run_dir, labelled_reviews(tmp_path / "reviews.csv"))
    task.settle()
    assert (task.config.units, task.config.embedding_dim, task.config.bigram_vocabulary_size) == (
        16,
        8,
        0,
    )
    task.adapt(task.splits().train)
    language_task, language_model = restore_model(run_dir)
    assert task.ids.vocabularies()["words"] == language_task.ids.vocabularies()["words"]
    model = task.build_model()
    task.start_from(model)
    ids = task.ids(tf.constant(["the film was great , the plot sad"]))["words"]
    embedded = model.get_layer("words_embedding")(ids)
    encoded = model.get_layer("encoder_bidirectional_0")(embedded)
    forward = language_model.get_layer("encoder_forward_0")(embedded)
    backward = tf.reverse(language_model.get_layer("encoder_backward_0")(embedded), [1])
    np.testing.assert_allclose(encoded, tf.concat([forward, backward], -1), rtol=1e-5, atol=1e-6)

    metrics = run(task, tmp_path / "sentiment")
    assert metrics["validation"]["accuracy"] > 0.9
    assert latest_version(tmp_path / "sentiment" / "export").exists()


def test_pretrained_settings_that_do_not_fit_are_named(language_model_run, tmp_path):
    from data.errors import RunMismatchError

    _, run_dir = language_model_run
    reviews = labelled_reviews(tmp_path / "reviews.csv")
    with pytest.raises(RunMismatchError, match=r"--units 32 \(it needs 16\).*--depth 2"):
        pretrained_sentiment(run_dir, reviews, units=32, depth=2).settle()
    with pytest.raises(FileNotFoundError, match="no trained run there"):
        pretrained_sentiment(tmp_path, reviews).settle()


def test_a_run_scores_on_another_text_file(language_model_run, tmp_path):
    """`evaluate.py language_model --model RUN --dataset FILE.txt`: all of
    the file is test text, scored with the run's words."""
    from core.evaluation import evaluate
    from tasks import load_task

    _, run_dir = language_model_run
    other = words_corpus(tmp_path / "other.txt", count=50)
    report = evaluate(load_task(run_dir), run_dir, str(other))
    assert report["test_examples"] == 50 and report["metrics"]["perplexity"] < 4
    assert (run_dir / "elsewhere" / "other.txt" / "evaluation.json").exists()


def test_tied_embeddings_are_one_matrix():
    """The softmax scores with the embedding's own matrix: no second one to
    train or save, and a change to the embedding changes the scores."""
    model = bidirectional_language_model(30, embedding_dim=4, units=6, tie_embeddings=True)
    untied = bidirectional_language_model(30, embedding_dim=4, units=6)
    assert untied.count_params() - model.count_params() == 30 * 6 - 6 * 4
    embedding, softmax = model.get_layer("words_embedding"), model.get_layer("next_word")
    hidden = np.ones((1, 1, 4), "float32")
    before = softmax.logits(hidden).numpy()
    embedding.embeddings.assign(embedding.embeddings * 2)
    np.testing.assert_allclose(softmax.logits(hidden).numpy(), 2 * before, rtol=1e-6)


def test_a_stacked_tied_lstm_run_generates_through_its_export(tmp_path):
    """Two LSTM layers a direction, tied embeddings: the export steps every
    layer's state and the projection; the same seed gives the same text."""
    from core.config import DataConfig
    from core.export import latest_version, load_export
    from core.runner import run
    from tasks.language_model.config import (
        GenerateOptions,
        LanguageModelConfig,
        LanguageModelTraining,
    )
    from tasks.language_model.task import LanguageModel

    task = LanguageModel(
        LanguageModelConfig(
            embedding_dim=8, units=12, samples=8, depth=2, cell="lstm", tie_embeddings=True
        ),
        LanguageModelTraining(epochs=1, learning_rate=1e-2),
        DataConfig(dataset=str(words_corpus(tmp_path / "corpus.txt", count=100))),
    )
    run(task, tmp_path / "run")
    export = load_export(latest_version(tmp_path / "run" / "export"))
    options = GenerateOptions(length=6, sample_seed=3)
    first = task.predict(export, ["the film", ""], options)
    assert first == task.predict(export, ["the film", ""], options)
    assert all(len(row["continuation"].split()) == 6 for row in first)


def test_sentiment_starts_only_from_a_one_layer_language_model(tmp_path):
    """A stacked language model's directions never mix; a bidirectional
    stack's do: the error says so before anything trains."""
    from data.errors import RunMismatchError

    run_dir = tmp_path / "deep"
    run_dir.mkdir()
    settings = {"vocabulary_size": 50, "embedding_dim": 8, "cell": "gru", "units": 16, "depth": 2}
    (run_dir / "config.json").write_text(json.dumps({"task": "language_model", "config": settings}))
    (run_dir / "best.weights.h5").write_bytes(b"")
    reviews = labelled_reviews(tmp_path / "reviews.csv")
    with pytest.raises(RunMismatchError, match="has --depth 2; sentiment starts from .* --depth 1"):
        pretrained_sentiment(run_dir, reviews).settle()
