"""Translation end to end: generated parallel files -> train -> export ->
reload in a fresh process -> the same translations; awkward inputs."""

import numpy as np
import pytest
import tensorflow as tf
from helpers import outputs_in_fresh_process

from core import runner
from core.config import DataConfig, TrainingConfig
from core.evaluation import evaluate
from core.export import latest_version, load_export
from data.errors import DataFormatError
from tasks import load_task, restore_model
from tasks.translation.task import TranslateOptions, Translation, TranslationConfig

TINY = dict(vocabulary_size=60, embedding_dim=16, encoder_units=16, decoder_units=32, dropout=0.0)
WORDS = ["cat", "dog", "bird", "fish", "red", "big", "runs", "sleeps", "eats", "sings"]
GLOSSARY = dict(
    zip(
        WORDS,
        ["Katze", "Hund", "Vogel", "Fisch", "rot", "groß", "rennt", "schläft", "isst", "singt"],
        strict=True,
    )
)


def write_parallel_files(folder, seed=0):
    """A word-for-word 'English -> German' glossary language, three splits."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", 600), ("dev", 40), ("test", 40)):
        english = [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 7)))) for _ in range(count)]
        (folder / f"{split}.en").write_text("\n".join(english) + "\n")
        german = [" ".join(GLOSSARY[word] for word in line.split()) for line in english]
        (folder / f"{split}.de").write_text("\n".join(german) + "\n")
    return folder


def tiny_task(dataset, **train):
    settings = dict(epochs=8, batch_size=32, patience=8, learning_rate=1e-2) | train
    config = TranslationConfig(**TINY, beam_width=3, length_penalty=-1.0)
    return Translation(config, TrainingConfig(**settings), DataConfig(dataset=str(dataset)))


@pytest.fixture(scope="module")
def glossary_run(tmp_path_factory):
    """A tiny translator trained on the generated files, exported."""
    folder = write_parallel_files(tmp_path_factory.mktemp("parallel"))
    run_dir = folder / "run"
    runner.run(tiny_task(folder), run_dir)
    return run_dir


def test_learns_a_glossary_language_far_beyond_copying(glossary_run):
    """Scored through the export on held-out sentences: beam and greedy BLEU
    well above the copy-the-source baseline; val BLEU chose the best epoch."""
    report = evaluate(load_task(glossary_run), glossary_run)
    metrics = report["metrics"]
    assert metrics["bleu"] >= 60 and metrics["bleu_greedy"] >= 60, metrics
    assert report["baselines"]["copy_source"]["bleu"] < 5
    assert metrics["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    history = runner.read_history(glossary_run / "history.csv")
    assert "val_bleu" in history[0] and report["best_epoch"] >= 1


def test_export_reloaded_in_fresh_process_translates_identically(glossary_run):
    """Beam search in the training process and in a fresh one (TensorFlow and
    tensorflow_text only) give the same translations and scores."""
    task, model = restore_model(glossary_run)
    sentences = ["cat runs", "big red dog eats fish", "bird"]
    endpoint = task.serving(model).endpoints["translate"]
    in_process = tf.function(endpoint.function, input_signature=endpoint.signature)(
        tf.constant(sentences), tf.constant(3)
    )
    reloaded = outputs_in_fresh_process(
        latest_version(glossary_run / "export"),
        {"texts": (sentences, "string"), "beam_width": (3, "int32")},
        "translate",
        imports=("tensorflow_text",),
    )
    expected = [text.decode() for text in in_process["translation"].numpy()]
    assert reloaded["translation"] == expected
    np.testing.assert_allclose(reloaded["score"], in_process["score"].numpy(), rtol=1e-5)


def test_export_handles_awkward_input(glossary_run):
    """Empty string, 300 words, unseen characters; batches of 1 and 64 agree."""
    export = load_export(latest_version(glossary_run / "export"))
    awkward = ["", " ".join(["cat"] * 300), "Ж 😡 ünseen ☃", "dog sleeps"]
    for width in (1, 4):
        outputs = export.translate(tf.constant(awkward), tf.constant(width))
        translations = outputs["translation"].numpy()
        assert translations.shape == (4,) and np.all(np.isfinite(outputs["score"].numpy()))
        one = export.translate(tf.constant(["dog sleeps"]), tf.constant(width))["translation"]
        many = export.translate(tf.constant(awkward * 16), tf.constant(width))["translation"]
        assert many.shape == (64,)
        assert set(many.numpy()[3::4].tolist()) == {one.numpy()[0]} == {translations[3]}


def test_predict_writes_an_attention_heat_map(glossary_run, tmp_path):
    task = load_task(glossary_run)
    export = load_export(latest_version(glossary_run / "export"))
    path = tmp_path / "attention.png"
    options = TranslateOptions(beam_width=3, attention_map=str(path))
    (row,) = task.predict(export, ["big dog runs"], options)
    assert row["translation"] and row["attention_map"] == str(path)
    assert path.read_bytes().startswith(b"\x89PNG")


def test_a_run_scores_on_a_test_set_alone_which_alone_trains_nothing(glossary_run, tmp_path):
    """A folder of test.en and test.de only: `evaluate.py --dataset` scores
    the run on all of it; `train.py --dataset` says there is nothing to train on."""
    folder = write_parallel_files(tmp_path, seed=5)
    for split in ("train", "dev"):
        for language in ("en", "de"):
            (folder / f"{split}.{language}").unlink()
    report = evaluate(load_task(glossary_run), glossary_run, str(folder))
    assert report["test_examples"] == 40 and report["metrics"]["bleu"] >= 60, report["metrics"]
    assert (glossary_run / "elsewhere" / folder.name / "evaluation.json").exists()
    with pytest.raises(DataFormatError, match="nothing to train on, only test"):
        tiny_task(folder).splits()
