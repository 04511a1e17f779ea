"""In-graph text features: words and the bigram ending at each word."""

import tensorflow as tf

from data.text import WordBigramIds, standardize, words_and_bigrams


def test_standardize_lowercases_and_splits_off_punctuation():
    text = standardize(tf.constant(["Great!<br /><br />Don't miss it."]))
    assert text.numpy()[0].decode().split() == ["great", "!", "don't", "miss", "it", "."]


def test_each_word_gets_the_bigram_ending_at_it():
    words, bigrams = words_and_bigrams(tf.constant(["not good", ""]))
    assert words.to_list() == [[b"not", b"good"], []]
    assert bigrams.to_list() == [[b"<s> not", b"not good"], []]


def test_ids_are_aligned_right_padded_and_survive_a_saved_vocabulary():
    ids = WordBigramIds(vocabulary_size=10, bigram_vocabulary_size=10)
    ids.adapt(["not good", "good film", "not bad"])
    batch = ids(tf.constant(["not good at all", "good", ""]))
    words, bigrams = batch["words"].numpy(), batch["bigrams"].numpy()
    assert words.shape == bigrams.shape == (3, 4)
    assert (words[1:, 1:] == 0).all() and (bigrams[1:, 1:] == 0).all()  # padding
    assert words[0, 2] == words[0, 3] == 1  # "at", "all": out of vocabulary
    assert bigrams[0, 1] > 1  # "not good" was seen in training
    restored = WordBigramIds(10, 10, ids.vocabularies())
    again = restored(tf.constant(["not good at all", "good", ""]))
    assert (again["words"].numpy() == words).all()
    assert (again["bigrams"].numpy() == bigrams).all()


def test_bigrams_can_be_left_out():
    ids = WordBigramIds(vocabulary_size=10, bigram_vocabulary_size=0)
    ids.adapt(["a b"])
    assert list(ids(tf.constant(["a b"]))) == ["words"]
