"""Pre-tokenized words to word ids and character ids, inside the TensorFlow graph.

The same lookups feed `tf.data` in training and sit inside the exported
SavedModel, so a served sentence is featurized exactly as training was.
Tokens arrive as a padded `(batch, words)` string tensor whose padding is
the empty string (a real word is never empty).
"""

from collections import Counter

import tensorflow as tf
from keras import layers


def lowercase(tokens: tf.Tensor) -> tf.Tensor:
    """Unicode-aware lower case: "The" and "the" share one word vector."""
    return tf.strings.lower(tokens, encoding="utf-8")


def characters(tokens: tf.Tensor, max_characters: int) -> tf.RaggedTensor:
    """`(batch, words)` strings -> `(batch, words, (chars))` characters.

    A word longer than `max_characters` keeps its first and last halves: a
    URL costs no more than a short word, and a suffix like "-ing" survives.
    Invalid UTF-8 becomes U+FFFD instead of an error.
    """
    split = tf.strings.unicode_split(tokens, "UTF-8")
    words = split.merge_dims(0, 1)
    lengths = words.row_lengths()
    positions = tf.ragged.range(lengths)
    half = max_characters // 2
    # Keeps every position of a short word, and both ends of a long one.
    keep = (positions < max_characters - half) | (positions >= tf.expand_dims(lengths - half, 1))
    kept = tf.ragged.boolean_mask(words, keep)
    return tf.RaggedTensor.from_uniform_row_length(kept, tf.shape(tokens, tf.int64)[1])


class TokenIds:
    """Maps padded tokens to `{"words": (batch, T), "characters": (batch, T, C)}`.

    Id 0 is padding; id 1 stands for a word or character outside the
    vocabularies. Words are lower-cased (case is left to the characters);
    the word vocabulary holds every training word seen `min_word_count`
    times, the character vocabulary every character seen twice, so that
    the unknown-character id is trained too.
    """

    def __init__(
        self,
        max_characters: int,
        min_word_count: int = 1,
        vocabularies: dict[str, list[str]] | None = None,
    ):
        self.max_characters = max_characters
        self.min_word_count = min_word_count
        vocabularies = vocabularies or {}
        self.lookups = {
            name: layers.StringLookup(mask_token="", vocabulary=vocabularies.get(name))
            for name in ("words", "characters")
        }

    def adapt(self, sentences: list[tuple[str, ...]]) -> None:
        """Counts words and characters in the training sentences."""
        tokens = tf.constant([token for sentence in sentences for token in sentence])
        words = Counter(token.decode() for token in lowercase(tokens).numpy())
        letters = Counter(letter for token in tokens.numpy() for letter in token.decode())
        for name, counts, minimum in (
            ("words", words, self.min_word_count),
            ("characters", letters, 2),
        ):
            ranked = [item for item, count in sorted(counts.items(), key=_by_count)]
            # A tiny training set may have no character seen twice; keep one.
            kept = [item for item in ranked if counts[item] >= minimum] or ranked[:1]
            self.lookups[name].set_vocabulary(kept)

    def vocabularies(self) -> dict[str, list[str]]:
        # Without the padding and unknown entries, which StringLookup adds back.
        return {
            name: [str(item) for item in lookup.get_vocabulary()[2:]]
            for name, lookup in self.lookups.items()
        }

    def vocabulary_size(self, name: str) -> int:
        return self.lookups[name].vocabulary_size()

    def __call__(self, tokens: tf.Tensor) -> dict[str, tf.Tensor]:
        words = self.lookups["words"](lowercase(tokens))
        letters = self.lookups["characters"](characters(tokens, self.max_characters))
        return {"words": words, "characters": letters.to_tensor()}


def _by_count(item_and_count: tuple[str, int]) -> tuple[int, str]:
    """Most frequent first; ties alphabetically, so vocabularies are reproducible."""
    item, count = item_and_count
    return -count, item
