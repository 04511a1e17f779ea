"""One recurrent stack shared by every key of a piano roll, then one across the keyboard.

A dense recurrent layer learns each key's behaviour on its own, and in 229
chorales most keys are rarely heard. Here a small stack runs along time for
every key, reading what sounded around that key (the neighbouring keys and
the pitch classes, both relative to the key), so what it learns at one pitch
holds at every pitch. A bidirectional layer across the keyboard then lets
each key see its neighbours' states: states built from past frames only, so
the keys of the next frame stay independent given the past. This is the
tied parallel network idea of Johnson (2017), used here for one score per key.
"""

import keras
from keras import layers, ops

from models.recurrent import recurrent_stack

PITCH_CLASSES = 12


@keras.saving.register_keras_serializable(package="rnn_suite")
class KeyNeighbourhoods(layers.Layer):
    """`(batch, frames, 88)` rolls -> `(batch, frames, keys, features)`, one row
    per key in `[low, high)`: the keys within `reach` semitones, how many notes
    of each pitch class sound (counted from the key up), the key's pitch class,
    a learned key embedding and, if given, the frame's `context` vector."""

    def __init__(self, low: int, high: int, reach: int = 12, embedding: int = 8, **kwargs):
        super().__init__(**kwargs)
        self.low, self.high, self.reach, self.embedding = low, high, reach, embedding

    def build(self, roll_shape, context_shape=None):
        self.key_embedding = self.add_weight(
            shape=(self.high - self.low, self.embedding), initializer="uniform", name="keys"
        )

    def call(self, roll, context=None):
        keys = ops.arange(self.low, self.high)
        width = roll.shape[-1]
        padded = ops.pad(roll, [[0, 0], [0, 0], [self.reach, self.reach]])
        offsets = ops.arange(2 * self.reach + 1)
        neighbours = ops.take(padded, keys[:, None] + offsets[None, :], axis=2)
        # Key 0 of the roll is an A (MIDI 21): pitch class (key + 9) mod 12 counted from C.
        classes = ops.one_hot((ops.arange(width) + 9) % PITCH_CLASSES, PITCH_CLASSES)
        class_counts = ops.matmul(roll, classes)
        relative = (keys[:, None] + 9 + ops.arange(PITCH_CLASSES)[None, :]) % PITCH_CLASSES
        counts_from_key = ops.take(class_counts, relative, axis=2)
        frames = ops.shape(roll)[:2]
        own = ops.concatenate([ops.take(classes, keys, axis=0), self.key_embedding], axis=-1)
        parts = [neighbours, counts_from_key, ops.broadcast_to(own, (*frames, *own.shape))]
        if context is not None:
            per_key = (*frames, self.high - self.low, context.shape[-1])
            parts.append(ops.broadcast_to(context[:, :, None], per_key))
        return ops.concatenate(parts, axis=-1)

    def get_config(self):
        return {
            **super().get_config(),
            "low": self.low,
            "high": self.high,
            "reach": self.reach,
            "embedding": self.embedding,
        }


@keras.saving.register_keras_serializable(package="rnn_suite")
class FoldIntoBatch(layers.Layer):
    """`(batch, frames, keys, features)` -> sequences along one axis: `axis=1`
    gives one sequence per key over time, `axis=2` one per frame over keys."""

    def __init__(self, axis: int, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, grid):
        if self.axis == 1:
            grid = ops.transpose(grid, [0, 2, 1, 3])
        shape = ops.shape(grid)
        return ops.reshape(grid, (-1, shape[2], shape[3]))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


@keras.saving.register_keras_serializable(package="rnn_suite")
class UnfoldFromBatch(FoldIntoBatch):
    """The inverse of `FoldIntoBatch(axis)`, shaped like the grid `like`."""

    def call(self, sequences, like):
        batch, frames, keys = ops.shape(like)[:3]
        if self.axis == 2:
            return ops.reshape(sequences, (batch, frames, keys, sequences.shape[-1]))
        grid = ops.reshape(sequences, (batch, keys, frames, sequences.shape[-1]))
        return ops.transpose(grid, [0, 2, 1, 3])


@keras.saving.register_keras_serializable(package="rnn_suite")
class OnKeyboard(layers.Layer):
    """`(batch, frames, keys, 1)` scores of keys `[low, high)` -> `(batch, frames, 88)`,
    zero for the keys outside."""

    def __init__(self, low: int, high: int, width: int = 88, **kwargs):
        super().__init__(**kwargs)
        self.low, self.high, self.width = low, high, width

    def call(self, scores):
        return ops.pad(scores[..., 0], [[0, 0], [0, 0], [self.low, self.width - self.high]])

    def get_config(self):
        return {**super().get_config(), "low": self.low, "high": self.high, "width": self.width}


def keyboard_scores(
    roll: keras.KerasTensor,
    context: keras.KerasTensor,
    *,
    low: int,
    high: int,
    cell: str = "gru",
    units: int = 64,
    depth: int = 2,
    dropout: float = 0.2,
    output_dropout: float = 0.3,
    context_units: int = 32,
    name: str = "keyboard",
) -> keras.KerasTensor:
    """A score per key and frame, `(batch, frames, 88)`, from the `roll` each
    frame reads (already shifted: frame t sees frame t - 1) and a per-frame
    `context` (say a dense recurrent stack's output), shared with every key.
    Keys outside `[low, high)` score 0."""
    shared = layers.Dense(context_units, name=f"{name}_context")(context)
    grid = KeyNeighbourhoods(low, high, name=f"{name}_neighbourhoods")(roll, shared)
    along_time = recurrent_stack(
        FoldIntoBatch(1, name=f"{name}_keys_as_batch")(grid),
        cell=cell,
        units=units,
        depth=depth,
        dropout=dropout,
        name=f"{name}_time",
    )
    grid = UnfoldFromBatch(1, name=f"{name}_keys_from_batch")(along_time, grid)
    across_keys = recurrent_stack(
        FoldIntoBatch(2, name=f"{name}_frames_as_batch")(grid),
        cell=cell,
        units=units // 2,
        bidirectional=True,
        name=f"{name}_across",
    )
    grid = UnfoldFromBatch(2, name=f"{name}_frames_from_batch")(across_keys, grid)
    grid = layers.Dropout(output_dropout, name=f"{name}_output_dropout")(grid)
    return OnKeyboard(low, high, name=f"{name}_scores")(layers.Dense(1, name=f"{name}_score")(grid))
