"""Recurrent encoder stacks over `(batch, timesteps, features)` inputs.

Every task builds its trunk here, so a cell, a depth or a bidirectional flag
means the same thing in all five tasks. Variable-length batches are right
padded and carry a Keras mask, which keeps the fused cuDNN kernels usable on
a GPU (they accept right-padded masks only).
"""

import keras
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
        last = index == depth - 1
        if dropout:
            x = layers.Dropout(dropout, name=f"{name}_dropout_{index}")(x)
        rnn = CELL_LAYERS[cell](
            units,
            return_sequences=return_sequences or not last,
            recurrent_dropout=recurrent_dropout,
            name=f"{name}_{cell}_{index}",
            **(cell_options or {}),
        )
        if bidirectional:
            rnn = layers.Bidirectional(rnn, name=f"{name}_bidirectional_{index}")
        output = rnn(x)
        if residual and index > 0 and output.shape[-1] == x.shape[-1] and len(output.shape) == 3:
            output = layers.Add(name=f"{name}_residual_{index}")([x, output])
        x = output
    return x


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
