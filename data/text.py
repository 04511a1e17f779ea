"""Text to word and bigram ids, inside the TensorFlow graph.

The same lookup layers feed `tf.data` in training and sit inside the
exported SavedModel, so serving tokenizes exactly as training did.
"""

import tensorflow as tf
from keras import layers

START = "<s>"


def standardize(texts: tf.Tensor) -> tf.Tensor:
    """Lower-cases, drops HTML line breaks and splits off punctuation.

    Punctuation becomes its own token ("great!" -> "great !") because "!"
    and "?" carry meaning, and "great" should be one word either way.
    """
    texts = tf.strings.lower(texts)
    texts = tf.strings.regex_replace(texts, r"<br\s*/?>", " ")
    return tf.strings.regex_replace(texts, r"([^\w\s'])", r" \1 ")


def words_and_bigrams(texts: tf.Tensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor]:
    """Words, and for each word the bigram ending at it ("<s> w0", "w0 w1", ...)."""
    words = tf.strings.split(standardize(texts))
    starts = tf.fill(tf.stack([words.nrows(), 1]), START)
    bigrams = tf.strings.ngrams(tf.concat([starts, words], axis=1), 2, separator=" ")
    return words, bigrams


class WordBigramIds:
    """Maps a batch of texts to aligned, right-padded word and bigram ids.

    Id 0 is padding; id 1 stands for anything outside the vocabularies,
    which hold the most frequent training words and bigrams. Position t of
    `bigrams` is the bigram ending at word t, so a recurrent layer reading
    both sees "not good" as well as "good". `bigram_vocabulary_size=0`
    leaves bigrams out.
    """

    def __init__(
        self,
        vocabulary_size: int,
        bigram_vocabulary_size: int,
        vocabularies: dict[str, list[str]] | None = None,
    ):
        vocabularies = vocabularies or {}
        self.lookups = {"words": self._lookup(vocabulary_size, vocabularies.get("words"))}
        if bigram_vocabulary_size:
            self.lookups["bigrams"] = self._lookup(
                bigram_vocabulary_size, vocabularies.get("bigrams")
            )

    @staticmethod
    def _lookup(size: int, vocabulary: list[str] | None) -> layers.StringLookup:
        # A saved vocabulary already starts with the padding and OOV tokens.
        if vocabulary is not None:
            vocabulary = vocabulary[2:]
        return layers.StringLookup(max_tokens=size, mask_token="", vocabulary=vocabulary)

    def adapt(self, texts: list[str]) -> None:
        batches = tf.data.Dataset.from_tensor_slices(texts).batch(512).map(words_and_bigrams)
        for position, name in enumerate(("words", "bigrams")):
            if name in self.lookups:
                self.lookups[name].adapt(batches.map(lambda *pair, at=position: pair[at]))

    def vocabularies(self) -> dict[str, list[str]]:
        return {name: lookup.get_vocabulary() for name, lookup in self.lookups.items()}

    def vocabulary_size(self, name: str) -> int:
        return self.lookups[name].vocabulary_size()

    def __call__(self, texts: tf.Tensor) -> dict[str, tf.Tensor]:
        """`(batch,)` strings -> `{"words": (batch, T), "bigrams": (batch, T)}` int64."""
        words, bigrams = words_and_bigrams(texts)
        tokens = {"words": words, "bigrams": bigrams}
        return {name: lookup(tokens[name]).to_tensor() for name, lookup in self.lookups.items()}
