"""The encoder-decoder building blocks: shapes, masking, attention, and the
agreement of the training path (teacher forcing) with the decoding path."""

import numpy as np
import pytest
import tensorflow as tf

from models.attention import attention_layer
from models.losses import smoothed_cross_entropy, token_accuracy
from models.seq2seq import generate, sequence_to_sequence

SOURCE_VOCABULARY, TARGET_VOCABULARY = 13, 11


@pytest.fixture(scope="module")
def model():
    """A tiny GRU translator with random weights."""
    tf.keras.utils.set_random_seed(0)
    return sequence_to_sequence(
        SOURCE_VOCABULARY,
        TARGET_VOCABULARY,
        embedding_dim=4,
        encoder_units=3,
        decoder_units=5,
        attention="bahdanau",
        dropout=0.0,
    )


SOURCE = tf.constant([[4, 5, 6, 3, 0, 0], [7, 8, 9, 10, 11, 3]], tf.int32)
TARGET = tf.constant([[2, 4, 5, 6, 0], [2, 7, 8, 9, 10]], tf.int32)


def test_shapes_of_memory_state_and_logits(model):
    encoded = model.get_layer("encoder")(SOURCE)
    assert encoded["memory"].shape == (2, 6, 6)  # both directions' 3 units
    assert encoded["state"].shape == (2, 5)
    assert encoded["mask"].numpy().tolist() == (SOURCE.numpy() != 0).tolist()
    logits = model({"source": SOURCE, "target": TARGET})
    assert logits.shape == (2, 5, TARGET_VOCABULARY)


def test_source_padding_changes_nothing(model):
    """Extra padding leaves the logits alone and gets no attention."""
    padded = tf.pad(SOURCE, [[0, 0], [0, 4]])
    logits = model({"source": SOURCE, "target": TARGET})
    np.testing.assert_allclose(
        model({"source": padded, "target": TARGET}), logits, rtol=1e-5, atol=1e-6
    )
    encoded = model.get_layer("encoder")(padded)
    _, weights = model.get_layer("decoder").teacher_forced(
        TARGET, encoded["memory"], encoded["mask"], encoded["state"]
    )
    assert np.all(weights.numpy()[0, :, 4:] == 0.0) and np.all(weights.numpy()[1, :, 6:] == 0.0)
    np.testing.assert_allclose(weights.numpy().sum(-1), 1.0, rtol=1e-5)


def test_decoding_steps_reproduce_teacher_forcing(model):
    """`step` token by token gives the logits the training path computes at once."""
    encoded = model.get_layer("encoder")(SOURCE)
    decoder = model.get_layer("decoder")
    keys = decoder.attention.keys(encoded["memory"])
    state = decoder.start(encoded["state"])
    expected = model({"source": SOURCE, "target": TARGET})
    for position in range(TARGET.shape[1]):
        logits, state, _ = decoder.step(
            TARGET[:, position], state, encoded["memory"], keys, encoded["mask"]
        )
        np.testing.assert_allclose(logits, expected[:, position], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["bahdanau", "luong"])
def test_attention_weights_are_a_masked_distribution(kind):
    """One query or a sequence of them: the same weights, summing to one over
    the real source steps only."""
    layer = attention_layer(kind, 4)
    memory = tf.random.stateless_normal([2, 5, 6], seed=[1, 2])
    mask = tf.constant([[True] * 5, [True, True, False, False, False]])
    queries = tf.random.stateless_normal([2, 3, 4], seed=[3, 4])
    layer.build(queries.shape, memory.shape)
    keys = layer.keys(memory)
    context, weights = layer(queries, keys, memory, mask)
    assert context.shape == (2, 3, 6) and weights.shape == (2, 3, 5)
    np.testing.assert_allclose(weights.numpy().sum(-1), 1.0, rtol=1e-5)
    assert np.all(weights.numpy()[1, :, 2:] == 0.0)
    one_context, one_weights = layer(queries[:, 1], keys, memory, mask)
    np.testing.assert_allclose(one_weights, weights[:, 1], rtol=1e-5)
    np.testing.assert_allclose(one_context, context[:, 1], rtol=1e-5)


def test_unknown_attention_is_refused():
    with pytest.raises(ValueError, match="attention must be one of"):
        attention_layer("cosine", 4)


def test_generate_with_beam_one_is_greedy_and_beams_score_higher(model):
    """Greedy (width 1) and beam (width 3) outputs end within the limits and
    never use banned ids; here the beam's best scores at least as well as
    greedy's (no length penalty)."""
    limits = tf.constant([6, 4])
    options = {"start_id": 2, "end_id": 3, "banned": (0, 1, 2)}
    greedy, greedy_scores = generate(model, SOURCE, 1, limits, **options)
    beam, beam_scores = generate(model, SOURCE, 3, limits, **options)
    for tokens, limit in zip(greedy.numpy(), limits.numpy(), strict=True):
        assert 3 in tokens[:limit].tolist()
        assert not set(tokens.tolist()) & {1, 2}
    assert np.all(beam_scores.numpy() >= greedy_scores.numpy() - 1e-5)
    assert beam.shape[0] == 2


def test_loss_ignores_padding_and_smooths_labels():
    """Padded steps change nothing; without smoothing it is plain cross-entropy."""
    logits = tf.random.stateless_normal([2, 3, 5], seed=[5, 6])
    targets = tf.constant([[1, 2, 3], [4, 1, 2]])
    padded_logits = tf.concat([logits, tf.random.stateless_normal([2, 2, 5], seed=[7, 8])], 1)
    padded_targets = tf.pad(targets, [[0, 0], [0, 2]])
    smoothed = smoothed_cross_entropy(0.1)
    np.testing.assert_allclose(
        smoothed(padded_targets, padded_logits), smoothed(targets, logits), rtol=1e-6
    )
    plain = tf.keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    np.testing.assert_allclose(
        smoothed_cross_entropy(0.0)(targets, logits), tf.reduce_mean(plain), rtol=1e-6
    )
    assert float(token_accuracy(padded_targets, padded_logits)) == float(
        token_accuracy(targets, logits)
    )


def test_lstm_decoder_with_luong_attention_steps_like_teacher_forcing():
    """The other cell and scorer: the same agreement of both decoding paths."""
    tf.keras.utils.set_random_seed(1)
    lstm = sequence_to_sequence(
        SOURCE_VOCABULARY,
        TARGET_VOCABULARY,
        embedding_dim=4,
        encoder_units=3,
        decoder_units=5,
        cell="lstm",
        attention="luong",
        dropout=0.0,
    )
    encoded = lstm.get_layer("encoder")(SOURCE)
    decoder = lstm.get_layer("decoder")
    keys, state = decoder.attention.keys(encoded["memory"]), decoder.start(encoded["state"])
    expected = lstm({"source": SOURCE, "target": TARGET})
    for position in range(TARGET.shape[1]):
        logits, state, _ = decoder.step(
            TARGET[:, position], state, encoded["memory"], keys, encoded["mask"]
        )
        np.testing.assert_allclose(logits, expected[:, position], rtol=1e-5, atol=1e-5)
