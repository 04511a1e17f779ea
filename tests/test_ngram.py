"""The Kneser-Ney trigram baseline is a distribution, and counts what it saw."""

import numpy as np

from models.ngram import KneserNeyTrigram


def random_documents(count: int, vocabulary: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        np.concatenate([[2], rng.integers(1, vocabulary, size=rng.integers(1, 30))])
        for _ in range(count)
    ]


def test_every_context_gets_a_distribution_over_the_vocabulary():
    vocabulary = 12
    model = KneserNeyTrigram(vocabulary).fit(random_documents(200, vocabulary))
    for context in [(2, 5), (7, 7), (3, 11), (11, 1)]:
        sequences = [np.array([*context, word]) for word in range(vocabulary)]
        last = [model.log_probabilities([sequence])[-1] for sequence in sequences]
        np.testing.assert_allclose(np.exp(last).sum(), 1.0, rtol=1e-9)


def test_a_repeated_phrase_is_predicted_and_an_unseen_word_is_not_impossible():
    model = KneserNeyTrigram(10).fit([np.array([2, 3, 4, 5, 6])] * 50 + [np.array([2, 7, 8])])
    probabilities = np.exp(model.log_probabilities([np.array([2, 3, 4, 5, 6, 9])]))
    assert probabilities[1:4].min() > 0.9  # 4 after "3", 5 after "3 4", 6 after "4 5"
    assert 0 < probabilities[-1] < 0.2  # 9 after "5 6", never seen at all
