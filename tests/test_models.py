"""Shared builders: shapes for every cell and layout, masking, the keyboard stack."""

import keras
import numpy as np
import pytest

from data.midi import parse_chord
from models.heads import POOLINGS, summarize
from models.keyboard import FoldIntoBatch, KeyNeighbourhoods, UnfoldFromBatch
from models.recurrent import CELLS, recurrent_stack, token_embedding


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("depth", [1, 2])
def test_stack_output_shapes(cell, bidirectional, depth):
    """(batch, timesteps, features) in; width = units x directions out."""
    inputs = keras.Input((None, 3))
    kwargs = dict(cell=cell, units=4, depth=depth, bidirectional=bidirectional, residual=True)
    sequences = keras.Model(inputs, recurrent_stack(inputs, **kwargs))
    final = keras.Model(inputs, recurrent_stack(inputs, return_sequences=False, **kwargs))
    batch = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    width = 4 * (2 if bidirectional else 1)
    assert sequences(batch).shape == (2, 5, width)
    assert final(batch).shape == (2, width)


def test_residual_connections_join_stacked_layers():
    """Residuals are added from the second layer on, where widths match."""
    inputs = keras.Input((None, 3))
    model = keras.Model(inputs, recurrent_stack(inputs, units=4, depth=3, residual=True))
    assert [layer.name for layer in model.layers if isinstance(layer, keras.layers.Add)] == [
        "encoder_residual_1",
        "encoder_residual_2",
    ]


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_padding_does_not_change_the_summary(pooling, cell):
    """A right-padded and an unpadded copy of a sequence give the same output."""
    token_ids = keras.Input((None,), dtype="int64")
    embedded = token_embedding(token_ids, vocabulary_size=20, embedding_dim=6)
    summary = summarize(embedded, pooling=pooling, cell=cell, units=5, depth=2, bidirectional=True)
    model = keras.Model(token_ids, summary)
    sequence = np.array([[3, 7, 1, 9, 4]])
    padded = np.array([[3, 7, 1, 9, 4, 0, 0, 0]])
    np.testing.assert_allclose(model(sequence), model(padded), atol=1e-5)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_all_padding_gives_a_finite_batch_independent_summary(pooling):
    """An empty text (only padding) must not give NaN or depend on its batch."""
    token_ids = keras.Input((None,), dtype="int64")
    embedded = token_embedding(token_ids, vocabulary_size=20, embedding_dim=6)
    model = keras.Model(token_ids, summarize(embedded, pooling=pooling, units=5))
    alone = model(np.array([[0, 0]]))
    beside_text = model(np.array([[0, 0], [4, 5]]))[:1]
    np.testing.assert_allclose(alone, beside_text, atol=1e-6)
    assert np.all(np.isfinite(alone))


def test_unknown_cell_is_a_clear_error():
    with pytest.raises(ValueError, match="cell must be one of"):
        recurrent_stack(keras.Input((None, 3)), cell="transformer")


def test_each_key_reads_its_neighbours_and_the_pitch_classes_counted_from_itself():
    """In a C major chord, E4 sees C4 four keys down and G4 three up; counted
    from E, the pitch classes sounding are 0 (E), 3 (G) and 8 (C)."""
    roll = parse_chord("C4 E4 G4")[None, None].astype("float32")
    e4 = 43  # MIDI 64, on an 88-key roll starting at A0 (MIDI 21)
    features = KeyNeighbourhoods(low=e4, high=e4 + 1, reach=12, embedding=2)(roll)
    assert features.shape == (1, 1, 1, 25 + 12 + 12 + 2)
    row = np.asarray(features[0, 0, 0])
    neighbours, classes, own_class = row[:25], row[25:37], row[37:49]
    assert list(np.flatnonzero(neighbours) - 12) == [-4, 0, 3]
    assert list(np.flatnonzero(classes)) == [0, 3, 8]
    assert list(np.flatnonzero(own_class)) == [4]  # E, counting from C


@pytest.mark.parametrize("axis", [1, 2])
def test_folding_keys_or_frames_into_the_batch_is_undone_exactly(axis):
    """Axis 1: one sequence per key over time; axis 2: one per frame over keys."""
    grid = np.random.default_rng(0).normal(size=(2, 5, 7, 3)).astype("float32")
    folded = np.asarray(FoldIntoBatch(axis)(grid))
    first = grid[0, :, 0] if axis == 1 else grid[0, 0]
    np.testing.assert_array_equal(folded[0], first)
    np.testing.assert_array_equal(UnfoldFromBatch(axis)(folded, grid), grid)
