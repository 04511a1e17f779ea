"""Distributions over one binary frame (88 piano keys), conditioned on a context.

A recurrent network over a piano roll gives one context vector per frame;
these heads turn it into the probability of the next frame:

- `IndependentKeys`: one sigmoid per key, the keys independent given the
  context (the classic baseline; it cannot say "C or C#, not both");
- `Nade`: the keys of a frame modelled jointly, autoregressively from low to
  high pitch, as in the RNN-NADE of Boulanger-Lewandowski et al. (2012): the
  context sets the NADE's biases, and key `i` is predicted from the keys
  below it through a shared hidden layer (Larochelle & Murray 2011).

Both give the exact log-likelihood of a frame (what training minimises and
the benchmark scores) and sample frames from uniform noise passed in, so the
caller decides how randomness is seeded (stateless ops in the exports).
"""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="rnn_suite")
class PreviousFrames(layers.Layer):
    """Teacher forcing: step `t` reads frame `t - 1`; the first step reads silence."""

    def call(self, frames):
        return ops.pad(frames, [[0, 0], [1, 0], [0, 0]])[:, :-1]


def _constant(values: list | None):
    """Starting biases: a key's log-odds of sounding (say its training
    frequency's) spares the first epochs learning that most keys are silent."""
    return "zeros" if values is None else keras.initializers.Constant(values)


def bernoulli_log_likelihood(frames, logits):
    """log p(frames) summed over keys, from logits, without overflow."""
    return ops.sum(frames * logits - ops.softplus(logits), axis=-1)


@keras.saving.register_keras_serializable(package="rnn_suite")
class IndependentKeys(layers.Layer):
    """p(frame | context) = prod_k sigmoid(w_k . context + b_k)^v_k (1 - ...)^(1 - v_k).

    With `key_scores`, the last `keys` features of the context are one score
    per key (see models/keyboard.py), added to that key's logit as they are.
    """

    def __init__(
        self, keys: int = 88, key_bias: list | None = None, key_scores: bool = False, **kwargs
    ):
        super().__init__(**kwargs)
        self.keys, self.key_bias, self.key_scores = keys, key_bias, key_scores
        self.logits = layers.Dense(
            keys, bias_initializer=_constant(key_bias), name="logits", dtype=self.dtype_policy
        )

    def key_logits(self, context):
        if not self.key_scores:
            return self.logits(context)
        return self.logits(context[..., : -self.keys]) + context[..., -self.keys :]

    def call(self, context, frames):
        """Log-likelihood of each frame, shape `context.shape[:-1]`."""
        return bernoulli_log_likelihood(frames, self.key_logits(context))

    def sample(self, context, uniform, temperature=1.0):
        """One frame per context row; `uniform` is `(..., keys)` noise in [0, 1)."""
        context = ops.cast(context, self.compute_dtype)  # called directly: no autocast
        probability = ops.sigmoid(self.key_logits(context) / temperature)
        return ops.cast(uniform < probability, context.dtype)

    def key_probability(self, context, uniform):
        """Each key's marginal probability (exact here; `uniform` is unused)."""
        return ops.sigmoid(self.key_logits(context))

    def get_config(self):
        return {
            **super().get_config(),
            "keys": self.keys,
            "key_bias": self.key_bias,
            "key_scores": self.key_scores,
        }


@keras.saving.register_keras_serializable(package="rnn_suite")
class Nade(layers.Layer):
    """p(frame | context) = prod_i p(v_i | v_<i, context), keys low to high.

    h_i = sigmoid(b + W_<i v_<i),  p(v_i = 1 | v_<i) = sigmoid(c_i + V_i . h_i),
    with the biases `b` (hidden) and `c` (keys) computed from the context and
    `W`, `V` shared by every frame.
    """

    def __init__(
        self, hidden_units: int = 150, keys: int = 88, key_bias: list | None = None, **kwargs
    ):
        super().__init__(**kwargs)
        self.hidden_units, self.keys, self.key_bias = hidden_units, keys, key_bias
        initial = None if key_bias is None else [0.0] * hidden_units + list(key_bias)
        self.biases = layers.Dense(
            hidden_units + keys,
            bias_initializer=_constant(initial),
            name="biases",
            dtype=self.dtype_policy,
        )

    def build(self, context_shape, frames_shape=None):
        self.biases.build(context_shape)
        shape = (self.keys, self.hidden_units)
        self.input_weights = self.add_weight(shape, "glorot_uniform", name="input_weights")
        self.output_weights = self.add_weight(shape, "glorot_uniform", name="output_weights")

    def _biases(self, context):
        biases = self.biases(context)
        return biases[..., : self.hidden_units], biases[..., self.hidden_units :]

    def conditional_logits(self, context, frames):
        """logit p(v_i = 1 | v_<i, context) for every key of every frame at once."""
        hidden_bias, key_bias = self._biases(context)
        # Each key's contribution to the hidden layer; the running sum of the
        # contributions of the keys below `i` (exclusive) feeds key `i`.
        contributions = ops.expand_dims(frames, -1) * self.input_weights
        below = ops.cumsum(contributions, axis=-2) - contributions
        hidden = ops.sigmoid(ops.expand_dims(hidden_bias, -2) + below)
        return key_bias + ops.sum(hidden * self.output_weights, axis=-1)

    def call(self, context, frames):
        """Log-likelihood of each frame, shape `context.shape[:-1]`."""
        return bernoulli_log_likelihood(frames, self.conditional_logits(context, frames))

    def sample(self, context, uniform, temperature=1.0):
        """Ancestral sampling, key by key; `uniform` is `(batch, keys)` noise in [0, 1)."""
        context = ops.cast(context, self.compute_dtype)  # called directly: no autocast
        hidden_input, key_bias = self._biases(context)
        identity = ops.eye(self.keys, dtype=context.dtype)

        def next_key(key, carry):
            hidden_input, frame = carry
            hidden = ops.sigmoid(hidden_input)
            weights = ops.take(self.output_weights, key, axis=0)
            logit = ops.take(key_bias, key, axis=1) + ops.sum(hidden * weights, axis=-1)
            on = ops.take(uniform, key, axis=1) < ops.sigmoid(logit / temperature)
            value = ops.expand_dims(ops.cast(on, context.dtype), -1)
            hidden_input = hidden_input + value * ops.take(self.input_weights, key, axis=0)
            return hidden_input, frame + value * ops.take(identity, key, axis=0)

        frame = ops.zeros_like(key_bias)
        return ops.fori_loop(0, self.keys, next_key, (hidden_input, frame))[1]

    def key_probability(self, context, uniform):
        """Each key's marginal probability, estimated from `uniform.shape[0]` samples.

        `context` is `(batch, units)` and `uniform` `(samples, batch, keys)`.
        """
        samples, batch = ops.shape(uniform)[0], ops.shape(context)[0]
        tiled = ops.reshape(
            ops.broadcast_to(context, (samples, batch, ops.shape(context)[-1])),
            (samples * batch, -1),
        )
        frames = self.sample(tiled, ops.reshape(uniform, (samples * batch, self.keys)))
        return ops.mean(ops.reshape(frames, (samples, batch, self.keys)), axis=0)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_units": self.hidden_units,
            "keys": self.keys,
            "key_bias": self.key_bias,
        }
