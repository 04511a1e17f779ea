"""Many-to-one heads: reduce an encoded sequence to one vector per example.

Padding must not leak into the summary, so every pooling here honours the
Keras mask; a padded and an unpadded copy of a sequence pool identically.
"""

import keras
from keras import layers, ops

from models.attention import masked_score
from models.options import POOLINGS
from models.recurrent import recurrent_stack


def _step_mask(inputs, mask):
    """The mask as `(batch, timesteps, 1)` floats; all ones when absent."""
    if mask is None:
        return ops.ones_like(inputs[..., :1])
    return ops.expand_dims(ops.cast(mask, inputs.dtype), -1)


@keras.saving.register_keras_serializable(package="rnn_suite")
class MaskedMaxPooling(layers.Layer):
    """Max over the unmasked timesteps (Keras's own max pooling ignores masks)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        valid = _step_mask(inputs, mask) > 0
        pooled = ops.max(ops.where(valid, inputs, masked_score(inputs)), axis=1)
        # An all-padding sequence (an empty text) pools to zeros.
        return ops.where(ops.any(valid, axis=1), pooled, 0.0)

    def compute_mask(self, inputs, mask=None):
        return None


@keras.saving.register_keras_serializable(package="rnn_suite")
class MaskedMeanPooling(layers.Layer):
    """Mean over the unmasked timesteps; zeros for an all-padding sequence,
    where Keras's average pooling would divide by zero."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        weights = _step_mask(inputs, mask)
        return ops.sum(inputs * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)

    def compute_mask(self, inputs, mask=None):
        return None


@keras.saving.register_keras_serializable(package="rnn_suite")
class AttentionPooling(layers.Layer):
    """Weighted average of timesteps with learned, masked softmax scores.

    score_t = v . tanh(W h_t); the weights also tell which words decided the
    output, which is why this head is worth its few extra parameters.
    """

    def __init__(self, attention_units: int = 64, **kwargs):
        super().__init__(**kwargs)
        self.attention_units = attention_units
        self.supports_masking = True
        self.project = layers.Dense(attention_units, activation="tanh", dtype=self.dtype_policy)
        self.score = layers.Dense(1, use_bias=False, dtype=self.dtype_policy)

    def call(self, inputs, mask=None):
        scores = self.score(self.project(inputs))
        weights = _step_mask(inputs, mask)
        scores = scores + (1.0 - weights) * masked_score(scores)
        attention = ops.softmax(scores, axis=1)
        return ops.sum(attention * inputs, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "attention_units": self.attention_units}


def summarize(inputs: keras.KerasTensor, pooling: str = "max", **encoder) -> keras.KerasTensor:
    """Runs `recurrent_stack(inputs, **encoder)` and pools it to `(batch, width)`.

    `last` keeps the final recurrent state (both directions' final states
    when bidirectional); the others pool the whole output sequence, and
    `max_mean` concatenates the max and the mean.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if pooling == "last":
        return recurrent_stack(inputs, return_sequences=False, **encoder)
    sequence = recurrent_stack(inputs, return_sequences=True, **encoder)
    if pooling == "attention":
        return AttentionPooling(name="attention_pooling")(sequence)
    pooled = []
    if "max" in pooling:
        pooled.append(MaskedMaxPooling(name="max_pooling")(sequence))
    if "mean" in pooling:
        pooled.append(MaskedMeanPooling(name="mean_pooling")(sequence))
    return pooled[0] if len(pooled) == 1 else layers.Concatenate(name="max_mean")(pooled)
