"""Losses and metrics over padded token sequences (id 0 is padding).

Keras's sparse cross-entropy has no label smoothing and averages over
padding too; these average over the real tokens of the batch only.
"""

import tensorflow as tf
from keras import ops

PAD = 0


def smoothed_cross_entropy(smoothing: float):
    """Token cross-entropy with label smoothing, averaged over real (non-pad) tokens."""

    def loss(targets, logits):
        log_probs = ops.log_softmax(logits)
        targets = ops.cast(targets, "int32")
        picked = ops.take_along_axis(log_probs, ops.expand_dims(targets, -1), axis=-1)[..., 0]
        per_token = -(1.0 - smoothing) * picked - smoothing * ops.mean(log_probs, axis=-1)
        real = ops.cast(ops.not_equal(targets, PAD), per_token.dtype)
        return replica_share(ops.sum(per_token * real) / ops.maximum(ops.sum(real), 1.0))

    return loss


def replica_share(batch_mean):
    """A loss already averaged over its batch, divided among the replicas of a
    tf.distribute strategy, as Keras does for its own losses: the replicas'
    gradients are summed, and Keras multiplies the reported loss back."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return batch_mean / replicas if replicas > 1 else batch_mean


def token_accuracy(targets, logits):
    """Share of real target tokens predicted exactly under teacher forcing."""
    targets = ops.cast(targets, "int32")
    right = ops.cast(ops.equal(ops.argmax(logits, axis=-1), targets), "float32")
    real = ops.cast(ops.not_equal(targets, PAD), "float32")
    return ops.sum(right * real) / ops.maximum(ops.sum(real), 1.0)
