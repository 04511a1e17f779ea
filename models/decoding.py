"""Greedy and beam search as TensorFlow graph code (`tf.while_loop`).

Written as graph code so that an exported SavedModel decodes by itself. Both
drive a `step(token_ids (n,), state) -> (log_probs (n, vocab), state)`
function, where `state` is any nest of tensors whose first axis is n; beam
search uses n = batch * beam_width, beams of one example next to each other
(see `tile_beams`). `max_lengths (batch,)` bounds each example's output,
END included: at its last step only END is allowed, so every output ends.
"""

import tensorflow as tf

NEGATIVE = float("-inf")


def tile_beams(structure, beam_width):
    """Repeats every example's tensors `beam_width` times, in place."""
    return tf.nest.map_structure(lambda x: tf.repeat(x, beam_width, axis=0), structure)


def length_penalty(length, alpha):
    """GNMT's ((5 + length) / 6) ** alpha (Wu et al. 2016); 1 when alpha = 0."""
    return tf.pow((5.0 + tf.cast(length, tf.float32)) / 6.0, alpha)


def _force_end(log_probs, must_end, end_id):
    """Where `must_end`, every token but END becomes impossible."""
    is_end = tf.equal(tf.range(tf.shape(log_probs)[-1]), end_id)
    must_end = tf.expand_dims(must_end, -1)
    return tf.where(must_end & ~is_end, NEGATIVE, log_probs)


def greedy_search(step, state, start_id: int, end_id: int, max_lengths, pad_id: int = 0):
    """The most likely token at every step -> tokens (batch, length), log-prob (batch,).

    Tokens after an example's END are `pad_id`.
    """
    batch = tf.shape(max_lengths)[0]

    def body(index, ids, state, finished, scores, tokens):
        log_probs, state = step(ids, state)
        log_probs = _force_end(log_probs, index >= max_lengths - 1, end_id)
        best = tf.argmax(log_probs, axis=-1, output_type=tf.int32)
        gained = tf.gather(log_probs, best, batch_dims=1)
        best = tf.where(finished, pad_id, best)
        scores += tf.where(finished, 0.0, gained)
        finished |= tf.equal(best, end_id)
        return index + 1, best, state, finished, scores, tokens.write(index, best)

    _, _, _, _, scores, tokens = tf.while_loop(
        lambda index, ids, state, finished, scores, tokens: ~tf.reduce_all(finished),
        body,
        (
            tf.constant(0),
            tf.fill([batch], start_id),
            state,
            tf.zeros([batch], tf.bool),
            tf.zeros([batch]),
            tf.TensorArray(tf.int32, size=0, dynamic_size=True),
        ),
    )
    return tf.transpose(tokens.stack()), scores


def beam_search(
    step,
    state,
    beam_width,
    start_id: int,
    end_id: int,
    max_lengths,
    alpha: float = 0.0,
    pad_id: int = 0,
):
    """The `beam_width` best finished hypotheses per example, best first.

    Returns tokens (batch, beam, length), each ending with END and then
    `pad_id`, and scores (batch, beam): log-probability / length_penalty.
    `state` must already be tiled (`tile_beams`). Each step expands every
    live hypothesis by every token, keeps the 2 * beam best, moves those of
    the best `beam` that chose END to the finished set and continues with the
    best `beam` that did not; it stops once no live hypothesis can still beat
    the finished ones.
    """
    batch = tf.shape(max_lengths)[0]
    beam = tf.convert_to_tensor(beam_width, tf.int32)
    first_only = tf.concat([[0.0], tf.fill([beam - 1], NEGATIVE)], axis=0)
    limits = tf.cast(max_lengths, tf.int32)

    def body(index, alive, alive_scores, state, finished, finished_scores):
        log_probs, state = step(tf.reshape(alive[:, :, -1], [-1]), state)
        vocabulary = tf.shape(log_probs)[-1]
        log_probs = tf.reshape(log_probs, [batch, beam, vocabulary])
        log_probs = _force_end(log_probs, (index >= limits - 1)[:, None], end_id)
        totals = tf.reshape(alive_scores[:, :, None] + log_probs, [batch, -1])
        top_scores, top = tf.math.top_k(totals, k=2 * beam)
        origin, token = top // vocabulary, top % vocabulary
        candidates = tf.concat([tf.gather(alive, origin, batch_dims=1), token[:, :, None]], axis=2)
        ended = tf.equal(token, end_id)
        # Only an END among the `beam` best may finish (as in fairseq), so a
        # beam of one is greedy search; the others just stop living.
        finishing = ended & (tf.range(2 * beam) < beam)[None]
        # The best `beam` candidates that did not end live on.
        alive_scores, keep = tf.math.top_k(tf.where(ended, NEGATIVE, top_scores), k=beam)
        alive = tf.gather(candidates, keep, batch_dims=1)
        parents = tf.gather(origin, keep, batch_dims=1) + tf.range(batch)[:, None] * beam
        state = tf.nest.map_structure(lambda x: tf.gather(x, tf.reshape(parents, [-1])), state)
        # Those that ended compete with the finished ones, by normalized score.
        normalized = top_scores / length_penalty(index + 1, alpha)
        finished = tf.pad(finished, [[0, 0], [0, 0], [0, 1]], constant_values=pad_id)
        pool = tf.concat([finished, candidates], axis=1)
        pool_scores = tf.concat(
            [finished_scores, tf.where(finishing, normalized, NEGATIVE)], axis=1
        )
        finished_scores, keep = tf.math.top_k(pool_scores, k=beam)
        return (
            index + 1,
            alive,
            alive_scores,
            state,
            tf.gather(pool, keep, batch_dims=1),
            (finished_scores),
        )

    def unsettled(index, alive, alive_scores, state, finished, finished_scores):
        # A live hypothesis scores at best its current log-probability (it can
        # only fall) over the largest length penalty it can still reach.
        best_possible = alive_scores[:, 0] / length_penalty(limits, alpha)
        return tf.reduce_any(best_possible > finished_scores[:, -1])

    start = tf.fill([batch, beam, 1], start_id)
    _, _, _, _, finished, scores = tf.while_loop(
        unsettled,
        body,
        (
            tf.constant(0),
            start,
            tf.tile(first_only[None], [batch, 1]),
            state,
            tf.fill([batch, beam, 1], pad_id),
            tf.fill([batch, beam], NEGATIVE),
        ),
        shape_invariants=(
            tf.TensorShape([]),
            tf.TensorShape([None, None, None]),
            tf.TensorShape([None, None]),
            tf.nest.map_structure(lambda x: x.shape, state),
            tf.TensorShape([None, None, None]),
            tf.TensorShape([None, None]),
        ),
    )
    # Drop the START column; finished sequences carry it at position 0.
    return finished[:, :, 1:], scores
