"""Language model, many-to-many: each word from the words before it (and,
backwards, from the words after it).

Default data: IMDB's 50,000 unlabelled reviews and its 25,000 training
reviews, never its test reviews (the sentiment task scores on those);
validation and test are carved from them by document. Your own text:
`--dataset` a `.txt` file (documents separated by blank lines) or a folder
of `.txt` files (one document each).

Scores on test: perplexity per word of the forward model, and bits per
character (its total negative log-likelihood over the characters of the
text it predicts), which compares across tokenisations.
"""

import keras
import numpy as np
import tensorflow as tf

from core.export import Endpoint, Serving, predict
from core.task import Task
from data.documents import read_documents
from data.imdb import load_imdb
from data.pipeline import Examples, bucketed_batches
from data.text import START, WordBigramIds, standardize
from models.language import WordNll, bidirectional_language_model, per_real_step
from models.ngram import KneserNeyTrigram
from tasks.language_model.config import (
    GenerateOptions,
    LanguageModelConfig,
    LanguageModelTraining,
)


def real_targets(ids: tf.Tensor) -> dict:
    """The steps whose next (forward) or previous (backward) word is real."""
    real = tf.cast(tf.not_equal(ids, 0), tf.float32)
    following = tf.pad(real[:, 1:], [[0, 0], [0, 1]])
    preceding = tf.pad(real[:, :-1], [[0, 0], [1, 0]])
    return {"forward": real * following, "backward": real * preceding}


