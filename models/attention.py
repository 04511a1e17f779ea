"""Attention over an encoded sequence (the "memory"), for decoders and taggers.

Both scorers split the work in two: `keys(memory)` projects the memory once
per sequence, and `call(query, keys, memory, memory_mask)` scores one query
per example, `(batch, width)`, or a sequence of them, `(batch, steps, width)`,
against it. A decoder step then costs one small product, not a projection
of the whole source. Masked (padding) positions get zero weight.
"""

import keras
from keras import layers, ops

from models.options import ATTENTIONS


def masked_score(scores) -> float:
    """A score that softmax turns into a zero weight, finite in the scores'
    dtype: -1e9 is -inf in float16, and -inf times a zero mask is NaN."""
    return -3e4 if keras.backend.standardize_dtype(scores.dtype) == "float16" else -1e9


def attend(scores, memory, memory_mask):
    """Masked softmax over `scores (batch, steps, source)` and the weighted memory.

    Returns the context `(batch, steps, memory width)` and the weights.
    """
    valid = ops.expand_dims(ops.cast(memory_mask, "bool"), 1)
    scores = ops.where(valid, scores, ops.full_like(scores, masked_score(scores)))
    weights = ops.softmax(scores, axis=-1)
    return ops.matmul(weights, memory), weights


class _Attention(layers.Layer):
    """Shared shape handling: a rank-2 query is one step of a rank-3 one."""

    def call(self, query, keys, memory, memory_mask):
        single = len(query.shape) == 2
        if single:
            query = ops.expand_dims(query, 1)
        context, weights = attend(self.scores(query, keys), memory, memory_mask)
        if single:
            return context[:, 0], weights[:, 0]
        return context, weights


@keras.saving.register_keras_serializable(package="rnn_suite")
class BahdanauAttention(_Attention):
    """Additive attention (Bahdanau et al. 2015): v . tanh(W_k m_s + W_q q_t)."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.key_projection = layers.Dense(units, use_bias=False, name="keys")
        self.query_projection = layers.Dense(units, name="query")
        self.energy = layers.Dense(1, use_bias=False, name="energy")

    def build(self, query_shape, memory_shape):
        self.key_projection.build(memory_shape)
        self.query_projection.build(query_shape)
        self.energy.build((None, self.units))
        self.built = True

    def keys(self, memory):
        return self.key_projection(memory)

    def scores(self, query, keys):
        # (batch, steps, 1, units) + (batch, 1, source, units)
        hidden = ops.tanh(
            ops.expand_dims(self.query_projection(query), 2) + ops.expand_dims(keys, 1)
        )
        return ops.squeeze(self.energy(hidden), -1)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="rnn_suite")
class LuongAttention(_Attention):
    """Multiplicative "general" attention (Luong et al. 2015): q_t . W m_s."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.key_projection = layers.Dense(units, use_bias=False, name="keys")

    def build(self, query_shape, memory_shape):
        if query_shape[-1] != self.units:
            raise ValueError(f"LuongAttention({self.units}) needs queries of width {self.units}")
        self.key_projection.build(memory_shape)
        self.built = True

    def keys(self, memory):
        return self.key_projection(memory)

    def scores(self, query, keys):
        return ops.einsum("btu,bsu->bts", query, keys)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def attention_layer(kind: str, units: int, name: str = "attention") -> _Attention:
    """`bahdanau` (additive) or `luong` (multiplicative, "general") attention."""
    if kind not in ATTENTIONS:
        raise ValueError(f"attention must be one of {ATTENTIONS}, got {kind!r}")
    layer = BahdanauAttention if kind == "bahdanau" else LuongAttention
    return layer(units, name=name)
