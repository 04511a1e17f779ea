"""Recurrent encoder stacks over `(batch, timesteps, features)` inputs.

Every task builds its trunk here, so a cell, a depth or a bidirectional flag
means the same thing in all five tasks. Variable-length batches are right
padded and carry a Keras mask, which keeps the fused cuDNN kernels usable on
a GPU (they accept right-padded masks only).
"""

import keras
from keras import layers

from models.options import CELLS

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
) -> keras.KerasTensor:
    """Stacks `depth` recurrent layers; the last one decides `return_sequences`.

    `dropout` is applied to the input of every layer (not inside the cell, so
    the cuDNN kernel stays eligible). `recurrent_dropout` drops the state
    inside the cell, the same units at every step (Gal & Ghahramani 2016): a
    strong regulariser for small data, at the cost of the cuDNN kernel.
    `residual` adds each layer's input to
    its output wherever the widths match, which is every layer after the
    first; it helps deep stacks train.
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
        )
        if bidirectional:
            rnn = layers.Bidirectional(rnn, name=f"{name}_bidirectional_{index}")
        output = rnn(x)
        if residual and index > 0 and output.shape[-1] == x.shape[-1] and len(output.shape) == 3:
            output = layers.Add(name=f"{name}_residual_{index}")([x, output])
        x = output
    return x
