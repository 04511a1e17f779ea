"""Recurrent encoder stacks over `(batch, timesteps, features)` inputs.

Every task builds its trunk here, so a cell, a depth or a bidirectional flag
means the same thing in all five tasks. Variable-length batches are right
padded and carry a Keras mask, which keeps the fused cuDNN kernels usable on
a GPU (they accept right-padded masks only).
"""

import keras
import tensorflow as tf
from keras import layers, ops

from models.options import CELLS, RECURRENT_INITS

CELL_LAYERS = dict(zip(CELLS, (layers.SimpleRNN, layers.LSTM, layers.GRU), strict=True))


def token_embedding(
    token_ids: keras.KerasTensor, vocabulary_size: int, embedding_dim: int, name: str = "tokens"
) -> keras.KerasTensor:
    """Embeds right-padded token ids; id 0 is padding and becomes the mask."""
    return layers.Embedding(
        vocabulary_size, embedding_dim, mask_zero=True, name=f"{name}_embedding"
    )(token_ids)


def recurrent_stack(
    inputs: keras.KerasTensor,
    *,
    cell: str = "lstm",
    units: int = 64,
    depth: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    residual: bool = False,
    return_sequences: bool = True,
    name: str = "encoder",
    cell_options: dict | None = None,
) -> keras.KerasTensor:
    """Stacks `depth` recurrent layers; the last one decides `return_sequences`.

    `dropout` is applied to the input of every layer (not inside the cell, so
    the cuDNN kernel stays eligible). `recurrent_dropout` drops the state
    inside the cell, the same units at every step (Gal & Ghahramani 2016): a
    strong regulariser for small data, at the cost of the cuDNN kernel.
    `residual` adds each layer's input to
    its output wherever the widths match, which is every layer after the
    first; it helps deep stacks train. `cell_options` go to every Keras
    layer as they are (say `initialized`'s).
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
    if depth < 1 or units < 1:
        raise ValueError(f"depth and units must be positive, got depth={depth}, units={units}")
    x = inputs
    for index in range(depth):
        sequences = return_sequences or index < depth - 1
        if dropout:
            x = layers.Dropout(dropout, name=f"{name}_dropout_{index}")(x)
        rnn = CELL_LAYERS[cell](
            units,
            # A bidirectional layer's final states are read off its sequence
            # (`FinalStates`), so that it too runs without the mask's select.
            return_sequences=sequences or bidirectional,
            recurrent_dropout=recurrent_dropout,
            name=f"{name}_{cell}_{index}",
            **(cell_options or {}),
        )
        if bidirectional:
            rnn = RightPaddedBidirectional(rnn, name=f"{name}_bidirectional_{index}")
        output = rnn(x)
        if not sequences and bidirectional:
            output = FinalStates(name=f"{name}_final_states")(output)
        if residual and index > 0 and output.shape[-1] == x.shape[-1] and len(output.shape) == 3:
            output = layers.Add(name=f"{name}_residual_{index}")([x, output])
        x = output
    return x


@keras.saving.register_keras_serializable(package="rnn_suite")
class RightPaddedBidirectional(layers.Bidirectional):
    """Keras's `Bidirectional`, the same weights and the same outputs at the
    real steps of a right-padded, masked batch, without the mask's per-step
    select.

    Keras's masked loop chooses between the new and the old state at every
    step; on a CPU that costs 4-13 % of a step (docs/experiments/throughput.md).
    With right padding the forward direction needs no mask at the real steps,
    and the backward one needs none once its input is left padded, so that it
    reads the real steps first (one gather; that costs less than reversing
    each sequence within its length). The outputs at padded steps
    are left as they come (not zeros); the mask still says to ignore them.
    States, initial states and a last-step-only output keep Keras's own path.
    With no mask the layers also stay eligible for cuDNN on a GPU.
    """

    select_free = True  # False runs Keras's masked loop (the gradient probe needs it)

    def call(self, sequences, initial_state=None, mask=None, training=None):
        if (
            mask is None
            or initial_state is not None
            or self.return_state
            or not self.return_sequences
            or not self.select_free
        ):
            return super().call(sequences, initial_state, mask, training)
        lengths = ops.sum(ops.cast(mask, "int32"), axis=1)[:, None]
        steps = ops.arange(ops.shape(sequences)[1])[None]
        padding = ops.shape(sequences)[1] - lengths
        kwargs = {"training": training} if self.forward_layer._call_has_training_arg else {}
        forward = self.forward_layer(sequences, **kwargs)
        # The backward layer reads its input last step first; moved to the
        # end (left padded), the real steps are the first it reads.
        left_padded = ops.where(steps >= padding, steps - padding, lengths + padding - 1 - steps)
        backward = self.backward_layer(tf.gather(sequences, left_padded, batch_dims=1), **kwargs)
        # Its outputs come in reading order: the one for step t is at length - 1 - t.
        in_time_order = ops.where(steps < lengths, lengths - 1 - steps, steps)
        backward = tf.gather(backward, in_time_order, batch_dims=1)
        forward = ops.cast(forward, self.compute_dtype)
        backward = ops.cast(backward, self.compute_dtype)
        merge = {
            "concat": lambda: ops.concatenate([forward, backward], axis=-1),
            "sum": lambda: forward + backward,
            "ave": lambda: (forward + backward) / 2,
            "mul": lambda: forward * backward,
            None: lambda: (forward, backward),
        }
        return merge[self.merge_mode]()


@keras.saving.register_keras_serializable(package="rnn_suite")
class FinalStates(layers.Layer):
    """A concatenated bidirectional sequence's final states: the forward half
    at each sequence's last real step and the backward half at step 0, as
    Keras's `return_sequences=False` gives them (zeros for an empty sequence)."""

    def call(self, inputs, mask=None):
        half = inputs.shape[-1] // 2
        if mask is None:
            return ops.concatenate([inputs[:, -1, :half], inputs[:, 0, half:]], axis=-1)
        lengths = ops.sum(ops.cast(mask, "int32"), axis=1)
        last = ops.maximum(lengths - 1, 0)[:, None, None]
        forward = ops.take_along_axis(inputs[..., :half], last, axis=1)[:, 0]
        ends = ops.concatenate([forward, inputs[:, 0, half:]], axis=-1)
        return ops.where((lengths > 0)[:, None], ends, ops.zeros_like(ends))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


