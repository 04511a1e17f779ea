"""Greedy and beam search in the graph, on a tiny random Markov "decoder".

The step function scores the next token from the previous one and the step
count, so lengths matter and hypotheses can be rescored independently.
"""

import itertools

import numpy as np
import tensorflow as tf

from models.decoding import beam_search, greedy_search, length_penalty, tile_beams

PAD, START, END = 0, 1, 2
VOCABULARY = 6


def markov_step(seed: int = 0, vocabulary: int = VOCABULARY):
    """`step(ids, state)` of a random bigram model; state counts the steps."""
    rng = np.random.default_rng(seed)
    table = tf.constant(rng.normal(0.0, 2.0, (vocabulary, vocabulary)), tf.float32)
    drift = tf.constant(rng.normal(0.0, 0.5, vocabulary), tf.float32)
    banned = tf.constant([True, True] + [False] * (vocabulary - 2))

    def step(ids, state):
        logits = tf.gather(table, ids) + state["steps"][:, None] * drift
        log_probs = tf.where(banned, float("-inf"), tf.nn.log_softmax(logits))
        return log_probs, {"steps": state["steps"] + 1.0}

    return step


def start_state(batch: int, beam: int = 1):
    return tile_beams({"steps": tf.zeros([batch])}, beam)


def rescore(step, tokens) -> float:
    """Log-probability of one hypothesis (ending with END) under `step`."""
    state, previous, total = start_state(1), START, 0.0
    for token in tokens:
        log_probs, state = step(tf.constant([previous]), state)
        total += float(log_probs[0, token])
        previous = token
        if token == END:
            break
    return total


def strip(tokens) -> list[int]:
    tokens = list(np.asarray(tokens))
    return tokens[: tokens.index(END) + 1]


def test_beam_width_one_equals_greedy():
    """Without length penalty, a beam of one makes exactly greedy's choices."""
    for seed in range(5):
        step = markov_step(seed)
        limits = tf.constant([8, 3, 12, 1])
        greedy, greedy_scores = greedy_search(step, start_state(4), START, END, limits)
        beam, beam_scores = beam_search(step, start_state(4, 1), 1, START, END, limits)
        for row in range(4):
            assert strip(beam[row, 0]) == strip(greedy[row])
        np.testing.assert_allclose(beam_scores[:, 0], greedy_scores, rtol=1e-5)


def test_beam_returns_finished_hypotheses_ordered_by_score():
    """Every hypothesis ends with END within its limit; scores fall from first
    to last and equal an independent rescoring / length penalty."""
    step, alpha, width = markov_step(3), 0.6, 4
    limits = tf.constant([10, 5])
    tokens, scores = beam_search(step, start_state(2, width), width, START, END, limits, alpha)
    assert tokens.shape[:2] == (2, width)
    for row, limit in enumerate(limits.numpy()):
        assert np.all(np.diff(scores[row]) <= 1e-6), scores[row]
        for rank in range(width):
            hypothesis = strip(tokens[row, rank])
            assert hypothesis[-1] == END and len(hypothesis) <= limit
            assert all(token not in (PAD, START) for token in hypothesis)
            expected = rescore(step, hypothesis) / length_penalty(len(hypothesis), alpha)
            np.testing.assert_allclose(scores[row, rank], expected, rtol=1e-5)


def test_wide_beam_finds_the_exact_best_sequence():
    """A beam as wide as the whole search space returns the true optimum, and
    it scores at least as well as greedy search."""
    step, limit = markov_step(7, vocabulary=4), 4
    candidates = [
        (*body, END)
        for length in range(limit)
        for body in itertools.product([3], repeat=length)  # the only non-END token
    ]
    best = max(candidates, key=lambda hypothesis: rescore(step, hypothesis))
    tokens, scores = beam_search(step, start_state(1, 8), 8, START, END, tf.constant([limit]))
    assert tuple(strip(tokens[0, 0])) == best
    _, greedy_scores = greedy_search(step, start_state(1), START, END, tf.constant([limit]))
    assert scores[0, 0] >= greedy_scores[0] - 1e-6


def test_every_output_stops_at_its_own_limit():
    """A model that never wants to stop is cut at each example's maximum length."""

    def never_ends(ids, state):
        log_probs = tf.math.log(tf.constant([[1e-9, 1e-9, 1e-9, 1.0]]))
        return tf.tile(log_probs, [tf.shape(ids)[0], 1]), state

    limits = tf.constant([1, 4, 7])
    greedy, _ = greedy_search(never_ends, start_state(3), START, END, limits)
    beam, _ = beam_search(never_ends, start_state(3, 2), 2, START, END, limits)
    for row, limit in enumerate(limits.numpy()):
        assert len(strip(greedy[row])) == limit
        assert len(strip(beam[row, 0])) == limit


def test_search_runs_inside_a_tf_function_with_a_tensor_beam_width():
    """The exported signature passes the beam width as a tensor."""
    step = markov_step(1)

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32)])
    def decode(width):
        state = tile_beams({"steps": tf.zeros([2])}, width)
        return beam_search(step, state, width, START, END, tf.constant([6, 6]), 0.6)[0]

    assert decode(tf.constant(3)).shape[:2] == (2, 3)
    assert decode(tf.constant(1)).shape[:2] == (2, 1)
