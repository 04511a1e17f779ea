"""Seeded splits and length-bucketed `tf.data` batches shared by the tasks.

Every random choice here is a function of its seeds alone: a training
epoch's order depends on `--seed` and the epoch number, never on how many
epochs this process has already iterated, so a resumed run sees the
batches an uninterrupted one would.
"""

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


# The seed that carves a test split from data that has none: fixed, so the
# test rows depend on the data alone and never on `--seed` (1 is the seed
# that carved them before it was fixed, for runs with --seed 0).
TEST_SPLIT_SEED = 1


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


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one training epoch's order: distinct for every (seed, epoch)."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


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

    Training shuffles the examples before bucketing and then the batches,
    in an order fixed by `seed` (pass each epoch its `epoch_seed`); nothing
    is truncated. Elements must be `(sequence, target)` pairs; `length`
    maps such a pair to its length.
    """
    if training:
        dataset = dataset.shuffle(20_000, seed=seed, reshuffle_each_iteration=False)
    boundaries = length_buckets(max_length)
    dataset = dataset.bucket_by_sequence_length(
        length, boundaries, [batch_size] * (len(boundaries) + 1)
    )
    if training:
        dataset = dataset.shuffle(64, seed=seed + 1, reshuffle_each_iteration=False)
    return dataset.prefetch(tf.data.AUTOTUNE)


def featurized(dataset: tf.data.Dataset, featurize: Callable) -> tf.data.Dataset:
    """`(raw input, target)` pairs -> `({name: ids}, target)` pairs, cached.

    Featurizes one example at a time (a batch of one, unpadded). Build it
    once per split and batch it every epoch: the cache fills on the first
    full pass and serves every pipeline built on it.
    """
    return dataset.map(
        lambda raw, target: ({name: ids[0] for name, ids in featurize(raw[None]).items()}, target),
        num_parallel_calls=tf.data.AUTOTUNE,
    ).cache()


def word_count(ids: dict, target) -> tf.Tensor:
    """The length a featurized example is bucketed by: its `words`."""
    return tf.shape(ids["words"])[0]