def initialized(cell: str, init: str, longest: int) -> dict:
    """The layer arguments of a recurrent initialisation, the cures of
    vanishing and exploding gradients being compared (docs/experiments/memory.md):

    - orthogonal: Keras's defaults (orthogonal recurrent weights, Glorot
      input weights, an LSTM forget-gate bias of 1);
    - glorot: Glorot-uniform recurrent weights, which are not orthogonal:
      the uncured reference;
    - irnn: a ReLU SimpleRNN whose recurrent weights start as the identity
      (Le et al. 2015);
    - chrono: LSTM and GRU gate biases drawn so that the units remember
      over 1 to `longest` steps (Tallec & Ollivier 2018).
    """
    if init not in RECURRENT_INITS:
        raise ValueError(f"init must be one of {RECURRENT_INITS}, got {init!r}")
    if init == "glorot":
        return {"recurrent_initializer": "glorot_uniform"}
    if init == "irnn":
        if cell != "simple":
            raise ValueError("the irnn initialisation is for --cell simple (a ReLU SimpleRNN)")
        return {"activation": "relu", "recurrent_initializer": "identity"}
    if init == "chrono":
        if cell == "simple":
            raise ValueError("the chrono initialisation sets gate biases: --cell lstm or gru")
        options = {"bias_initializer": ChronoBias(cell, longest)}
        return options | ({"unit_forget_bias": False} if cell == "lstm" else {})
    return {}


class ChronoBias(keras.initializers.Initializer):
    """Chrono initialisation: a unit that should remember for about T steps
    gets a keep-gate bias of log(T), T uniform on [1, longest - 1]; the
    LSTM's input gate gets minus that (Tallec & Ollivier 2018, eq. 16). In
    Keras's GRU the update gate keeps the old state, so it takes log(T)."""

    def __init__(self, cell: str, longest: int):
        self.cell, self.longest = cell, longest
        self.draw = keras.initializers.RandomUniform(1.0, max(longest - 1.0, 1.0 + 1e-6))

    def __call__(self, shape, dtype=None):
        gates = 4 if self.cell == "lstm" else 3
        units = shape[-1] // gates
        keep = ops.log(self.draw((units,), dtype=dtype))
        rest = ops.zeros((units * (gates - 2),), dtype=dtype)
        if self.cell == "lstm":  # gates i, f, c, o
            return ops.concatenate([-keep, keep, rest])
        row = ops.concatenate([keep, ops.zeros((units,), dtype=dtype), rest])  # z, r, h
        return ops.stack([row, ops.zeros_like(row)]) if len(shape) == 2 else row

    def get_config(self) -> dict:
        return {"cell": self.cell, "longest": self.longest}
