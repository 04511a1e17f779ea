"""Part-of-speech tagging, many-to-many aligned: a sentence's words -> one tag each.

Benchmark: UD English EWT 2.16, UPOS on gold tokenisation (every syntactic
word scored, as the CoNLL 2018 shared task counts it), EWT's own dev split
as validation, no pretrained embeddings. Words are read as a lower-cased
word vector plus a vector built from their characters, so unseen words are
tagged from their spelling.
"""

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from core.export import Endpoint, Serving
from core.task import Task, last_steps
from data.conllu import UPOS, as_examples, read_treebank
from data.errors import DataFormatError
from data.pipeline import Examples, bucketed_batches, featurized, word_count
from data.tokens import TokenIds
from data.ud import RELEASE, load_ewt
from models.characters import TokenDropout, character_features
from models.recurrent import recurrent_stack, token_embedding
from tasks.pos.config import PosConfig, PosTraining
from tasks.pos.tagging import (
    confusion_figure,
    flatten,
    most_frequent_tag,
    tag_sentences,
    tagging_scores,
    window_logistic_regression,
)


class PosTagging(Task):
    """Many-to-many, aligned: a sentence's words -> their part-of-speech tags."""

    name = "pos"
    Config = PosConfig
    Training = PosTraining
    # Accuracy on 25,000 validation words is steady enough to pick epochs by.
    monitor = "val_accuracy"
    monitor_mode = "max"
    dataset_name = f"UD English EWT {RELEASE} (gold tokens)"

    @property
    def headline_metric(self) -> str:
        return f"{self.config.tagset}_accuracy"

    def load(self) -> dict[str, Examples]:
        if self.data.dataset:
            return read_treebank(self.data.dataset, self.config.tagset)
        sentences = load_ewt(self.data.data_mirror or None, self.data.data_dir or None)
        return {split: as_examples(part, self.config.tagset) for split, part in sentences.items()}

    def adapt(self, train: Examples) -> None:
        tags = UPOS if self.config.tagset == "upos" else sorted(set(flatten(train.targets)))
        self.restore({"tags": list(tags), "training_forms": sorted(set(flatten(train.inputs)))})
        self.ids.adapt(train.inputs.tolist())

    def state(self) -> dict:
        return {
            "vocabularies": self.ids.vocabularies(),
            "tags": self.tags,
            "training_forms": sorted(self.training_forms),
        }

    def restore(self, state: dict) -> None:
        config = self.config
        self.ids = TokenIds(
            config.max_word_characters, config.min_word_count, state.get("vocabularies")
        )
        self.tags = state["tags"]
        # Words absent from these are out of vocabulary (OOV) for the metrics.
        self.training_forms = set(state["training_forms"])

    def in_run_terms(self, test: Examples) -> Examples:
        unseen = sorted(set(flatten(test.targets)) - set(self.tags))
        if unseen:
            raise DataFormatError(
                f"{self.data.dataset}: tags this run never learned: {', '.join(unseen)} "
                f"(it knows {', '.join(self.tags)})"
            )
        return test

    def batches(self, examples: Examples, training: bool, epoch: int = 0) -> tf.data.Dataset:
        def featurize():
            index = {tag: number for number, tag in enumerate(self.tags)}
            lengths = [len(tokens) for tokens in examples.inputs]
            # A tag unseen in training (possible for XPOS) counts as the first tag.
            tags = [index.get(tag, 0) for tag in flatten(examples.targets)]
            dataset = tf.data.Dataset.from_tensor_slices(
                (
                    tf.RaggedTensor.from_row_lengths(list(flatten(examples.inputs)), lengths),
                    tf.RaggedTensor.from_row_lengths(tf.constant(tags, tf.int64), lengths),
                )
            )
            return featurized(dataset, self.ids)

        return bucketed_batches(
            self.cached(examples, featurize),
            word_count,
            self.training.batch_size,
            training=training,
            seed=self.shuffle_seed(epoch),
        )

    def build_model(self) -> keras.Model:
        config = self.config
        words = keras.Input((None,), dtype="int64", name="words")
        characters = keras.Input((None, None), dtype="int64", name="characters")
        hidden = TokenDropout(config.word_dropout, seed=self.training.seed, name="word_dropout")(
            words
        )
        embedded = token_embedding(
            hidden, self.ids.vocabulary_size("words"), config.word_embedding_dim, "words"
        )
        spelled = character_features(
            characters,
            self.ids.vocabulary_size("characters"),
            config.character_embedding_dim,
            config.character_encoder,
            config.character_units,
        )
        # The mask of the word embedding (padding words) carries on from here.
        features = layers.Concatenate(name="word_and_characters")([embedded, spelled])
        encoded = recurrent_stack(
            features,
            cell=config.cell,
            units=config.units,
            depth=config.depth,
            bidirectional=True,
            dropout=config.dropout,
            residual=config.residual,
        )
        encoded = layers.Dropout(config.output_dropout, name="output_dropout")(encoded)
        probabilities = layers.Dense(
            len(self.tags), activation="softmax", name="tags", dtype="float32"
        )(encoded)
        return keras.Model({"words": words, "characters": characters}, probabilities, name="pos")

    def final_step_only(self, inputs, targets) -> tuple:
        lengths = tf.math.count_nonzero(inputs["words"], axis=1)
        return targets, last_steps(lengths, tf.shape(targets)[1])

    def compile_arguments(self) -> dict:
        # The outputs carry the padding mask, so loss and accuracy skip padding.
        return {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}

    def callbacks(self, model: keras.Model, splits) -> list[keras.callbacks.Callback]:
        if self.config.learning_rate_decay == 1.0:
            return []
        # Smaller steps once validation accuracy stalls: the last few tenths of
        # a percent come from fine steps.
        return [
            keras.callbacks.ReduceLROnPlateau(
                monitor=self.monitor,
                mode=self.monitor_mode,
                factor=self.config.learning_rate_decay,
                patience=1,
                min_lr=1e-5,
                verbose=1,
            )
        ]

    def count_tokens(self, batches: tf.data.Dataset) -> tuple[int, int]:
        real = padded = 0
        for inputs, _ in batches:
            real += int(tf.math.count_nonzero(inputs["words"]))
            padded += int(tf.size(inputs["words"]))
        return real, padded

    def serving(self, model: keras.Model) -> Serving:
        ids, names = self.ids, tf.constant(self.tags)

        def tag(tokens):
            # One extra padding word keeps a batch of empty sentences non-empty.
            features = ids(tf.pad(tokens, [[0, 0], [0, 1]]))
            probabilities = model(features, training=False)[:, :-1]
            real = tokens != ""
            return {
                "tags": tf.where(real, tf.gather(names, tf.argmax(probabilities, -1)), ""),
                "confidence": tf.where(real, tf.reduce_max(probabilities, -1), 0.0),
            }

        def tag_text(sentences):
            tokens = tf.strings.split(sentences).to_tensor("")
            return {"tokens": tokens, **tag(tokens)}

        return Serving(
            {
                "serve": Endpoint(tag, [tf.TensorSpec([None, None], tf.string, name="tokens")]),
                "serve_text": Endpoint(
                    tag_text, [tf.TensorSpec([None], tf.string, name="sentences")]
                ),
            },
            list(ids.lookups.values()),
        )

    def predict(self, export, raw: list[str], options) -> list[dict]:
        outputs = export.serve_text(tf.constant(raw))
        rows = []
        for text, tokens, tags in zip(
            raw, outputs["tokens"].numpy(), outputs["tags"].numpy(), strict=True
        ):
            pairs = [f"{t.decode()}/{g.decode()}" for t, g in zip(tokens, tags, strict=True) if t]
            rows.append({"input": text, "tagged": " ".join(pairs)})
        return rows

    def test_outputs(self, export, examples: Examples) -> dict[str, np.ndarray]:
        return tag_sentences(export.serve, examples.inputs)

    def score(self, outputs: dict, examples: Examples) -> dict:
        return tagging_scores(
            outputs["tags"], examples, self.training_forms, self.tags, self.config.tagset
        )

    def figures(self, outputs: dict, examples: Examples, folder: Path) -> list[Path]:
        path = folder / "confusion_matrix.png"
        confusion_figure(outputs["tags"], examples, self.tags, path)
        return [path]

    def baselines(self, splits) -> dict:
        """Most frequent tag per word, and logistic regression on a word window."""
        predictions = {
            "most_frequent_tag": most_frequent_tag(splits.train, splits.test.inputs),
            "window_logreg": window_logistic_regression(splits.train, splits.test.inputs),
        }
        return {name: self.score({"tags": tags}, splits.test) for name, tags in predictions.items()}
