"""Language-model parts: a next-word softmax that trains on samples, and a
forward and a backward model sharing one embedding.

A full softmax over a 30,000-word vocabulary costs about seven times the
recurrent layer it sits on (docs/experiments/language_model.md). Training
therefore scores each real token against itself and `samples` words drawn
from a log-uniform (Zipf) distribution over the vocabulary, whose ids are in
frequency order, with the sampled-softmax correction (Jean et al. 2015);
evaluation uses the full softmax, so perplexity is exact. The draws come
from a Keras seed generator, a variable like the dropout layers' state, so
a resumed run draws what an uninterrupted one would.
"""

import keras
from keras import layers, ops

from models.losses import replica_share
from models.recurrent import CELL_LAYERS

# Steps scored at once by the full softmax: 2,048 x 30,000 logits are 245 MB.
SCORED_ROWS = 2048


@keras.saving.register_keras_serializable(package="rnn_suite")
class WordSoftmax(layers.Layer):
    """(hidden states, target ids) -> negative log-likelihood per step, 0 at
    padding (target id 0); `logits` gives the full distribution."""

    def __init__(
        self, vocabulary_size: int, samples: int = 1024, seed=None, tied_to=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.vocabulary_size, self.samples = vocabulary_size, samples
        self.seed_generator = keras.random.SeedGenerator(seed)
        # An Embedding whose matrix is also this softmax's (tied embeddings;
        # Press & Wolf 2017). Set past Keras's tracking: the matrix is the
        # embedding's weight, saved once, under it.
        object.__setattr__(self, "tied_to", tied_to)

    def build(self, hidden_shape, targets_shape=None):
        if self.tied_to is None:
            self.own_kernel = self.add_weight(
                (self.vocabulary_size, hidden_shape[-1]), "glorot_uniform", name="kernel"
            )
        self.bias = self.add_weight((self.vocabulary_size,), "zeros", name="bias")

    @property
    def kernel(self):
        """One row per word, as wide as the hidden states."""
        if self.tied_to is None:
            return self.own_kernel
        return ops.cast(self.tied_to.embeddings, self.compute_dtype)

    def logits(self, hidden):
        hidden = ops.cast(hidden, self.compute_dtype)
        return ops.matmul(hidden, ops.transpose(self.kernel)) + self.bias

    def call(self, hidden, targets, training=False, mask=None):
        # Padding is known from the targets (id 0), so the mask is not needed.
        targets = ops.cast(targets, "int32")
        real = ops.cast(ops.not_equal(targets, 0), "float32")
        hidden = ops.cast(hidden, "float32")
        if training and self.samples < self.vocabulary_size:
            nll = self._sampled_nll(hidden, targets)
        else:
            nll = self._full_nll(hidden, targets)
        return nll * real

    def _full_nll(self, hidden, targets):
        """-log softmax of each true word over the whole vocabulary, taken
        `SCORED_ROWS` steps at a time: a batch of long documents' logits at
        once (128 reviews x 418 words x 30,000 words: 6.4 GB) do not fit."""
        width, rows = hidden.shape[-1], SCORED_ROWS
        hidden, ids = ops.reshape(hidden, (-1, width)), ops.reshape(targets, (-1,))
        steps = ops.shape(ids)[0]
        padding = (rows - steps % rows) % rows
        hidden = ops.reshape(ops.pad(hidden, [[0, padding], [0, 0]]), (-1, rows, width))
        ids = ops.reshape(ops.pad(ids, [[0, padding]]), (-1, rows))

        def chunk_nll(chunk):
            log_probabilities = ops.log_softmax(self.logits(chunk[0]))
            return -ops.take_along_axis(log_probabilities, chunk[1][:, None], axis=-1)[:, 0]

        nll = ops.reshape(ops.map(chunk_nll, (hidden, ids)), (-1,))[:steps]
        return ops.reshape(nll, ops.shape(targets))

    def _sampled_nll(self, hidden, targets):
        """-log softmax of the true word among it and the drawn words, each
        logit lowered by the log of its expected count among the draws."""
        size = float(self.vocabulary_size)
        uniform = keras.random.uniform((self.samples,), seed=self.seed_generator)
        drawn = ops.cast(ops.exp(uniform * ops.log(size + 1.0)), "int32") - 1
        drawn = ops.clip(drawn, 0, self.vocabulary_size - 1)

        def log_expected(ids):
            ids = ops.cast(ids, "float32")
            probability = (ops.log(ids + 2.0) - ops.log(ids + 1.0)) / ops.log(size + 1.0)
            return ops.log(self.samples * probability)

        true_logit = ops.sum(hidden * ops.take(self.kernel, targets, axis=0), -1)
        true_logit = true_logit + ops.take(self.bias, targets) - log_expected(targets)
        drawn_logits = ops.matmul(hidden, ops.transpose(ops.take(self.kernel, drawn, axis=0)))
        drawn_logits = drawn_logits + ops.take(self.bias, drawn) - log_expected(drawn)
        # A draw of the true word itself is no negative example.
        hit = ops.equal(targets[..., None], drawn)
        drawn_logits = ops.where(hit, -1e9, drawn_logits)
        every = ops.concatenate([true_logit[..., None], drawn_logits], axis=-1)
        return -ops.log_softmax(every)[..., 0]

    def compute_output_shape(self, hidden_shape, targets_shape=None):
        return tuple(hidden_shape[:-1])

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self) -> dict:
        return super().get_config() | {
            "vocabulary_size": self.vocabulary_size,
            "samples": self.samples,
        }


