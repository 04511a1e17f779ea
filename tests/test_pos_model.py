"""The tagger and its pieces: shapes, masking, word dropout, character input."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY_POS

from data.conllu import UPOS, Sentence, as_examples
from data.tokens import TokenIds, characters
from models.characters import TokenDropout, character_features
from tasks.pos.task import PosConfig, PosTagging

SENTENCES = [
    Sentence(
        ("The", "cat", "sat", "."), ("DET", "NOUN", "VERB", "PUNCT"), ("DT", "NN", "VBD", ".")
    ),
    Sentence(("Dogs", "bark", "loudly"), ("NOUN", "VERB", "ADV"), ("NNS", "VBP", "RB")),
]


def tiny_tagger(**config) -> tuple[PosTagging, keras.Model]:
    task = PosTagging(PosConfig(**TINY_POS | config))
    task.adapt(as_examples(SENTENCES, task.config.tagset))
    return task, task.build_model()


@pytest.mark.parametrize("encoder", ["gru", "cnn"])
def test_tagger_gives_one_tag_distribution_per_word(encoder):
    """(batch, words) tokens in; (batch, words, 17 UPOS) probabilities out."""
    task, model = tiny_tagger(character_encoder=encoder, depth=2)
    features = task.ids(tf.constant([["The", "cat", "sat", "."], ["Dogs", "bark", "", ""]]))
    probabilities = model(features).numpy()
    assert probabilities.shape == (2, 4, len(UPOS))
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("encoder", ["lstm", "cnn"])
def test_padding_never_changes_a_sentences_tags(encoder):
    """Padding words, and padding characters from a longer word elsewhere in the
    batch, leave a sentence's probabilities unchanged."""
    task, model = tiny_tagger(character_encoder=encoder)
    alone = model(task.ids(tf.constant([["Dogs", "bark", "loudly"]]))).numpy()
    batch = tf.constant([["Dogs", "bark", "loudly", "", ""], ["A", "b", "c", "d", "unbelievably"]])
    padded = model(task.ids(batch)).numpy()
    np.testing.assert_allclose(padded[0, :3], alone[0], atol=1e-5)


def test_padding_words_count_in_neither_loss_nor_accuracy():
    """Whatever labels padding words carry, loss and accuracy are those of the
    real words alone."""
    task, model = tiny_tagger()
    model.compile(run_eagerly=True, **task.compile_arguments())
    real = task.ids(tf.constant([["Dogs", "bark", "loudly"]]))
    padded = task.ids(tf.constant([["Dogs", "bark", "loudly", "", ""]]))
    alone = model.evaluate(real, np.array([[7, 15, 2]]), return_dict=True, verbose=0)
    beside = model.evaluate(padded, np.array([[7, 15, 2, 0, 9]]), return_dict=True, verbose=0)
    assert alone == pytest.approx(beside, abs=1e-5)


def test_character_encoder_gives_padding_words_zero_vectors():
    """(batch, words, chars) -> (batch, words, 2 x units); padding words are zeros."""
    ids = keras.Input((None, None), dtype="int64")
    model = keras.Model(ids, character_features(ids, vocabulary_size=10, units=3))
    vectors = model(np.array([[[2, 3, 0], [4, 0, 0], [0, 0, 0]]])).numpy()
    assert vectors.shape == (1, 3, 6)
    assert np.all(vectors[0, 2] == 0) and np.any(vectors[0, :2] != 0)


def test_unknown_character_encoder_is_a_clear_error():
    with pytest.raises(ValueError, match="kind must be one of"):
        character_features(keras.Input((None, None), dtype="int64"), 10, kind="transformer")


def test_word_dropout_hides_known_words_in_training_only():
    ids = np.array([[5, 6, 7, 1, 0, 0]] * 200)
    dropout = TokenDropout(0.5, seed=0)
    hidden = dropout(ids, training=True).numpy()
    assert np.all(hidden[:, 3:] == ids[:, 3:]), "padding or [UNK] changed"
    assert 0.4 < np.mean(hidden[:, :3] == 1) < 0.6
    np.testing.assert_array_equal(dropout(ids, training=False), ids)


def test_long_words_keep_their_first_and_last_characters():
    """A word longer than the limit keeps both halves, so a suffix survives."""
    letters = characters(tf.constant([["internationalizing", "cat"]]), max_characters=8)
    assert [b"".join(word).decode() for word in letters.to_list()[0]] == ["intezing", "cat"]


def test_lookups_lowercase_words_keep_case_in_characters_and_round_trip():
    """ "The" and "the" share a word id; characters keep the capital; the saved
    vocabularies give the same ids after a restore."""
    ids = TokenIds(max_characters=10)
    ids.adapt([("The", "the", "cat", "cat")])
    features = ids(tf.constant([["The", "the", "zebra😀"]]))
    words, letters = features["words"].numpy()[0], features["characters"].numpy()[0]
    assert words[0] == words[1] and words[2] == 1  # unseen word -> [UNK]
    assert letters[0, 0] != letters[1, 0] and letters[2, -1] == 1  # unseen character
    restored = TokenIds(max_characters=10, vocabularies=ids.vocabularies())
    for name, values in restored(tf.constant([["The", "the", "zebra😀"]])).items():
        np.testing.assert_array_equal(values, features[name])