class LanguageModel(Task):
    """Language model: the next word from the words before it (IMDB's reviews, your text)."""

    name = "language_model"
    Config = LanguageModelConfig
    Training = LanguageModelTraining
    PredictOptions = GenerateOptions
    headline_metric = "perplexity"
    higher_is_better = False
    dataset_name = "IMDB reviews, unlabelled and training (tfds imdb_reviews/plain_text 1.0.0)"
    monitor = "val_forward_nll"  # exp of it: validation perplexity

    def load(self) -> dict:
        if self.data.dataset:
            documents = read_documents(self.data.dataset)
        else:
            splits = load_imdb(self.data.data_mirror or None, self.data.data_dir or None, True)
            documents = np.concatenate([splits["unsupervised"].inputs, splits["train"].inputs])
        return {"all": Examples(documents, np.zeros(len(documents), "int64"))}

    def adapt(self, train: Examples) -> None:
        self.restore({})
        words = tf.data.Dataset.from_tensor_slices(train.inputs.tolist()).batch(512)
        self.ids.lookups["words"].adapt(words.map(self.words))

    def state(self) -> dict:
        return self.ids.vocabularies()

    def restore(self, state: dict) -> None:
        self.ids = WordBigramIds(self.config.vocabulary_size, 0, state)

    @staticmethod
    def words(texts: tf.Tensor) -> tf.RaggedTensor:
        """Each text's words, after a start word (so an empty prompt has one)."""
        words = tf.strings.split(standardize(texts))
        return tf.concat([tf.fill(tf.stack([words.nrows(), 1]), START), words], axis=1)

    def word_ids(self, texts: tf.Tensor) -> tf.Tensor:
        return self.ids.lookups["words"](self.words(texts)).to_tensor()

    def token_sequences(self, texts: np.ndarray) -> list[np.ndarray]:
        """Each text's word ids, as the model reads them (start word first)."""
        batches = tf.data.Dataset.from_tensor_slices(texts.tolist()).batch(1024)
        lookup = self.ids.lookups["words"]
        return [np.asarray(row) for batch in batches for row in lookup(self.words(batch)).numpy()]

    def batches(self, examples: Examples, training: bool, epoch: int = 0) -> tf.data.Dataset:
        def featurize():
            texts = tf.data.Dataset.from_tensor_slices(examples.inputs.tolist())
            return texts.map(lambda text: (self.word_ids(text[None])[0], 0)).cache()

        batches = bucketed_batches(
            self.cached(examples, featurize),
            lambda ids, _: tf.shape(ids)[0],
            self.training.batch_size,
            training=training,
            seed=self.shuffle_seed(epoch),
        )
        return batches.map(lambda ids, _: (ids, real_targets(ids)))

    def build_model(self) -> keras.Model:
        config = self.config
        return bidirectional_language_model(
            self.ids.vocabulary_size("words"),
            embedding_dim=config.embedding_dim,
            cell=config.cell,
            units=config.units,
            depth=config.depth,
            dropout=config.dropout,
            samples=config.samples,
            tie_embeddings=config.tie_embeddings,
        )

    def compile_arguments(self) -> dict:
        return {
            "loss": {"forward": per_real_step, "backward": per_real_step},
            "metrics": {"forward": [WordNll()], "backward": [WordNll()]},
        }

    def serving(self, model: keras.Model) -> Serving:
        def score(texts):
            """Each text's total forward negative log-likelihood (nats), the
            words it predicts, and their characters."""
            ids = self.word_ids(texts)
            nll = model(ids, training=False)["forward"]
            predicted = real_targets(ids)["forward"]
            return {
                "nll": tf.reduce_sum(nll, axis=1),
                "words": tf.reduce_sum(predicted, axis=1),
            }

        vocabulary = tf.constant(self.ids.lookups["words"].get_vocabulary())
        embedding = model.get_layer("words_embedding")
        cells = [model.get_layer(f"encoder_forward_{i}").cell for i in range(self.config.depth)]
        to_embedding_width = model.get_layer("to_embedding_width")
        softmax = model.get_layer("next_word")

        def generate(prompts, length, temperature, top_k, seed):
            """Each prompt continued by `length` words, sampled at `temperature`
            among the `top_k` likeliest (0: all; temperature 0: the likeliest),
            drawn statelessly from `seed` and the step: a seed gives the same
            text in any process."""
            ids = self.word_ids(prompts)
            given = tf.reduce_sum(tf.cast(tf.not_equal(ids, 0), tf.int32), axis=1)
            steps = tf.shape(ids)[1] + length
            ids = tf.pad(ids, [[0, 0], [0, length]])
            batch = tf.shape(ids)[0]
            # Each layer's state: (h, c) for an LSTM, h for a GRU or SimpleRNN.
            states = [
                [
                    tf.zeros([batch, cell.units], cell.compute_dtype)
                    for _ in range(2 if "LSTM" in type(cell).__name__ else 1)
                ]
                for cell in cells
            ]

            def step(t, token_ids, states):
                # The embedding's rows themselves: the layer would attach a mask the cell refuses.
                hidden = tf.gather(embedding.embeddings, token_ids[:, t])
                following_states = []
                for cell, state in zip(cells, states, strict=True):
                    hidden, state = cell(hidden, state)
                    following_states.append(list(state))
                logits = softmax.logits(to_embedding_width(hidden))
                k = tf.where(top_k > 0, tf.minimum(top_k, tf.shape(logits)[1]), tf.shape(logits)[1])
                kth = tf.math.top_k(logits, k).values[:, -1:]
                logits = tf.where(logits < kth, -1e9, logits)
                drawn = tf.random.stateless_categorical(
                    logits / tf.maximum(temperature, 1e-6), 1, tf.stack([seed, t]), tf.int64
                )[:, 0]
                chosen = tf.where(temperature > 0, drawn, tf.argmax(logits, -1))
                # A prompt's own words are kept; after them, the chosen ones.
                following = tf.where(t + 1 < given, token_ids[:, t + 1], chosen)
                column = tf.one_hot(t + 1, tf.shape(token_ids)[1], dtype=tf.int64)
                token_ids = token_ids * (1 - column) + following[:, None] * column
                return t + 1, token_ids, following_states

            _, ids, _ = tf.while_loop(
                lambda t, *_: t < steps - 1, step, (tf.constant(0), ids, states)
            )
            positions = given[:, None] + tf.range(length)[None, :]
            words = tf.gather(vocabulary, tf.gather(ids, positions, batch_dims=1))
            return {"text": tf.strings.reduce_join(words, axis=1, separator=" ")}

        text = [tf.TensorSpec([None], tf.string, name="texts")]
        options = [
            tf.TensorSpec([None], tf.string, name="prompts"),
            tf.TensorSpec([], tf.int32, name="length"),
            tf.TensorSpec([], tf.float32, name="temperature"),
            tf.TensorSpec([], tf.int32, name="top_k"),
            tf.TensorSpec([], tf.int32, name="seed"),
        ]
        return Serving(
            {"score": Endpoint(score, text), "generate": Endpoint(generate, options)},
            [self.ids.lookups["words"]],
        )

    def predict(self, export, raw: list[str], options: GenerateOptions) -> list[dict]:
        """Each prompt continued by the export's `generate`."""
        outputs = export.generate(
            prompts=tf.constant(raw, tf.string),
            length=tf.constant(options.length, tf.int32),
            temperature=tf.constant(options.temperature, tf.float32),
            top_k=tf.constant(options.top_k, tf.int32),
            seed=tf.constant(options.sample_seed, tf.int32),
        )
        return [
            {"prompt": prompt, "continuation": text.decode("utf-8")}
            for prompt, text in zip(raw, outputs["text"].numpy(), strict=True)
        ]

    def test_outputs(self, export, examples: Examples) -> dict:
        return predict(export.score, examples.inputs)

    def score(self, outputs: dict, examples: Examples) -> dict:
        """Perplexity per predicted word; bits per character over the
        characters of the standardised words predicted, one space each."""
        nll, words = float(np.sum(outputs["nll"])), float(np.sum(outputs["words"]))
        standardized = standardize(tf.constant(examples.inputs.tolist())).numpy()
        predicted_characters = sum(len(" ".join(text.decode().split())) for text in standardized)
        return {
            "perplexity": float(np.exp(nll / words)),
            "bits_per_character": nll / np.log(2) / max(predicted_characters, 1),
            "words": int(words),
        }

    def baselines(self, splits) -> dict:
        """An interpolated Kneser-Ney trigram model of the same word ids,
        counted on the training documents, scored on the same test text."""
        trigram = KneserNeyTrigram(self.ids.vocabulary_size("words"))
        trigram.fit(self.token_sequences(splits.train.inputs))
        sequences = self.token_sequences(splits.test.inputs)
        log_probabilities = trigram.log_probabilities(sequences)
        words = np.array([max(len(sequence) - 1, 0) for sequence in sequences])
        document = np.repeat(np.arange(len(words)), words)
        nll = -np.bincount(document, weights=log_probabilities, minlength=len(words))
        outputs = {"nll": nll, "words": words}
        return {"kneser_ney_trigram": self.score(outputs, splits.test)}
