"""Seeded splits and length-bucketed `tf.data` batches shared by the tasks."""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import tensorflow as tf


class Examples(NamedTuple):
    """Raw examples of one split, in memory: inputs and their targets."""

    inputs: np.ndarray
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.inputs)

    def take(self, indices: np.ndarray) -> "Examples":
        return Examples(self.inputs[indices], self.targets[indices])


def carve(examples: Examples, fraction: float, seed: int) -> tuple[Examples, Examples]:
    """Splits off a seeded random `fraction` (e.g. validation from train).

    The same seed always holds out the same examples, so a resumed run, the
    evaluation and the baselines all see exactly the training split of the
    original run.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    order = np.random.default_rng(seed).permutation(len(examples))
    held = max(1, int(round(fraction * len(examples))))
    return examples.take(np.sort(order[held:])), examples.take(np.sort(order[:held]))


def length_buckets(max_length: int, first: int = 16, growth: float = 1.25) -> list[int]:
    """Bucket boundaries growing geometrically: padding stays under `growth - 1`."""
    boundaries = [first]
    while boundaries[-1] < max_length:
        boundaries.append(int(boundaries[-1] * growth) + 1)
    return boundaries


def bucketed_batches(
    dataset: tf.data.Dataset,
    length: Callable,
    batch_size: int,
    *,
    training: bool,
    seed: int,
    max_length: int = 4096,
) -> tf.data.Dataset:
    """Batches examples of similar length, each batch padded to its longest.

    Training shuffles examples afresh every epoch before bucketing and then
    shuffles the batches, so no two epochs see the same order; nothing is
    truncated. Elements must be `(sequence, target)` pairs; `length` maps
    such a pair to its length.
    """
    if training:
        dataset = dataset.shuffle(20_000, seed=seed, reshuffle_each_iteration=True)
    boundaries = length_buckets(max_length)
    dataset = dataset.bucket_by_sequence_length(
        length, boundaries, [batch_size] * (len(boundaries) + 1)
    )
    if training:
        dataset = dataset.shuffle(64, seed=seed + 1, reshuffle_each_iteration=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def featurized_batches(
    dataset: tf.data.Dataset, featurize: Callable, batch_size: int, *, training: bool, seed: int
) -> tf.data.Dataset:
    """`(raw input, target)` pairs -> batches of `{name: ids}` of similar length.

    Featurizes one example at a time (a batch of one, unpadded) and caches the
    ids, so batches can then group examples by their `words` length.
    """
    dataset = dataset.map(
        lambda raw, target: ({name: ids[0] for name, ids in featurize(raw[None]).items()}, target),
        num_parallel_calls=tf.data.AUTOTUNE,
    ).cache()
    return bucketed_batches(
        dataset,
        lambda ids, _: tf.shape(ids["words"])[0],
        batch_size,
        training=training,
        seed=seed,
    )
