"""Subword vocabularies learned from training text, applied inside the graph.

A SentencePiece unigram model (Kudo 2018) is trained on the training split
only, with the `sentencepiece` package; `tensorflow_text` then runs the same
model as TensorFlow ops, so `tf.data` and the exported SavedModel tokenize
identically. SentencePiece keeps whitespace as a symbol (U+2581), which makes
detokenization exact: output comes back cased and with the original spacing,
as sacreBLEU expects. Loading an export that uses these ops needs
`import tensorflow_text` (it registers them), no code from this project.
"""

import base64
import hashlib
import io

import sentencepiece
import tensorflow as tf
import tensorflow_text
from tensorflow.python.trackable.resource import TrackableResource
from tensorflow_text.python.ops.sentencepiece_tokenizer import gen_sentencepiece_tokenizer

# Fixed ids, so that 0 is padding (and the Keras mask) in every vocabulary.
PAD, UNKNOWN, START, END = 0, 1, 2, 3


def learn_subwords(texts: list[str], vocabulary_size: int) -> bytes:
    """A serialized SentencePiece model of about `vocabulary_size` pieces.

    Empty lines are skipped; `hard_vocab_limit=False` lets a small corpus end
    up with fewer pieces instead of failing. All characters seen in training
    are kept (`character_coverage=1.0`): captions have few rare ones.
    """
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter([text for text in texts if text.strip()]),
        model_writer=model,
        vocab_size=vocabulary_size,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        pad_id=PAD,
        unk_id=UNKNOWN,
        bos_id=START,
        eos_id=END,
        num_threads=2,
        minloglevel=2,
    )
    return model.getvalue()


def encode_model(model: bytes) -> str:
    """The model as text, for the run's JSON state."""
    return base64.b64encode(model).decode("ascii")


def decode_model(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


class _NamedModel(TrackableResource):
    """The tokenizer's model resource, under a name derived from the model.

    tensorflow_text creates it unnamed, and a reloaded SavedModel then gives
    every tokenizer the first one's model (a source and a target vocabulary
    become one); a name per model keeps them apart.
    """

    def __init__(self, model: bytes):
        self._model = model
        self._shared_name = "sentencepiece_" + hashlib.sha256(model).hexdigest()[:20]
        super().__init__()
        _ = self.resource_handle  # creates the resource now, as tensorflow_text does

    def _create_resource(self):
        return gen_sentencepiece_tokenizer.sentencepiece_op(
            model=self._model, shared_name=self._shared_name
        )


class Subwords(tf.Module):
    """Texts <-> subword ids with one SentencePiece model, as graph ops."""

    def __init__(self, model: bytes):
        super().__init__()
        self.tokenizer = tensorflow_text.SentencepieceTokenizer(model=model)
        self.tokenizer._model_resource = _NamedModel(model)
        self.size = int(self.tokenizer.vocab_size())

    def tokenize(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """`(batch,)` strings -> ragged `(batch, pieces)` int32 ids, no START/END."""
        return self.tokenizer.tokenize(texts)

    def detokenize(self, ids: tf.Tensor) -> tf.Tensor:
        """`(batch, length)` ids -> `(batch,)` strings; stops at the first END.

        Padding, START and END are dropped, so a decoder's raw output, with
        whatever follows its END, can be passed as it is.
        """
        ids = tf.cast(ids, tf.int32)
        ended = tf.cumsum(tf.cast(ids == END, tf.int32), axis=1) > 0
        keep = ~ended & (ids != PAD) & (ids != START)
        return self.tokenizer.detokenize(tf.ragged.boolean_mask(ids, keep))

    def pieces(self, ids: tf.Tensor) -> tf.Tensor:
        """Ids -> their piece strings (for attention plots)."""
        return self.tokenizer.id_to_string(tf.cast(ids, tf.int32))
