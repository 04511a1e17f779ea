"""How the polyphonic-music literature scores a piano-roll model, and two
models without recurrence scored the same way.

NLL per frame (Boulanger-Lewandowski et al. 2012): every frame of every
test piece is predicted from the frames before it (the first from the
model's start state), and the total NLL in nats is divided by the total
number of frames. The TCN code (Bai et al. 2018) skips each piece's first
frame, so that variant is reported beside it. Expected frame-level accuracy
(Bay et al. 2009, as in Boulanger-Lewandowski et al.) is
sum TP / sum (TP + FP + FN) over all frames, with the counts' expectations
under the model's per-key probabilities.
"""

import numpy as np
from sklearn.linear_model import LogisticRegression


def metric_names(head: str) -> dict[str, str]:
    """Metric names of one head's run; the joint head's accuracy is the headline one."""
    return {
        "nll": f"nll_{head}",
        "nll_without_first": f"nll_{head}_without_first_frame",
        "accuracy": "frame_accuracy" if head == "joint" else f"frame_accuracy_{head}",
    }


def frame_scores(
    log_likelihoods: list[np.ndarray],
    probabilities: list[np.ndarray],
    rolls: list[np.ndarray],
    head: str,
) -> dict[str, float]:
    """NLL per frame (both conventions) and expected frame-level accuracy.

    `log_likelihoods[i]` holds log p(frame t | frames < t) for each frame of
    piece `i`; `probabilities[i]` each key's probability at each frame.
    """
    frames = sum(len(roll) for roll in rolls)
    total = -sum(float(np.sum(values, dtype="float64")) for values in log_likelihoods)
    first = -sum(float(values[0]) for values in log_likelihoods)
    truth = np.concatenate(list(rolls)).astype("float64")
    probability = np.concatenate(list(probabilities)).astype("float64")
    true_positive = float(np.sum(probability * truth))
    names = metric_names(head)
    return {
        names["nll"]: total / frames,
        names["nll_without_first"]: (total - first) / (frames - len(rolls)),
        names["accuracy"]: true_positive / (probability.sum() + truth.sum() - true_positive),
    }


def bernoulli_log_likelihood(roll: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """log p(frame) per frame under independent keys with these logits."""
    return np.sum(roll * logits - np.logaddexp(0.0, logits), axis=-1)


def training_key_frequency(train: list[np.ndarray]) -> np.ndarray:
    """How often each key sounds in the training frames, add-one smoothed."""
    frames = np.concatenate(list(train))
    return (frames.sum(axis=0) + 1.0) / (len(frames) + 2.0)


def key_frequency(train: list[np.ndarray], test: list[np.ndarray]) -> tuple[list, list]:
    """Each key on with its training frequency, whatever came before."""
    probability = training_key_frequency(train)
    logits = np.log(probability) - np.log1p(-probability)
    return (
        [bernoulli_log_likelihood(roll, logits) for roll in test],
        [np.broadcast_to(probability, roll.shape) for roll in test],
    )


def previous_frames(rolls: list[np.ndarray]) -> np.ndarray:
    """Each frame's predecessor (silence before the first), all pieces stacked."""
    return np.concatenate([np.vstack([np.zeros((1, roll.shape[1])), roll[:-1]]) for roll in rolls])


def previous_frame_logistic(train: list[np.ndarray], test: list[np.ndarray]) -> tuple[list, list]:
    """A first-order Markov model: per key, logistic regression on the previous frame.

    A key that never (or always) sounds in training gets its smoothed frequency.
    """
    inputs, targets = previous_frames(train), np.concatenate(list(train))
    test_inputs = previous_frames(test)
    logits = np.empty((len(test_inputs), targets.shape[1]))
    for key in range(targets.shape[1]):
        if targets[:, key].min() == targets[:, key].max():
            rate = (targets[:, key].sum() + 1.0) / (len(targets) + 2.0)
            logits[:, key] = np.log(rate) - np.log1p(-rate)
        else:
            model = LogisticRegression(C=1.0, max_iter=1000).fit(inputs, targets[:, key])
            logits[:, key] = model.decision_function(test_inputs)
    pieces = np.split(logits, np.cumsum([len(roll) for roll in test])[:-1])
    return (
        [bernoulli_log_likelihood(roll, piece) for roll, piece in zip(test, pieces, strict=True)],
        [1.0 / (1.0 + np.exp(-piece)) for piece in pieces],
    )
