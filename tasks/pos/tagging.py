"""Sequence tagging helpers: serving whole sentences, scores, a confusion
matrix, and the classical baselines scored beside the tagger.

Sentences are tuples of tokens and their tags tuples of strings, as
`data.conllu.as_examples` returns them; every function here compares tags
word by word on gold tokenisation.
"""

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import ConfusionMatrixDisplay, precision_recall_fscore_support

from core.export import predict
from data.pipeline import Examples


def flatten(column: Iterable[tuple]) -> list:
    """The words (or tags) of all sentences, in order."""
    return [item for row in column for item in row]


def as_column(rows: list) -> np.ndarray:
    """A 1-D object array of tuples (numpy would make equal-length rows 2-D)."""
    column = np.empty(len(rows), dtype=object)
    column[:] = [tuple(row) for row in rows]
    return column


def tag_sentences(
    serve: Callable, sentences: np.ndarray, progress: bool = True
) -> dict[str, np.ndarray]:
    """Tags and confidences of `serve` (padded tokens in) for each sentence."""

    def padded(chosen):
        width = max(len(sentences[index]) for index in chosen)
        tokens = np.full((len(chosen), width), "", dtype=object)
        for row, index in enumerate(chosen):
            tokens[row, : len(sentences[index])] = sentences[index]
        return [tf.constant(tokens.tolist(), tf.string, shape=tokens.shape)]

    lengths = np.array([len(tokens) for tokens in sentences])
    outputs = predict(
        serve, sentences, arguments=padded, steps=lengths, batch_size=128, progress=progress
    )
    tags = [[tag.decode() for tag in row] for row in outputs["tags"]]
    return {"tags": as_column(tags), "confidence": outputs["confidence"]}


def tagging_scores(
    predicted: np.ndarray,
    examples: Examples,
    training_forms: set[str],
    tags: list[str],
    tagset: str = "upos",
) -> dict:
    """Word accuracy (all words, and words unseen in training), whole-sentence
    accuracy and per-tag precision / recall / F1 (scikit-learn)."""
    gold, guess = np.array(flatten(examples.targets)), np.array(flatten(predicted))
    if gold.shape != guess.shape:
        raise ValueError(f"{len(guess)} predicted tags for {len(gold)} words")
    correct = gold == guess
    unseen = np.array([form not in training_forms for form in flatten(examples.inputs)])
    labels = [*tags, *sorted(set(gold) - set(tags))]
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, guess, labels=labels, zero_division=0
    )
    lengths = np.cumsum([0, *(len(row) for row in examples.targets)])
    return {
        f"{tagset}_accuracy": float(correct.mean()),
        f"oov_{tagset}_accuracy": float(correct[unseen].mean()) if unseen.any() else None,
        "sentence_accuracy": float(np.mean(np.logical_and.reduceat(correct, lengths[:-1]))),
        "macro_f1": float(f1[support > 0].mean()),
        "words": len(gold),
        "oov_words": int(unseen.sum()),
        "per_tag": {
            label: {
                "precision": round(float(p), 4),
                "recall": round(float(r), 4),
                "f1": round(float(f), 4),
                "support": int(s),
            }
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
    }


def confusion_figure(predicted: np.ndarray, examples: Examples, tags: list[str], path: Path):
    """Writes the confusion matrix, each gold tag's row normalised to 1, as a PNG."""
    gold, guess = flatten(examples.targets), flatten(predicted)
    labels = [*tags, *sorted(set(gold) - set(tags))]
    size = max(6.0, 0.45 * len(labels))
    figure = Figure(figsize=(size + 1.5, size))
    axis = figure.subplots()
    ConfusionMatrixDisplay.from_predictions(
        gold,
        guess,
        labels=labels,
        normalize="true",
        include_values=len(labels) <= 25,
        values_format=".2f",
        cmap="Blues",
        xticks_rotation="vertical",
        colorbar=False,
        ax=axis,
    )
    axis.set_title(f"test confusion matrix ({len(gold)} words; rows: gold, sum to 1)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def most_frequent_tag(train: Examples, sentences: np.ndarray) -> np.ndarray:
    """Each word's most frequent training tag; an unseen word takes that of its
    lower-cased form, else the most frequent tag overall."""
    by_form, by_lower = defaultdict(Counter), defaultdict(Counter)
    for tokens, tags in zip(train.inputs, train.targets, strict=True):
        for token, tag in zip(tokens, tags, strict=True):
            by_form[token][tag] += 1
            by_lower[token.lower()][tag] += 1
    overall = Counter(flatten(train.targets)).most_common(1)[0][0]

    def guess(token: str) -> str:
        counts = by_form.get(token) or by_lower.get(token.lower())
        return counts.most_common(1)[0][0] if counts else overall

    return as_column([[guess(token) for token in tokens] for tokens in sentences])


def shape(word: str) -> str:
    """The word's look whatever its letters: "McDonald's" -> "XxXx'x"."""
    coarse = re.sub("[A-Z]", "X", re.sub("[a-z]", "x", re.sub("[0-9]", "d", word)))
    return re.sub(r"(.)\1+", r"\1", coarse)


def window_features(tokens: tuple[str, ...], position: int) -> dict[str, float]:
    """A word's own form, affixes and shape, and its neighbours two either side."""
    word = tokens[position]
    lower = word.lower()
    features = {"bias": 1.0, f"shape={shape(word)}": 1.0}
    for size in (1, 2, 3, 4):
        features[f"suffix={lower[-size:]}"] = 1.0
        features[f"prefix={lower[:size]}"] = 1.0
    for offset in (-2, -1, 0, 1, 2):
        at = position + offset
        neighbour = tokens[at].lower() if 0 <= at < len(tokens) else "<edge>"
        features[f"word[{offset}]={neighbour}"] = 1.0
    return features


def window_logistic_regression(train: Examples, sentences: np.ndarray) -> np.ndarray:
    """Logistic regression on `window_features`, one word at a time."""

    def featurize(rows):
        return [window_features(tokens, at) for tokens in rows for at in range(len(tokens))]

    vectorizer = DictVectorizer()
    features = vectorizer.fit_transform(featurize(train.inputs))
    classifier = LogisticRegression(C=10.0, max_iter=300)
    classifier.fit(features, flatten(train.targets))
    guesses = iter(classifier.predict(vectorizer.transform(featurize(sentences))).tolist())
    return as_column([[next(guesses) for _ in tokens] for tokens in sentences])
