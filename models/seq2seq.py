"""Encoder-decoder (many-to-many, unaligned): a bidirectional recurrent encoder
and a recurrent decoder that attends to it.

`sequence_to_sequence` builds the training model, a functional Keras model
`{"source", "target"} -> logits` with teacher forcing; its layers `encoder`
(a model: source ids -> memory, mask, initial decoder state) and `decoder`
(an `AttentionDecoder`, whose `step` advances one token) are what graph
decoding (`models.decoding`) drives at inference time. Id 0 is padding.
"""

import keras
import tensorflow as tf
from keras import layers, ops

from models.attention import attention_layer
from models.decoding import beam_search, greedy_search, tile_beams
from models.heads import MaskedMeanPooling
from models.options import CELLS, DECODER_CELLS
from models.recurrent import recurrent_stack, token_embedding

DECODER_CELL_LAYERS = dict(zip(DECODER_CELLS, (layers.GRUCell, layers.LSTMCell), strict=True))


def bidirectional_encoder(
    vocabulary_size: int,
    embedding_dim: int,
    units: int,
    decoder_units: int,
    *,
    cell: str = "gru",
    depth: int = 1,
    dropout: float = 0.0,
    name: str = "encoder",
) -> keras.Model:
    """Source ids -> {"memory": (batch, source, 2 units), "mask", "state"}.

    `state` starts the decoder: a tanh layer over the mean of the memory's
    real (unmasked) steps, as in Bahdanau et al. (2015) and Nematus.
    """
    source = keras.Input((None,), dtype="int32", name="source_ids")
    embedded = token_embedding(source, vocabulary_size, embedding_dim, "source")
    memory = recurrent_stack(
        embedded,
        cell=cell,
        units=units,
        depth=depth,
        bidirectional=True,
        dropout=dropout,
        name=f"{name}_stack",
    )
    summary = MaskedMeanPooling(name="memory_mean")(memory)
    state = layers.Dense(decoder_units, activation="tanh", name="initial_state")(summary)
    mask = layers.Lambda(lambda ids: ops.not_equal(ids, 0), name="source_mask")(source)
    return keras.Model(source, {"memory": memory, "mask": mask, "state": state}, name=name)


@keras.saving.register_keras_serializable(package="rnn_suite")
class AttentionDecoder(layers.Layer):
    """Recurrent decoder with attention and input feeding (Luong et al. 2015).

    Step t reads the previous token and the previous attentional vector,
    updates the cell, attends to the memory with the new state, and mixes
    context and state into the attentional vector a~_t = tanh(W [c_t; h_t]),
    which predicts the token. Feeding a~_t back in lets each step know what
    the last one attended to. The output projection runs once over all steps.
    """

    def __init__(
        self,
        vocabulary_size: int,
        embedding_dim: int,
        units: int,
        cell: str = "gru",
        attention: str = "bahdanau",
        dropout: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if cell not in DECODER_CELLS:
            raise ValueError(f"decoder cell must be one of {DECODER_CELLS}, got {cell!r}")
        self.vocabulary_size, self.embedding_dim, self.units = vocabulary_size, embedding_dim, units
        self.cell_name, self.attention_name, self.dropout = cell, attention, dropout
        self.embedding = layers.Embedding(vocabulary_size, embedding_dim, name="target_embedding")
        self.cell = DECODER_CELL_LAYERS[cell](units, name=f"decoder_{cell}")
        self.attention = attention_layer(attention, units)
        self.mix = layers.Dense(units, activation="tanh", use_bias=False, name="attentional")
        self.input_dropout = layers.Dropout(dropout)
        self.output_dropout = layers.Dropout(dropout)
        self.projection = layers.Dense(vocabulary_size, name="logits", dtype="float32")

    def build(self, target_ids_shape, memory_shape, memory_mask_shape, initial_state_shape):
        # Built here, outside the decoding loop, where variables may be created.
        self.embedding.build(target_ids_shape)
        self.cell.build((None, self.embedding_dim + self.units))
        self.attention.build((None, self.units), memory_shape)
        self.mix.build((None, memory_shape[-1] + self.units))
        self.projection.build((None, self.units))
        self.built = True

    def start(self, initial_state) -> dict:
        """The loop state before the first token: cell state and a~_0 = 0."""
        cell = [initial_state] if self.cell_name == "gru" else [initial_state] * 2
        return {"cell": cell, "feed": ops.zeros_like(initial_state)}

    def _advance(self, embedded, state, memory, keys, memory_mask):
        """One step on an embedded token -> (a~_t, new state, attention weights)."""
        hidden, cell = self.cell(ops.concatenate([embedded, state["feed"]], -1), state["cell"])
        context, weights = self.attention(hidden, keys, memory, memory_mask)
        attentional = self.mix(ops.concatenate([context, hidden], -1))
        return attentional, {"cell": list(cell), "feed": attentional}, weights

    def step(self, token_ids, state: dict, memory, keys, memory_mask):
        """Inference: previous tokens (batch,) -> logits (batch, vocab), state, weights."""
        embedded = self.embedding(token_ids)
        attentional, state, weights = self._advance(embedded, state, memory, keys, memory_mask)
        return self.projection(attentional), state, weights

    def teacher_forced(self, target_ids, memory, memory_mask, initial_state, training=False):
        """Logits (batch, steps, vocab) and attention weights (batch, steps, source)
        when step t reads the true token t (decoder input = START + target)."""
        keys = self.attention.keys(memory)
        embedded = self.input_dropout(self.embedding(target_ids), training=training)
        source_length = ops.shape(memory)[1]

        def advance(carry, embedded_t):
            attentional, state, weights = self._advance(
                embedded_t, carry["state"], memory, keys, memory_mask
            )
            return {"state": state, "attentional": attentional, "weights": weights}

        first = {
            "state": self.start(initial_state),
            "attentional": ops.zeros_like(initial_state),
            "weights": tf.zeros(tf.stack([tf.shape(memory)[0], source_length]), self.compute_dtype),
        }
        steps = tf.scan(advance, tf.transpose(embedded, [1, 0, 2]), initializer=first)
        attentional = tf.transpose(steps["attentional"], [1, 0, 2])
        logits = self.projection(self.output_dropout(attentional, training=training))
        weights = tf.cast(tf.transpose(steps["weights"], [1, 0, 2]), tf.float32)  # mixed precision
        return logits, weights

    def call(self, target_ids, memory, memory_mask, initial_state, training=False):
        return self.teacher_forced(target_ids, memory, memory_mask, initial_state, training)[0]

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "cell": self.cell_name,
            "attention": self.attention_name,
            "dropout": self.dropout,
        }


