"""Forecasters: a lookback window `(batch, lookback, channels)` -> `(batch, horizon, channels)`.

Two direct multi-horizon models (the whole horizon comes out at once, no
step-by-step feedback of their own errors):

- `recurrent_forecaster`, the tutorial-level reference: a recurrent stack
  reads the window point by point, and a dense layer maps its last state to
  every future step of every channel;
- `segment_recurrent_forecaster`, in the spirit of SegRNN (Lin et al. 2023):
  each channel on its own (channel independence: the channels are samples
  sharing one set of weights), its lookback cut into segments that are
  embedded and read by a GRU, and every future segment decoded in parallel
  from the final state, steered by a position and a channel embedding.

Both can normalise each window by itself (`last` value or `revin`: reversible
instance normalisation, mean and deviation, without the affine part) and
undo it on the forecast, so a level shift between train and test years does
not reach the network.
"""

import keras
from keras import layers, ops

from models.options import INITIALIZATIONS, NORMALIZATIONS, require_whole_segments
from models.recurrent import CELL_LAYERS, recurrent_stack


def _uniform_fan_in(fan_in: int, initialization: str, *names: str) -> dict:
    """Initializer keyword arguments for the layer weights `names`: none for
    Keras's defaults; for PyTorch's, U(+-1/sqrt(fan_in)), a fresh initializer
    per weight (an unseeded one repeats its draw)."""
    if initialization not in INITIALIZATIONS:
        raise ValueError(f"initialization must be one of {INITIALIZATIONS}, got {initialization!r}")
    if initialization == "keras":
        return {}
    limit = fan_in**-0.5
    return {name: keras.initializers.RandomUniform(-limit, limit) for name in names}


