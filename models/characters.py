"""Word vectors from spelling, for words no vocabulary has seen.

A character encoder reads each word's characters and returns one vector per
word, so an unseen name, typo or inflection still shows its capitals,
digits and suffixes. It is built from the shared pieces: `token_embedding`
then a bidirectional `recurrent_stack` (its final states), or a masked
convolution with max pooling. `TokenDropout` hides known words during
training so that a model learns to use those vectors.
"""

import keras
from keras import layers, ops

from models.heads import MaskedMaxPooling
from models.options import CHARACTER_ENCODERS
from models.recurrent import recurrent_stack, token_embedding


@keras.saving.register_keras_serializable(package="rnn_suite")
class MaskedConvolution(layers.Layer):
    """A 1-D convolution that sees zeros at padded steps and passes the mask on,
    so a word's vector does not depend on how long its batch's longest word is."""

    def __init__(self, filters: int, width: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.width = filters, width
        self.convolution = layers.Conv1D(filters, width, padding="same", activation="relu")
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            inputs = inputs * ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        return self.convolution(inputs)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "width": self.width}


def word_encoder(
    vocabulary_size: int,
    embedding_dim: int = 32,
    kind: str = "lstm",
    units: int = 64,
    name: str = "characters",
) -> keras.Model:
    """One word's right-padded character ids `(chars,)` -> one vector.

    Recurrent kinds give `2 * units` (both directions' final states); "cnn"
    gives `units` max-pooled filters of width 3.
    """
    if kind not in CHARACTER_ENCODERS:
        raise ValueError(f"kind must be one of {CHARACTER_ENCODERS}, got {kind!r}")
    ids = keras.Input((None,), dtype="int64", name=f"{name}_ids")
    embedded = token_embedding(ids, vocabulary_size, embedding_dim, name)
    if kind == "cnn":
        features = MaskedConvolution(units, name=f"{name}_convolution")(embedded)
        vector = MaskedMaxPooling(name=f"{name}_max_pooling")(features)
    else:
        vector = recurrent_stack(
            embedded, cell=kind, units=units, bidirectional=True, return_sequences=False, name=name
        )
    return keras.Model(ids, vector, name=f"{name}_word_encoder")


@keras.saving.register_keras_serializable(package="rnn_suite")
class CharacterEncoder(layers.Layer):
    """`(batch, words, chars)` character ids -> `(batch, words, width)` word vectors.

    Runs `encoder` (see `word_encoder`) on the real words only, gathered
    into one batch, so padding words cost nothing; they come out as zeros,
    masked. Padding is id 0.
    """

    def __init__(self, encoder: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.width = encoder.output_shape[-1]

    def call(self, character_ids):
        shape = ops.shape(character_ids)
        count = shape[0] * shape[1]
        # One all-padding word (and, if there are no characters at all, one
        # padding column) keeps the encoder's input non-empty whatever the batch.
        words = ops.pad(
            ops.reshape(character_ids, (count, shape[2])),
            [[0, 1], [0, ops.maximum(1 - shape[2], 0)]],
        )
        real = ops.nonzero(ops.any(words[:count] > 0, axis=1))[0]
        chosen = ops.concatenate([real, ops.expand_dims(ops.cast(count, real.dtype), 0)], 0)
        encoded = self.encoder(ops.take(words, chosen, axis=0))[:-1]
        scattered = ops.scatter(ops.expand_dims(real, 1), encoded, (count, self.width))
        return ops.reshape(scattered, (shape[0], shape[1], self.width))

    def compute_mask(self, character_ids, mask=None):
        # A padding word has no characters. Merging these vectors with masked
        # word embeddings (Concatenate ORs the masks) then keeps the mask.
        return ops.any(character_ids > 0, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:2], self.width)

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
        }

    @classmethod
    def from_config(cls, config):
        return cls(
            **{**config, "encoder": keras.saving.deserialize_keras_object(config["encoder"])}
        )


@keras.saving.register_keras_serializable(package="rnn_suite")
class TokenDropout(layers.Layer):
    """In training, replaces each known token id by `unknown_id` with probability
    `rate` (word dropout), so the model learns to tag words it has never seen;
    padding (id 0) stays padding. At inference it does nothing."""

    def __init__(self, rate: float, unknown_id: int = 1, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.unknown_id = rate, unknown_id
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, ids, training=None):
        if not training or not self.rate:
            return ids
        hidden = keras.random.uniform(ops.shape(ids), seed=self.seed_generator) < self.rate
        return ops.where(hidden & (ids > self.unknown_id), self.unknown_id, ids)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "unknown_id": self.unknown_id}


def character_features(
    character_ids: keras.KerasTensor,
    vocabulary_size: int,
    embedding_dim: int = 32,
    kind: str = "lstm",
    units: int = 64,
    name: str = "characters",
) -> keras.KerasTensor:
    """`(batch, words, chars)` ids -> `(batch, words, width)`, via `word_encoder`."""
    encoder = word_encoder(vocabulary_size, embedding_dim, kind, units, name)
    return CharacterEncoder(encoder, name=f"{name}_encoder")(character_ids)