def sequence_to_sequence(
    source_vocabulary_size: int,
    target_vocabulary_size: int,
    *,
    embedding_dim: int = 256,
    encoder_units: int = 256,
    decoder_units: int = 512,
    cell: str = "gru",
    encoder_depth: int = 1,
    attention: str = "bahdanau",
    dropout: float = 0.3,
    name: str = "sequence_to_sequence",
) -> keras.Model:
    """`{"source": ids, "target": START + target ids} -> next-token logits`."""
    if cell not in CELLS or cell not in DECODER_CELLS:
        raise ValueError(f"cell must be one of {DECODER_CELLS}, got {cell!r}")
    source = keras.Input((None,), dtype="int32", name="source")
    target = keras.Input((None,), dtype="int32", name="target")
    encoded = bidirectional_encoder(
        source_vocabulary_size,
        embedding_dim,
        encoder_units,
        decoder_units,
        cell=cell,
        depth=encoder_depth,
        dropout=dropout,
    )(source)
    decoder = AttentionDecoder(
        target_vocabulary_size,
        embedding_dim,
        decoder_units,
        cell=cell,
        attention=attention,
        dropout=dropout,
        name="decoder",
    )
    logits = decoder(target, encoded["memory"], encoded["mask"], encoded["state"])
    return keras.Model({"source": source, "target": target}, logits, name=name)


def generate(
    model: keras.Model,
    source_ids,
    beam_width,
    max_lengths,
    *,
    start_id: int,
    end_id: int,
    alpha=0.0,
    banned: tuple[int, ...] = (),
):
    """Decodes `source_ids (batch, source)` with a `sequence_to_sequence` model.

    Beam width 1 is greedy search; wider beams keep the best hypothesis.
    Returns tokens (batch, length), ending with END then padding, and their
    scores. `banned` tokens (padding, START, unknown) are never produced.
    """
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    encoded = encoder(source_ids, training=False)
    banned_mask = tf.reduce_any(
        tf.equal(tf.range(decoder.vocabulary_size)[:, None], tf.constant(banned or (-1,))), -1
    )

    def searcher(beam):
        memory, mask = tile_beams((encoded["memory"], encoded["mask"]), beam)
        keys = decoder.attention.keys(memory)

        def step(ids, state):
            logits, state, _ = decoder.step(ids, state, memory, keys, mask)
            log_probs = tf.nn.log_softmax(logits)
            return tf.where(banned_mask, float("-inf"), log_probs), state

        return step, tile_beams(decoder.start(encoded["state"]), beam)

    def greedy():
        step, state = searcher(1)
        return greedy_search(step, state, start_id, end_id, max_lengths)

    def beam():
        step, state = searcher(beam_width)
        tokens, scores = beam_search(step, state, beam_width, start_id, end_id, max_lengths, alpha)
        return tokens[:, 0], scores[:, 0]

    return tf.cond(tf.convert_to_tensor(beam_width) <= 1, greedy, beam)
