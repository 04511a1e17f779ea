"""An interpolated Kneser-Ney trigram model (Chen & Goodman 1998, one
discount per order): the classical baseline a language model has to beat,
scored on the same tokens.

Counts are kept as sorted arrays of packed n-gram keys, so the 17 million
words of IMDB's reviews fit in a few hundred megabytes and count in seconds.
Each order's discount is Ney's estimate n1 / (n1 + 2 n2) from the training
counts themselves: nothing is tuned, on any split.
"""

import numpy as np

BOUNDARY = 0  # the history before a sequence's first token (the padding id)


def _trigrams(sequences: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(u, v, w) for every token w after the first of each sequence, its two
    predecessors u, v (u the boundary where there is only one)."""
    histories, previous, tokens = [], [], []
    for sequence in sequences:
        sequence = np.asarray(sequence, dtype=np.int64)
        if len(sequence) < 2:
            continue
        histories.append(np.concatenate([[BOUNDARY], sequence[:-2]]))
        previous.append(sequence[:-1])
        tokens.append(sequence[1:])
    if not tokens:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    return np.concatenate(histories), np.concatenate(previous), np.concatenate(tokens)


def _discount(counts: np.ndarray) -> float:
    once, twice = np.sum(counts == 1), np.sum(counts == 2)
    return float(once / (once + 2 * twice)) if once else 0.5


def _grouped(keys: np.ndarray, counts: np.ndarray, by: np.ndarray):
    """For sorted `keys` grouped by `by` (non-decreasing with them): each
    group's key, its total count and how many keys it holds."""
    groups, starts, sizes = np.unique(by, return_index=True, return_counts=True)
    return groups, np.add.reduceat(counts, starts), sizes


class KneserNeyTrigram:
    """P(w | u v), interpolated with the continuation bigram and unigram
    models down to a uniform distribution over `vocabulary_size` ids."""

    def __init__(self, vocabulary_size: int):
        self.size = vocabulary_size

    def fit(self, sequences: list[np.ndarray]) -> "KneserNeyTrigram":
        """Counts the trigrams of token-id sequences (each starting with its
        start token, which is context only)."""
        u, v, w = _trigrams(sequences)
        size = self.size
        self.trigrams, trigram_counts = np.unique((u * size + v) * size + w, return_counts=True)
        self.trigram_counts = trigram_counts
        self.d3 = _discount(trigram_counts)
        self.contexts, self.context_counts, self.context_types = _grouped(
            self.trigrams, trigram_counts, self.trigrams // size
        )
        # Lower orders count the distinct words before each n-gram (its
        # continuations), not its occurrences.
        self.bigrams, self.bigram_continuations = np.unique(
            self.trigrams % (size * size), return_counts=True
        )
        self.d2 = _discount(self.bigram_continuations)
        self.previous, self.previous_totals, self.previous_types = _grouped(
            self.bigrams, self.bigram_continuations, self.bigrams // size
        )
        continuations = np.bincount(self.bigrams % size, minlength=size).astype(np.float64)
        self.d1 = _discount(continuations)
        total = continuations.sum()
        seen = np.count_nonzero(continuations)
        self.unigram = (np.maximum(continuations - self.d1, 0) + self.d1 * seen / size) / total
        return self

    @staticmethod
    def _lookup(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
        """values[keys == wanted], 0 where `wanted` is not among the keys."""
        if not len(keys):
            return np.zeros(len(wanted), values.dtype)
        at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        found = keys[at] == wanted
        return np.where(found, values[at], 0)

    def log_probabilities(self, sequences: list[np.ndarray]) -> np.ndarray:
        """ln P of every token after the first of each sequence, in order."""
        u, v, w = _trigrams(sequences)
        size = self.size
        probability = self.unigram[w]
        totals = self._lookup(self.previous, self.previous_totals, v)
        types = self._lookup(self.previous, self.previous_types, v)
        continuations = self._lookup(self.bigrams, self.bigram_continuations, v * size + w)
        bigram = (np.maximum(continuations - self.d2, 0) + self.d2 * types * probability) / (
            np.maximum(totals, 1)
        )
        probability = np.where(totals > 0, bigram, probability)
        context = u * size + v
        totals = self._lookup(self.contexts, self.context_counts, context)
        types = self._lookup(self.contexts, self.context_types, context)
        counts = self._lookup(self.trigrams, self.trigram_counts, context * size + w)
        trigram = (np.maximum(counts - self.d3, 0) + self.d3 * types * probability) / (
            np.maximum(totals, 1)
        )
        return np.log(np.where(totals > 0, trigram, probability))
