"""Sentiment classification, many-to-one: a movie review -> positive/negative.

Benchmark: IMDB (Maas et al. 2011), 25k train / 25k test reviews, whole
reviews (never truncated), vocabulary adapted on the training split only.
"""

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from core.export import Endpoint, Serving, predict
from core.task import Task
from data.imdb import load_imdb, read_reviews
from data.pipeline import Examples, bucketed_batches, featurized, word_count
from data.text import WordBigramIds
from models.heads import summarize
from models.recurrent import token_embedding
from tasks.sentiment import pretrained
from tasks.sentiment.config import SentimentConfig

LABEL_NAMES = ("negative", "positive")


class Sentiment(Task):
    """Many-to-one: a movie review -> its sentiment (IMDB)."""

    name = "sentiment"
    Config = SentimentConfig
    headline_metric = "accuracy"
    dataset_name = "IMDB reviews (tfds imdb_reviews/plain_text 1.0.0)"

    def load(self) -> dict[str, Examples]:
        if self.data.dataset:
            return read_reviews(self.data.dataset)
        return load_imdb(self.data.data_mirror or None, self.data.data_dir or None)

    def settle(self) -> None:
        if self.config.pretrained:
            self.config = pretrained.settled(self.config)

    def adapt(self, train: Examples) -> None:
        if not self.config.pretrained:
            self.restore({})
            self.ids.adapt(train.inputs.tolist())
            return
        # The language model's words, so that its embedding rows fit; it has no bigrams.
        self.restore({"words": pretrained.pretrained_vocabulary(Path(self.config.pretrained))})

    def state(self) -> dict:
        return self.ids.vocabularies()

    def restore(self, state: dict) -> None:
        config = self.config
        self.ids = WordBigramIds(config.vocabulary_size, config.bigram_vocabulary_size, state)

    def batches(self, examples: Examples, training: bool, epoch: int = 0) -> tf.data.Dataset:
        def featurize():
            dataset = tf.data.Dataset.from_tensor_slices(
                (examples.inputs.tolist(), examples.targets.astype("float32"))
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
        inputs = {name: keras.Input((None,), dtype="int64", name=name) for name in self.ids.lookups}
        embedded = [
            token_embedding(ids, self.ids.vocabulary_size(name), config.embedding_dim, name)
            for name, ids in inputs.items()
        ]
        # Summing keeps one vector per word: the word's and its bigram's.
        embedded = (
            layers.Add(name="word_and_bigram")(embedded) if len(embedded) > 1 else embedded[0]
        )
        summary = summarize(
            embedded,
            pooling=config.pooling,
            cell=config.cell,
            units=config.units,
            depth=config.depth,
            bidirectional=config.bidirectional,
            dropout=config.dropout,
            residual=config.residual,
        )
        summary = layers.Dropout(config.head_dropout, name="head_dropout")(summary)
        probability = layers.Dense(1, activation="sigmoid", name="probability", dtype="float32")(
            summary
        )
        return keras.Model(inputs, probability, name="sentiment")

    def start_from(self, model: keras.Model) -> None:
        if self.config.pretrained:
            pretrained.copy_encoder(model, Path(self.config.pretrained))

    def compile_arguments(self) -> dict:
        return {"loss": "binary_crossentropy", "metrics": ["accuracy"]}

    @property
    def reference(self) -> str | None:
        """Beside runs started from a language model, the model trained from
        scratch is the reference, reported among the baselines."""
        return None if self.config.pretrained else "from_scratch"

    def serving(self, model: keras.Model) -> Serving:
        ids, names = self.ids, tf.constant(LABEL_NAMES)

        def serve(texts):
            # One extra (masked) padding step keeps an all-empty batch non-empty.
            features = {
                name: tf.pad(values, [[0, 0], [0, 1]]) for name, values in ids(texts).items()
            }
            probability = model(features, training=False)[:, 0]
            label = tf.gather(names, tf.cast(probability >= 0.5, tf.int32))
            return {"probability": probability, "label": label}

        signature = [tf.TensorSpec([None], tf.string, name="texts")]
        return Serving({"serve": Endpoint(serve, signature)}, list(ids.lookups.values()))

    def predict(self, export, raw: list[str], options) -> list[dict]:
        outputs = predict(export.serve, np.array(raw, dtype=object), progress=False)
        return [
            {
                "input": text,
                "probability": float(outputs["probability"][index]),
                "label": outputs["label"][index].decode("utf-8"),
            }
            for index, text in enumerate(raw)
        ]

    def test_outputs(self, export, examples: Examples) -> dict:
        return predict(export.serve, examples.inputs)

    def score(self, outputs: dict, examples: Examples) -> dict:
        predicted = (np.asarray(outputs["probability"]) >= 0.5).astype("int64")
        return {
            "accuracy": float(accuracy_score(examples.targets, predicted)),
            "f1": float(f1_score(examples.targets, predicted)),
            "confusion_matrix": confusion_matrix(examples.targets, predicted).tolist(),
        }

    def baselines(self, splits) -> dict:
        """TF-IDF of word 1-2-grams + logistic regression, on the same split."""
        vectorizer = TfidfVectorizer(
            preprocessor=lambda text: text.lower().replace("<br />", " "),
            ngram_range=(1, 2),
            min_df=2,
            sublinear_tf=True,
        )
        features = vectorizer.fit_transform(splits.train.inputs)
        classifier = LogisticRegression(C=10.0, max_iter=1000)
        classifier.fit(features, splits.train.targets)
        probability = classifier.predict_proba(vectorizer.transform(splits.test.inputs))[:, 1]
        return {"tfidf_ngram_logreg": self.score({"probability": probability}, splits.test)}
