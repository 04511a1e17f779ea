"""Translation, encoder-decoder: a sentence -> its translation, beam search in the graph.

Benchmark: Multi30k task 1 English -> German (29,000 training caption pairs,
its own val split for validation, test_2016_flickr to score), subword
vocabularies learned on the training split, sacreBLEU on detokenized, cased
output. The export takes and returns plain strings.
"""

import keras
import numpy as np
import sacrebleu
import tensorflow as tf
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.neighbors import NearestNeighbors

from core.export import Endpoint, Serving, predict
from core.task import Splits, Task, last_steps
from data.errors import DatasetUnavailableError
from data.multi30k import LANGUAGES, load_multi30k
from data.parallel import read_parallel
from data.pipeline import Examples, bucketed_batches
from data.subwords import (
    END,
    PAD,
    START,
    UNKNOWN,
    Subwords,
    decode_model,
    encode_model,
    learn_subwords,
)
from models.losses import smoothed_cross_entropy, token_accuracy
from models.seq2seq import generate, sequence_to_sequence
from tasks.translation.attention_map import attention_map_path, plot_attention
from tasks.translation.config import TranslateOptions, TranslationConfig, TranslationTraining

LENGTH_PENALTIES = (0.0, 0.3, 0.6, 1.0)


class ValidationBleu(keras.callbacks.Callback):
    """Puts `val_bleu` (greedy, in-graph, batched) into every epoch's logs."""

    def __init__(self, translate, examples: Examples):
        super().__init__()
        self.translate, self.examples = translate, examples

    def on_epoch_end(self, epoch, logs=None):
        hypotheses = self.translate(self.examples.inputs, 1, None)
        logs["val_bleu"] = bleu(hypotheses, self.examples.targets).score


def bleu(hypotheses, references) -> sacrebleu.metrics.bleu.BLEUScore:
    """Corpus sacreBLEU, cased, 13a tokenization (its defaults)."""
    return sacrebleu.metrics.BLEU().corpus_score(list(hypotheses), [list(references)])


