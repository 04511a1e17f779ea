"""Text classification, many-to-one: a text -> its class; by default a
movie review -> negative/positive.

Benchmark: IMDB (Maas et al. 2011), 25k train / 25k test reviews, whole
reviews (never truncated), vocabulary adapted on the training split only.
Your own table may hold any number of classes, named by its training
labels: two train a sigmoid unit (as IMDB), more a softmax.
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
from core.task import Splits, Task
from data.imdb import load_imdb, read_reviews, review_files
from data.labels import BINARY, class_ids, class_names
from data.pipeline import Examples, bucketed_batches, featurized, word_count
from data.text import WordBigramIds
from models.heads import summarize
from models.recurrent import token_embedding
from tasks.sentiment import pretrained
from tasks.sentiment.config import SentimentConfig


class Sentiment(Task):
    """Many-to-one: a text -> its class (IMDB's reviews -> their sentiment)."""

    name = "sentiment"
    Config = SentimentConfig
    headline_metric = "accuracy"
    dataset_name = "IMDB reviews (tfds imdb_reviews/plain_text 1.0.0)"
    # The class names in id order: the training labels' (`splits`) or the run's.
    classes: tuple[str, ...] | None = None

    def load(self) -> dict[str, Examples]:
        if self.data.dataset:
            config = self.config
            return read_reviews(self.data.dataset, config.text_column, config.label_column)
        return load_imdb(self.data.data_mirror or None, self.data.data_dir or None)

    def splits(self) -> Splits:
        """The loaded splits with labels as class ids. The training split names
        the classes here rather than in `adapt`: every later step reads the
        ids, and a label of no class then stops a run before its directory
        exists. A restored run keeps its own classes."""
        loaded = super().splits()
        if self.classes is None:
            self.classes = class_names(loaded.train.targets, self.source("train"))
        return Splits(
            *(
                Examples(
                    examples.inputs,
                    class_ids(examples.targets, self.classes, f"{self.source(split)} ({split})"),
                )
                for split, examples in zip(Splits._fields, loaded, strict=True)
            )
        )

    def in_run_terms(self, test: Examples) -> Examples:
        return Examples(
            test.inputs, class_ids(test.targets, self.classes, f"{self.data.dataset} (test)")
        )

    def source(self, split: str) -> str:
        """The file a split was read from, for messages: validation is carved
        from the training file, and so is test when there is no test file."""
        if not self.data.dataset:
            return self.dataset_name
        files = review_files(self.data.dataset)
        return str(files.get("test" if split == "test" else "train", files.get("all")))

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2

    def settle(self) -> None:
        if self.config.pretrained:
            self.config = pretrained.settled(self.config)

    def adapt(self, train: Examples) -> None:
        config = self.config
        # The language model's words, so that its embedding rows fit; it has no bigrams.
        words = (
            {"words": pretrained.pretrained_vocabulary(Path(config.pretrained))}
            if config.pretrained
            else {}
        )
        self.ids = WordBigramIds(config.vocabulary_size, config.bigram_vocabulary_size, words)
        if not config.pretrained:
            self.ids.adapt(train.inputs.tolist())

    def state(self) -> dict:
        return self.ids.vocabularies() | {"classes": list(self.classes)}

    def restore(self, state: dict) -> None:
        config = self.config
        self.ids = WordBigramIds(config.vocabulary_size, config.bigram_vocabulary_size, state)
        # Runs from before any number of classes saved none: they were IMDB's two.
        self.classes = tuple(state.get("classes", BINARY))

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
        if self.binary:  # the second class's probability
            head = layers.Dense(1, activation="sigmoid", name="probability", dtype="float32")
        else:
            count = len(self.classes)
            head = layers.Dense(count, activation="softmax", name="probabilities", dtype="float32")
        return keras.Model(inputs, head(summary), name="sentiment")

    def start_from(self, model: keras.Model) -> None:
        if self.config.pretrained:
            pretrained.copy_encoder(model, Path(self.config.pretrained))

    def compile_arguments(self) -> dict:
        loss = "binary_crossentropy" if self.binary else "sparse_categorical_crossentropy"
        return {"loss": loss, "metrics": ["accuracy"]}

    @property
    def reference(self) -> str | None:
        """Beside runs started from a language model, the model trained from
        scratch is the reference, reported among the baselines."""
        return None if self.config.pretrained else "from_scratch"

    def serving(self, model: keras.Model) -> Serving:
        ids, classes, binary = self.ids, tf.constant(self.classes), self.binary

        def serve(texts):
            # One extra (masked) padding step keeps an all-empty batch non-empty.
            features = {
                name: tf.pad(values, [[0, 0], [0, 1]]) for name, values in ids(texts).items()
            }
            outputs = model(features, training=False)
            served = {"classes": tf.tile(classes[None], [tf.shape(texts)[0], 1])}
            if binary:  # the outputs of two-class exports before any number of classes
                probability = outputs[:, 0]
                served["probability"] = probability
                served["probabilities"] = tf.stack([1.0 - probability, probability], axis=1)
                chosen = tf.cast(probability >= 0.5, tf.int32)
            else:
                served["probabilities"] = outputs
                chosen = tf.argmax(outputs, axis=1, output_type=tf.int32)
            served["label"] = tf.gather(classes, chosen)
            return served

        signature = [tf.TensorSpec([None], tf.string, name="texts")]
        return Serving({"serve": Endpoint(serve, signature)}, list(ids.lookups.values()))

    def predict(self, export, raw: list[str], options) -> list[dict]:
        outputs = predict(export.serve, np.array(raw, dtype=object), progress=False)
        probabilities = class_probabilities(outputs)
        rows = []
        for index, text in enumerate(raw):
            row = {"input": text, "label": outputs["label"][index].decode("utf-8")}
            if self.binary:
                row["probability"] = float(probabilities[index, 1])
            chances = probabilities[index].tolist()
            row["probabilities"] = dict(zip(self.classes, chances, strict=True))
            rows.append(row)
        return rows

    def test_outputs(self, export, examples: Examples) -> dict:
        return {"probabilities": class_probabilities(predict(export.serve, examples.inputs))}

    def score(self, outputs: dict, examples: Examples) -> dict:
        """Accuracy, macro-F1 and the confusion matrix (rows true, columns
        predicted, in the order of `classes`); for two classes also the F1 of
        the second, IMDB's positive."""
        probabilities = np.asarray(outputs["probabilities"])
        if self.binary:  # as the export decides: ties go to the second class
            predicted = (probabilities[:, 1] >= 0.5).astype("int64")
        else:
            predicted = probabilities.argmax(axis=1)
        targets, every = examples.targets, np.arange(len(self.classes))
        scores = {"accuracy": float(accuracy_score(targets, predicted))}
        if self.binary:
            scores["f1"] = float(f1_score(targets, predicted))
        return scores | {
            "macro_f1": float(
                f1_score(targets, predicted, labels=every, average="macro", zero_division=0)
            ),
            "confusion_matrix": confusion_matrix(targets, predicted, labels=every).tolist(),
            "classes": list(self.classes),
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
        # Its columns are the classes in id order: every class has training examples.
        probabilities = classifier.predict_proba(vectorizer.transform(splits.test.inputs))
        return {"tfidf_ngram_logreg": self.score({"probabilities": probabilities}, splits.test)}


def class_probabilities(outputs: dict) -> np.ndarray:
    """Every class's probability, `[examples, classes]`, from an export's
    outputs; exports from before any number of classes served only the
    second class's `probability`."""
    if "probabilities" in outputs:
        return np.asarray(outputs["probabilities"])
    probability = np.asarray(outputs["probability"])
    return np.stack([1.0 - probability, probability], axis=1)