def normalize(window, normalization: str):
    """`(normalized window, shift, scale)`, statistics per window and channel."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    if normalization == "none":
        return window, None, None
    if normalization == "last":
        shift = ops.stop_gradient(window[:, -1:, :])
        return window - shift, shift, None
    shift = ops.stop_gradient(ops.mean(window, axis=1, keepdims=True))
    scale = ops.stop_gradient(ops.sqrt(ops.var(window, axis=1, keepdims=True) + 1e-5))
    return (window - shift) / scale, shift, scale


def denormalize(forecast, shift, scale):
    """Undoes `normalize` on the forecast."""
    if scale is not None:
        forecast = forecast * scale
    return forecast if shift is None else forecast + shift


def recurrent_forecaster(
    lookback: int,
    channels: int,
    horizon: int,
    *,
    cell: str = "gru",
    units: int = 64,
    depth: int = 1,
    dropout: float = 0.0,
    normalization: str = "none",
    name: str = "recurrent_forecaster",
) -> keras.Model:
    """A recurrent encoder over all channels per timestep, then one dense
    layer for all `horizon x channels` outputs."""
    window = keras.Input((lookback, channels), name="window")
    x, shift, scale = normalize(window, normalization)
    state = recurrent_stack(
        x, cell=cell, units=units, depth=depth, dropout=dropout, return_sequences=False
    )
    if dropout:
        state = layers.Dropout(dropout, name="head_dropout")(state)
    flat = layers.Dense(horizon * channels, name="forecast", dtype="float32")(state)
    forecast = ops.reshape(flat, (-1, horizon, channels))
    return keras.Model(window, denormalize(forecast, shift, scale), name=name)


def segment_recurrent_forecaster(
    lookback: int,
    channels: int,
    horizon: int,
    *,
    segment_length: int = 48,
    units: int = 512,
    dropout: float = 0.5,
    normalization: str = "last",
    channel_embedding: bool = True,
    initialization: str = "keras",
    name: str = "segment_recurrent_forecaster",
) -> keras.Model:
    """SegRNN-style: segment-wise GRU encoding, parallel multi-step decoding.

    `lookback` and `horizon` must be multiples of `segment_length`. The
    decoder reuses the encoder's GRU (one step from its final state per
    future segment), as SegRNN does. `initialization="pytorch"` draws the
    dense and GRU weights as SegRNN's PyTorch layers do by default.
    """
    require_whole_segments(lookback, horizon, segment_length)
    if units % 2 and channel_embedding:
        raise ValueError(f"units must be even to hold position and channel halves, got {units}")
    window = keras.Input((lookback, channels), name="window")
    x, shift, scale = normalize(window, normalization)
    # Channel independence: (batch, lookback, channels) -> (batch * channels,
    # segments, segment_length); every channel is a sample of its own.
    segments = ops.reshape(
        ops.transpose(x, (0, 2, 1)), (-1, lookback // segment_length, segment_length)
    )
    dense = ("kernel_initializer", "bias_initializer")
    embedded = layers.Dense(
        units,
        activation="relu",
        name="segment_embedding",
        **_uniform_fan_in(segment_length, initialization, *dense),
    )(segments)
    hidden = SegmentRecurrence(
        units,
        horizon // segment_length,
        channels,
        channel_embedding,
        initialization,
        name="segment_recurrence",
    )(embedded)
    hidden = layers.Dropout(dropout, name="decoder_dropout")(hidden)
    values = layers.Dense(
        segment_length,
        name="segment_projection",
        dtype="float32",
        **_uniform_fan_in(units, initialization, *dense),
    )(hidden)
    forecast = ops.transpose(ops.reshape(values, (-1, channels, horizon)), (0, 2, 1))
    return keras.Model(window, denormalize(forecast, shift, scale), name=name)


@keras.saving.register_keras_serializable(package="rnn_suite")
class SegmentRecurrence(layers.Layer):
    """A GRU reads the embedded segments; the same GRU then decodes every
    future segment at once: one step from its final state, fed that
    segment's position embedding (beside the channel's embedding, when
    `channel_embedding`).

    `(batch * channels, segments in, units)` -> `(batch * channels, segments
    out, units)`. A decoding step's input part depends only on (channel,
    segment) and its recurrent part only on the state, so each is computed
    once and the two are broadcast together: the numbers of running the GRU
    on `batch * channels * segments` one-step sequences, without repeating
    the recurrent matrix product for every segment.
    """

    def __init__(
        self,
        units: int,
        segments: int,
        channels: int,
        channel_embedding: bool = True,
        initialization: str = "keras",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units, self.segments, self.channels = units, segments, channels
        self.channel_embedding, self.initialization = channel_embedding, initialization
        weights = ("kernel_initializer", "recurrent_initializer", "bias_initializer")
        # PyTorch's GRU scales every weight by its hidden size.
        self.gru = CELL_LAYERS["gru"](
            units, name="gru", **_uniform_fan_in(units, initialization, *weights)
        )

    def build(self, input_shape):
        self.gru.build(input_shape)
        half = self.units // 2 if self.channel_embedding else self.units
        # Standard normal, as SegRNN's; a fresh initializer each, or the
        # channel embedding would start as a copy of the first positions.
        normal = keras.initializers.RandomNormal
        self.position = self.add_weight((self.segments, half), normal(stddev=1.0), name="position")
        if self.channel_embedding:
            shape = (self.channels, self.units - half)
            self.channel = self.add_weight(shape, normal(stddev=1.0), name="channel")

    def call(self, segments, training=None):
        return self.decode(self.gru(segments, training=training))

    def decode(self, state):
        """`(batch * channels, units)` final states -> every future segment's state."""
        cell, units = self.gru.cell, self.units
        # (channels, segments, units): what each (channel, segment) step reads.
        steps = ops.tile(self.position[None], (self.channels, 1, 1))
        if self.channel_embedding:
            channel = ops.tile(self.channel[:, None], (1, self.segments, 1))
            steps = ops.concatenate([steps, channel], axis=-1)
        # Keras's GRU (reset_after): gates z, r, h; input and recurrent biases.
        from_input = (ops.matmul(steps, cell.kernel) + cell.bias[0])[None]
        from_state = ops.matmul(state, cell.recurrent_kernel) + cell.bias[1]
        # (batch, channels, 1, 3 units) beside (1, channels, segments, 3 units).
        from_state = ops.reshape(from_state, (-1, self.channels, 1, 3 * units))
        update = ops.sigmoid(from_input[..., :units] + from_state[..., :units])
        reset = ops.sigmoid(from_input[..., units : 2 * units] + from_state[..., units : 2 * units])
        candidate = ops.tanh(from_input[..., 2 * units :] + reset * from_state[..., 2 * units :])
        previous = ops.reshape(state, (-1, self.channels, 1, units))
        hidden = update * previous + (1.0 - update) * candidate
        return ops.reshape(hidden, (-1, self.segments, units))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.segments, self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "segments": self.segments,
            "channels": self.channels,
            "channel_embedding": self.channel_embedding,
            "initialization": self.initialization,
        }
