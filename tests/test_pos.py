"""POS tagging end to end: learning unseen words from their spelling, a real
EWT run exported and reloaded in a fresh process, awkward serving input,
`--predict` output."""

import json

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY_POS
from helpers import assert_same_outputs, outputs_in_fresh_process

from core import runner
from core.config import DataConfig, TrainingConfig
from core.evaluation import evaluate
from core.export import latest_version
from data.errors import DataFormatError
from data.pipeline import Examples
from tasks import load_task, restore_model
from tasks.pos.task import PosConfig, PosTagging

# Word families told apart by their endings: the test sentences use new stems.
SUFFIXES = {"NOUN": "tion", "VERB": "izes", "ADV": "ly", "ADJ": "ous"}
TEMPLATE = ("DET", "ADJ", "NOUN", "VERB", "ADV", "PUNCT")


def synthetic_treebank(path, count=400, seed=0):
    """CoNLL-U sentences "the <adj> <noun> <verb> <adv> ." over random stems."""
    rng = np.random.default_rng(seed)
    blocks = []
    for number in range(count):
        lines = [f"# sent_id = s{number}"]
        for index, tag in enumerate(TEMPLATE, start=1):
            stem = "".join(rng.choice(list("bcdfgklmnprstvz"), size=3)) + rng.choice(list("aeiou"))
            form = {"DET": rng.choice(["the", "a", "The"]), "PUNCT": "."}.get(tag)
            form = form or stem + SUFFIXES[tag]
            lines.append(f"{index}\t{form}\t_\t{tag}\t_\t_\t0\t_\t_\t_")
        blocks.append("\n".join(lines))
    path.write_text("\n\n".join(blocks) + "\n")
    return path


def tiny_task(dataset="", mirror="", data_dir="", **train) -> PosTagging:
    settings = dict(epochs=6, batch_size=16, patience=6, learning_rate=1e-2) | train
    return PosTagging(
        PosConfig(**TINY_POS),
        TrainingConfig(**settings),
        DataConfig(dataset=str(dataset), data_mirror=mirror, data_dir=str(data_dir)),
    )


def test_learns_to_tag_unseen_words_from_their_endings(tmp_path):
    """Test words are almost all unseen in training; the character encoder still
    tags >= 90 % of them right (chance: 1 in 17), scored through the export."""
    task = tiny_task(synthetic_treebank(tmp_path / "treebank.conllu", count=300), epochs=4)
    runner.run(task, tmp_path / "run")
    report = evaluate(load_task(tmp_path / "run"), tmp_path / "run")
    metrics = report["metrics"]
    assert metrics["oov_words"] > 0.5 * metrics["words"]
    assert metrics["upos_accuracy"] >= 0.9 and metrics["oov_upos_accuracy"] >= 0.9, metrics
    assert set(report["baselines"]) == {"most_frequent_tag", "window_logreg"}
    assert metrics["per_tag"]["NOUN"]["support"] == report["test_examples"]
    assert (tmp_path / "run" / "confusion_matrix.png").stat().st_size > 0


@pytest.fixture(scope="module")
def ewt_run(tmp_path_factory, mirror, tfds_dir):
    """A few training steps on a few hundred real EWT sentences, exported."""
    run_dir = tmp_path_factory.mktemp("ewt") / "run"
    task = tiny_task(mirror=mirror, data_dir=tfds_dir, limit=300, epochs=1, steps_per_epoch=8)
    runner.run(task, run_dir)
    return run_dir


def test_export_reloaded_in_fresh_process_tags_like_the_model(ewt_run):
    """The default endpoint takes padded tokens; the text endpoint agrees with it."""
    task, model = restore_model(ewt_run)
    sentences = task.splits().test.inputs[:12]
    width = max(len(tokens) for tokens in sentences)
    padded = [list(tokens) + [""] * (width - len(tokens)) for tokens in sentences]
    in_process = task.serving(model).endpoints["serve"].function(tf.constant(padded))
    export = latest_version(ewt_run / "export")
    reloaded = outputs_in_fresh_process(export, padded)
    assert_same_outputs({name: value.numpy() for name, value in in_process.items()}, reloaded)
    texts = [" ".join(tokens) for tokens in sentences]
    loaded = tf.saved_model.load(str(export))
    from_text = loaded.serve_text(tf.constant(texts))
    np.testing.assert_array_equal(from_text["tags"], in_process["tags"])