@keras.saving.register_keras_serializable(package="rnn_suite")
class InTimeOrder(layers.Layer):
    """A backward layer's outputs, which Keras returns last step first, put
    back in the order of the input; the input's mask then fits them again."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, states):
        return ops.flip(states, axis=1)


def shifted(ids, by: int):
    """`ids` moved `by` steps left (the next word at each step, by=1) or right
    (the previous word, by=-1), padded with 0."""
    if by > 0:
        return ops.pad(ids[:, by:], [[0, 0], [0, by]])
    return ops.pad(ids[:, :by], [[0, 0], [-by, 0]])


def bidirectional_language_model(
    vocabulary_size: int,
    *,
    embedding_dim: int = 128,
    cell: str = "gru",
    units: int = 256,
    depth: int = 1,
    dropout: float = 0.0,
    samples: int = 1024,
    tie_embeddings: bool = False,
) -> keras.Model:
    """Word ids -> {"forward": NLL of each next word, "backward": NLL of each
    previous word}, per step. Two stacks of `depth` recurrent layers, one
    reading forward and one backward (`go_backwards`), share the embedding
    and the softmax; dropout on the embeddings, between layers and on the
    output. At depth 1 the pair maps onto a bidirectional encoder of the
    same cell and width (`encoder_forward_0` -> its forward layer,
    `encoder_backward_0` -> its backward one). `tie_embeddings` makes the
    softmax's word vectors the embedding's, reached from the states through
    a linear `to_embedding_width` layer."""
    ids = keras.Input((None,), dtype="int64", name="words")
    embedding = layers.Embedding(
        vocabulary_size, embedding_dim, mask_zero=True, name="words_embedding"
    )
    embedded = layers.Dropout(dropout, name="embedding_dropout")(embedding(ids))
    # Scored in float32 under mixed precision too: a bfloat16 softmax over
    # 30,000 words loses the small probabilities perplexity is made of.
    softmax = WordSoftmax(
        vocabulary_size,
        samples,
        tied_to=embedding if tie_embeddings else None,
        name="next_word",
        dtype="float32",
    )
    to_embedding_width = (
        layers.Dense(embedding_dim, use_bias=False, name="to_embedding_width")
        if tie_embeddings
        else layers.Identity(name="to_embedding_width")
    )
    outputs = {}
    for direction, by in (("forward", 1), ("backward", -1)):
        states = embedded
        for layer in range(depth):
            if layer:
                states = layers.Dropout(dropout, name=f"{direction}_dropout_{layer}")(states)
            states = CELL_LAYERS[cell](
                units,
                return_sequences=True,
                go_backwards=direction == "backward",
                name=f"encoder_{direction}_{layer}",
            )(states)
            if direction == "backward":
                states = InTimeOrder(name=f"in_time_order_{layer}")(states)
        states = layers.Dropout(dropout, name=f"{direction}_dropout")(states)
        nll = softmax(to_embedding_width(states), shifted(ids, by))
        outputs[direction] = layers.Identity(name=direction, dtype="float32")(nll)
    return keras.Model(ids, outputs, name="language_model")


def per_real_step(real, nll):
    """The loss: mean NLL over the real (target id != 0) steps of the batch."""
    real = ops.cast(real, "float32")
    return replica_share(ops.sum(real * nll) / ops.maximum(ops.sum(real), 1.0))


@keras.saving.register_keras_serializable(package="rnn_suite")
class WordNll(keras.metrics.Metric):
    """NLL per real step over a whole split (total / steps), whose exp is the
    corpus perplexity; Keras's own per-output loss figures for a model of
    two outputs are not (they came out 1.25x too low here)."""

    def __init__(self, name: str = "nll", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable((), initializer="zeros", name="total")
        self.steps = self.add_variable((), initializer="zeros", name="steps")

    def update_state(self, real, nll, sample_weight=None):
        real = ops.cast(real, "float32")
        self.total.assign_add(ops.sum(real * ops.cast(nll, "float32")))
        self.steps.assign_add(ops.sum(real))

    def result(self):
        return self.total / ops.maximum(self.steps, 1.0)