class Translation(Task):
    """Encoder-decoder: a sentence -> its translation (Multi30k)."""

    name = "translation"
    Config = TranslationConfig
    Training = TranslationTraining
    PredictOptions = TranslateOptions
    monitor, monitor_mode = "val_bleu", "max"
    headline_metric = "bleu"

    @property
    def dataset_name(self) -> str:
        config = self.config
        return f"Multi30k {config.source_language}->{config.target_language} (test_2016_flickr)"

    def load(self) -> dict[str, Examples]:
        source, target = self.config.source_language, self.config.target_language
        if self.data.dataset:
            return read_parallel(self.data.dataset, source, target)
        if source not in LANGUAGES or target not in LANGUAGES:
            raise DatasetUnavailableError(
                f"Multi30k has the languages {', '.join(LANGUAGES)}, not "
                f"{source}->{target}; pass --dataset for other pairs"
            )
        return load_multi30k(
            source, target, self.data.data_mirror or None, self.data.data_dir or None
        )

    def adapt(self, train: Examples) -> None:
        size = self.config.vocabulary_size
        self.restore(
            {
                "source": encode_model(learn_subwords(train.inputs.tolist(), size)),
                "target": encode_model(learn_subwords(train.targets.tolist(), size)),
                "length_penalty": max(self.config.length_penalty, 0.0),
            }
        )

    def state(self) -> dict:
        return {
            "source": encode_model(self.source_model),
            "target": encode_model(self.target_model),
            "length_penalty": self.length_penalty,
        }

    def restore(self, state: dict) -> None:
        self.source_model = decode_model(state["source"])
        self.target_model = decode_model(state["target"])
        self.source, self.target = Subwords(self.source_model), Subwords(self.target_model)
        self.length_penalty = float(state["length_penalty"])

    def source_ids(self, texts: tf.Tensor) -> tf.Tensor:
        """Texts -> right-padded piece ids, each sentence closed by END."""
        pieces = self.source.tokenize(texts)
        ends = tf.fill(tf.stack([pieces.nrows(), 1]), END)
        return tf.concat([pieces, ends], axis=1).to_tensor()

    def batches(self, examples: Examples, training: bool, epoch: int = 0) -> tf.data.Dataset:
        def featurize(sources, targets):
            pieces = self.target.tokenize(targets)
            starts = tf.fill(tf.stack([pieces.nrows(), 1]), START)
            ends = tf.fill(tf.stack([pieces.nrows(), 1]), END)
            source = tf.RaggedTensor.from_tensor(self.source_ids(sources), padding=PAD)
            sequences = (source, tf.concat([starts, pieces], 1), tf.concat([pieces, ends], 1))
            return tuple((ids.to_tensor(), ids.row_lengths()) for ids in sequences)

        def unpad(*padded):
            source, target, next_pieces = (ids[:length] for ids, length in padded)
            return {"source": source, "target": target}, next_pieces

        def pieces():
            dataset = tf.data.Dataset.from_tensor_slices(
                (examples.inputs.tolist(), examples.targets.tolist())
            )
            # Tokenize many sentences per call, then regroup them by length.
            return dataset.batch(1024).map(featurize).unbatch().map(unpad).cache()

        return bucketed_batches(
            self.cached(examples, pieces),
            lambda inputs, _: tf.maximum(
                tf.shape(inputs["source"])[0], tf.shape(inputs["target"])[0]
            ),
            self.training.batch_size,
            training=training,
            seed=self.shuffle_seed(epoch),
        )

    def build_model(self) -> keras.Model:
        config = self.config
        return sequence_to_sequence(
            self.source.size,
            self.target.size,
            embedding_dim=config.embedding_dim,
            encoder_units=config.encoder_units,
            decoder_units=config.decoder_units,
            cell=config.cell,
            encoder_depth=config.encoder_depth,
            attention=config.attention,
            dropout=config.dropout,
            name="translator",
        )

    def final_step_only(self, inputs, targets) -> tuple:
        """The target's last piece (the end of the sentence) alone: padding
        elsewhere, which the loss skips."""
        lengths = tf.math.count_nonzero(targets, axis=1)
        kept = tf.cast(last_steps(lengths, tf.shape(targets)[1]), targets.dtype)
        return targets * kept, None

    def compile_arguments(self) -> dict:
        return {
            "loss": smoothed_cross_entropy(self.config.label_smoothing),
            "metrics": [token_accuracy],
        }

    def callbacks(self, model: keras.Model, splits: Splits) -> list:
        return [
            ValidationBleu(self.batch_translator(model), splits.validation),
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_bleu",
                mode="max",
                factor=self.config.learning_rate_decay,
                patience=1,
                min_lr=1e-5,
            ),
        ]

    # Decoding.
    def decode(self, model: keras.Model, texts, beam_width, alpha) -> tuple[tf.Tensor, tf.Tensor]:
        """Texts -> (translations, scores), all in the graph."""
        source = self.source_ids(texts)
        lengths = tf.reduce_sum(tf.cast(source != PAD, tf.int32), axis=1)
        max_lengths = tf.minimum(2 * lengths + 10, self.config.max_output_length)
        tokens, scores = generate(
            model,
            source,
            beam_width,
            max_lengths,
            start_id=START,
            end_id=END,
            alpha=alpha,
            banned=(PAD, START, UNKNOWN),
        )
        return self.target.detokenize(tokens), scores

    def batch_translator(self, model: keras.Model):
        """`(texts, beam_width, alpha or None) -> translations`, batched, for numpy texts.

        Kept per model: tracing the decoding graph is slow, and validation
        BLEU during training and length-penalty tuning after it share one.
        """
        cached = getattr(self, "_translator", None)
        if cached is not None and cached[0] is model:
            return cached[1]
        signature = [
            tf.TensorSpec([None], tf.string),
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([], tf.float32),
        ]
        decode = tf.function(lambda *args: self.decode(model, *args)[0], input_signature=signature)

        def translate(texts, beam_width: int, alpha: float | None):
            alpha = self.length_penalty if alpha is None else alpha
            outputs = predict(
                lambda batch: {"translation": decode(batch, beam_width, alpha)},
                np.asarray(texts, dtype=object),
                batch_size=100,
                progress=False,
            )
            return [text.decode("utf-8") for text in outputs["translation"]]

        self._translator = (model, translate)
        return translate

    def tune(self, model: keras.Model, splits: Splits) -> None:
        """Picks the length penalty with the best validation BLEU (beam search)."""
        if self.config.length_penalty >= 0:
            return
        validation = splits.validation
        translate = self.batch_translator(model)
        scores = {
            alpha: bleu(
                translate(validation.inputs, self.config.beam_width, alpha), validation.targets
            ).score
            for alpha in LENGTH_PENALTIES
        }
        self.length_penalty = max(scores, key=scores.get)
        print(f"validation BLEU by length penalty: {scores}; chose {self.length_penalty}")

    def serving(self, model: keras.Model) -> Serving:
        alpha = self.length_penalty

        def translate(texts, beam_width):
            translations, scores = self.decode(model, texts, beam_width, alpha)
            return {"translation": translations, "score": scores}

        def attention(texts, translations):
            source = self.source_ids(texts)
            pieces = self.target.tokenize(translations)
            starts = tf.fill(tf.stack([pieces.nrows(), 1]), START)
            target = tf.concat([starts, pieces], axis=1).to_tensor()
            encoded = model.get_layer("encoder")(source, training=False)
            _, weights = model.get_layer("decoder").teacher_forced(
                target, encoded["memory"], encoded["mask"], encoded["state"]
            )
            closed = tf.concat([pieces, tf.fill(tf.stack([pieces.nrows(), 1]), END)], 1)
            return {
                "weights": weights,
                "source_pieces": self._pieces(self.source, source),
                "target_pieces": self._pieces(self.target, closed.to_tensor()),
            }

        texts = tf.TensorSpec([None], tf.string, name="texts")
        return Serving(
            {
                "translate": Endpoint(
                    translate, [texts, tf.TensorSpec([], tf.int32, "beam_width")]
                ),
                "attention": Endpoint(
                    attention, [texts, tf.TensorSpec([None], tf.string, name="translations")]
                ),
            },
            [self.source, self.target],
        )

    @staticmethod
    def _pieces(subwords: Subwords, ids: tf.Tensor) -> tf.Tensor:
        return tf.where(ids == PAD, "", subwords.pieces(ids))

    # Scores.
    def test_outputs(self, export, examples: Examples) -> dict[str, np.ndarray]:
        outputs = {}
        for name, width in (("translation", self.config.beam_width), ("greedy", 1)):
            translated = predict(
                lambda texts, width=width: export.translate(texts, tf.constant(width)),
                examples.inputs,
                batch_size=100,
            )
            outputs[name] = np.array([t.decode("utf-8") for t in translated["translation"]])
        return outputs

    def score(self, outputs: dict, examples: Examples) -> dict:
        beam = sacrebleu.metrics.BLEU()
        chrf = sacrebleu.metrics.CHRF()
        references = [examples.targets.tolist()]
        metrics = {
            "bleu": beam.corpus_score(outputs["translation"].tolist(), references).score,
            "chrf": chrf.corpus_score(outputs["translation"].tolist(), references).score,
        }
        if "greedy" in outputs:
            metrics["bleu_greedy"] = bleu(outputs["greedy"], examples.targets).score
            metrics["chrf_greedy"] = chrf.corpus_score(outputs["greedy"].tolist(), references).score
            metrics["beam_width"] = self.config.beam_width
            metrics["length_penalty"] = self.length_penalty
        metrics["bleu_signature"] = str(beam.get_signature())
        metrics["chrf_signature"] = str(chrf.get_signature())
        return metrics

    def baselines(self, splits: Splits) -> dict:
        """Copy the source; and the translation of the nearest training source
        sentence (TF-IDF of word 1-2-grams, cosine), a retrieval baseline."""
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        train = vectorizer.fit_transform(splits.train.inputs)
        neighbours = NearestNeighbors(n_neighbors=1, metric="cosine").fit(train)
        nearest = neighbours.kneighbors(vectorizer.transform(splits.test.inputs))[1][:, 0]
        return {
            "copy_source": self.score({"translation": splits.test.inputs}, splits.test),
            "tfidf_nearest_neighbour": self.score(
                {"translation": splits.train.targets[nearest]}, splits.test
            ),
        }

    # Command line.
    def predict(self, export, raw: list[str], options) -> list[dict]:
        texts = tf.constant(raw)
        outputs = export.translate(texts, tf.constant(options.beam_width))
        translations = [text.decode("utf-8") for text in outputs["translation"].numpy()]
        rows = [
            {"input": text, "translation": translation, "score": float(score)}
            for text, translation, score in zip(
                raw, translations, outputs["score"].numpy(), strict=True
            )
        ]
        if options.attention_map:
            maps = export.attention(texts, tf.constant(translations))
            for index, row in enumerate(rows):
                path = attention_map_path(options.attention_map, index, len(rows))
                plot_attention(
                    maps["weights"].numpy()[index],
                    maps["source_pieces"].numpy()[index],
                    maps["target_pieces"].numpy()[index],
                    path,
                )
                row["attention_map"] = path
        return rows