def test_export_handles_awkward_sentences(ewt_run):
    """Empty sentences, one word, 500 words, unseen characters; a sentence's tags
    do not depend on the batch it is served in."""
    loaded = tf.saved_model.load(str(latest_version(ewt_run / "export")))
    tags = {tag.encode() for tag in load_task(ewt_run).tags}
    sentences = [[], ["Hello"], ["word"] * 500, ["Ωμέγα", "🙂", "東京", "\u200b"]]
    width = max(len(tokens) for tokens in sentences)
    padded = tf.constant([tokens + [""] * (width - len(tokens)) for tokens in sentences])
    outputs = {name: value.numpy() for name, value in loaded.serve(padded).items()}
    for row, tokens in enumerate(sentences):
        assert set(outputs["tags"][row, : len(tokens)]) <= tags
        assert set(outputs["tags"][row, len(tokens) :]) <= {b""}
        assert np.all(outputs["confidence"][row, len(tokens) :] == 0)
        alone = loaded.serve(tf.constant([tokens or [""]]))["tags"].numpy()[0, : len(tokens)]
        np.testing.assert_array_equal(alone, outputs["tags"][row, : len(tokens)])
    assert loaded.serve(tf.constant([[""], [""]]))["tags"].numpy().tolist() == [[b""], [b""]]
    text = loaded.serve_text(tf.constant(["", "  Hello   world ", "\t"]))
    assert [len([t for t in row if t]) for row in text["tags"].numpy()] == [0, 2, 0]


def test_predict_prints_word_tag_pairs(ewt_run):
    """What `evaluate.py pos --model RUN --predict TEXT` prints, one row per text."""
    task = load_task(ewt_run)
    export = tf.saved_model.load(str(latest_version(ewt_run / "export")))
    first, empty = task.predict(export, ["I saw her .", ""], task.PredictOptions())
    words, tags = zip(*(pair.rsplit("/", 1) for pair in first["tagged"].split()), strict=True)
    assert first["input"] == "I saw her ." and words == ("I", "saw", "her", ".")
    assert set(tags) <= set(task.tags)
    assert empty == {"input": "", "tagged": ""}


def test_a_run_scores_on_another_treebanks_test_file_beside_its_own(ewt_run, tmp_path):
    """`evaluate.py pos --model RUN --dataset FOLDER` with a test file alone:
    scored with the run's vocabulary into RUN/elsewhere/, never over the
    run's own evaluation; a tag the run never learned is refused by name."""
    folder = tmp_path / "other"
    folder.mkdir()
    synthetic_treebank(folder / "xx_other-ud-test.conllu", count=30)
    own = evaluate(load_task(ewt_run), ewt_run)
    report = evaluate(load_task(ewt_run), ewt_run, str(folder))
    assert report["test_examples"] == 30 and report["dataset"] == str(folder)
    assert report["baselines"] == {} and 0 <= report["metrics"]["upos_accuracy"] <= 1
    saved = json.loads((ewt_run / "elsewhere" / "other" / "evaluation.json").read_text())
    assert saved["metrics"] == report["metrics"]
    assert json.loads((ewt_run / "evaluation.json").read_text())["metrics"] == own["metrics"]

    strange = folder / "xx_other-ud-test.conllu"
    strange.write_text(strange.read_text().replace("\tADV\t", "\tSLANG\t", 1))
    with pytest.raises(DataFormatError, match="line 6: UPOS 'SLANG'"):
        evaluate(load_task(ewt_run), ewt_run, str(folder))
    # Tags read under another tagset (say XPOS) are checked against the run's.
    foreign = Examples(np.array([["It", "rains"]]), np.array([["PRP", "VBZ"]]))
    with pytest.raises(DataFormatError, match="never learned: PRP, VBZ"):
        load_task(ewt_run).in_run_terms(foreign)
