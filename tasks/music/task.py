"""Music generation, one-to-many: a chord or a short primer in, new music out.

A recurrent network reads a piano roll (88 keys, one frame per quarter note
on the JSB benchmark) and gives the distribution of the next frame, through
one of two heads: independent sigmoids per key, or a NADE that models the
keys of a frame jointly. Training is next-frame prediction with teacher
forcing; generation unrolls from a seed as many frames as asked.

Benchmark: JSB chorales, quarter-note frames of `JSB_Chorales.mat`, the
229 / 76 / 77 split of Boulanger-Lewandowski et al. (2012). The score is
their negative log-likelihood per frame: every frame of every test chorale
is predicted (the first from a silent start frame), and the total NLL is
divided by the total number of frames.
"""

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from core.export import Endpoint, Serving, predict
from core.task import Task, last_steps
from data.errors import DataFormatError
from data.midi import (
    KEYS,
    MIDI_SUFFIXES,
    parse_chord,
    pitch_names,
    read_midi,
    write_piece,
)
from data.pipeline import Examples, bucketed_batches
from data.polyphonic import SOURCES, config_name, load_polyphonic, read_own_music
from models.keyboard import keyboard_scores
from models.losses import replica_share
from models.nade import IndependentKeys, Nade, PreviousFrames
from models.recurrent import recurrent_stack
from models.sampling import generate, generate_by_rereading, key_probability, stack_cells
from tasks.music.config import GenerateOptions, MusicConfig, MusicTraining
from tasks.music.scores import (
    frame_scores,
    key_frequency,
    previous_frame_logistic,
    training_key_frequency,
)


def rolls_as_examples(rolls: list[np.ndarray]) -> Examples:
    """Pieces as `Examples` (object arrays of rolls): next-frame prediction
    reads a piece and predicts it, so each piece is its own target."""
    pieces = np.empty(len(rolls), dtype=object)
    pieces[:] = list(rolls)
    return Examples(pieces, pieces)


def frame_counts(examples: Examples) -> np.ndarray:
    """Each piece's number of frames."""
    return np.array([len(roll) for roll in examples.inputs], dtype="int64")


def with_mask(roll):
    """A piece and its mask of real frames (padding will add zeros)."""
    return roll, tf.ones(tf.shape(roll)[:1])


def frame_count(roll, mask):
    return tf.shape(roll)[0]


def masked_nll(mask, log_likelihood):
    """The training loss: mean NLL per real (unpadded) frame of the batch."""
    return replica_share(
        -tf.reduce_sum(mask * log_likelihood) / tf.maximum(tf.reduce_sum(mask), 1.0)
    )


class FrameNll(keras.metrics.Metric):
    """NLL per frame over a whole split: total NLL / total frames, as published."""

    def __init__(self, name: str = "nll", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable((), initializer="zeros", name="total")
        self.frames = self.add_variable((), initializer="zeros", name="frames")

    def update_state(self, mask, log_likelihood, sample_weight=None):
        self.total.assign_add(-tf.reduce_sum(mask * log_likelihood))
        self.frames.assign_add(tf.reduce_sum(mask))

    def result(self):
        return self.total / tf.maximum(self.frames, 1.0)


class Music(Task):
    """One-to-many: piano rolls -> new music (JSB chorales, MIDI in and out)."""

    name = "music"
    Config = MusicConfig
    Training = MusicTraining
    PredictOptions = GenerateOptions
    monitor = "val_nll"
    higher_is_better = False

    @property
    def head_name(self) -> str:
        """How metrics are named: `sigmoid` or `joint` (the NADE head)."""
        return "joint" if self.config.head == "nade" else "sigmoid"

    @property
    def headline_metric(self) -> str:
        return f"nll_{self.head_name}"

    @property
    def dataset_name(self) -> str:
        return SOURCES[config_name(self.config.corpus, self.config.frames_per_beat)].title

    def load(self) -> dict[str, Examples]:
        config = self.config
        if self.data.dataset:
            splits = read_own_music(self.data.dataset, config.frames_per_beat, config.bad_midi)
        else:
            splits = load_polyphonic(
                config.corpus,
                config.frames_per_beat,
                self.data.data_mirror or None,
                self.data.data_dir or None,
            )
        return {split: rolls_as_examples(rolls) for split, rolls in splits.items()}

    def adapt(self, train: Examples) -> None:
        """The keys' training frequencies, as log-odds: the head's starting
        biases; and the keys heard in training, widened by a minor third each
        way: the range the keyboard stack models."""
        frames = np.concatenate(list(train.inputs))
        probability = training_key_frequency([frames])
        heard = np.flatnonzero(frames.any(axis=0))
        low, high = (heard.min(), heard.max() + 1) if len(heard) else (0, KEYS)
        self.restore(
            {
                "key_log_odds": np.log(probability / (1 - probability)).tolist(),
                "key_range": [int(max(low - 3, 0)), int(min(high + 3, KEYS))],
            }
        )

    def state(self) -> dict:
        return {"key_log_odds": self.key_log_odds, "key_range": self.key_range}

    def restore(self, state: dict) -> None:
        self.key_log_odds = state["key_log_odds"]
        self.key_range = state.get("key_range", [0, KEYS])  # runs from before the keyboard

    def batches(self, examples: Examples, training: bool, epoch: int = 0) -> tf.data.Dataset:
        """`(roll, mask)` batches: padded frames have mask 0 and no loss."""

        def masked():
            rolls = tf.RaggedTensor.from_row_lengths(
                np.concatenate(list(examples.inputs)).astype("float32"), frame_counts(examples)
            )
            dataset = tf.data.Dataset.from_tensor_slices(rolls)
            return dataset.map(with_mask, num_parallel_calls=tf.data.AUTOTUNE).cache()

        dataset, seed = self.cached(examples, masked), self.shuffle_seed(epoch)
        if training and self.config.transpose:
            dataset = dataset.enumerate().map(
                lambda index, piece: self._transpose(*piece, key=tf.stack([seed, index])),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        return bucketed_batches(
            dataset, frame_count, self.training.batch_size, training=training, seed=seed
        )

    def _transpose(self, roll, mask, key):
        """The piece shifted by a random number of semitones, drawn by `key`
        (the epoch's seed and the piece) alone; notes pushed off the keyboard
        are dropped."""
        reach = self.config.transpose
        shift = tf.random.stateless_uniform([], key, -reach, reach + 1, dtype=tf.int32)
        padded = tf.pad(roll, [[0, 0], [reach, reach]])
        return padded[:, reach - shift : reach - shift + KEYS], mask

    def count_tokens(self, batches: tf.data.Dataset) -> tuple[int, int]:
        """(real, padded) frames: throughput is counted in frames."""
        real = padded = 0
        for _, mask in batches:
            real += int(tf.reduce_sum(mask))
            padded += int(tf.size(mask))
        return real, padded

    def build_model(self) -> keras.Model:
        """piano roll -> log-likelihood of each frame given the frames before it."""
        config = self.config
        frames = keras.Input((None, KEYS), name="piano_roll")
        previous = PreviousFrames(name="previous_frames")(frames)
        context = recurrent_stack(
            previous,
            cell=config.cell,
            units=config.units,
            depth=config.depth,
            dropout=config.dropout,
            recurrent_dropout=config.recurrent_dropout,
            name="encoder",
        )
        context = layers.Dropout(config.output_dropout, name="output_dropout")(context)
        parts = [context, previous] if config.input_skip else [context]
        if config.keyboard_units:
            low, high = self.key_range
            keyboard = dict(low=low, high=high, cell=config.cell, units=config.keyboard_units)
            parts.append(keyboard_scores(previous, context, **keyboard))
        if len(parts) > 1:
            context = layers.Concatenate(name="context")(parts)
        if config.head == "nade":
            head = Nade(
                config.nade_hidden, KEYS, self.key_log_odds, name="frame_head", dtype="float32"
            )
        else:
            head = IndependentKeys(
                KEYS,
                self.key_log_odds,
                bool(config.keyboard_units),
                name="frame_head",
                dtype="float32",
            )
        return keras.Model(frames, head(context, frames), name="music")

    def final_step_only(self, inputs, mask) -> tuple:
        """The piece's last real frame alone: its mask is the target."""
        return last_steps(tf.reduce_sum(mask, axis=1), tf.shape(mask)[1]), None

    def compile_arguments(self) -> dict:
        return {"loss": masked_nll, "metrics": [FrameNll()]}

    def callbacks(self, model: keras.Model, splits) -> list:
        """Smaller steps once validation NLL stalls: the last few hundredths
        of a nat come from there."""
        if self.config.lr_decay == 1.0:
            return []
        return [
            keras.callbacks.ReduceLROnPlateau(
                self.monitor,
                self.config.lr_decay,
                self.config.lr_patience,
                mode=self.monitor_mode,
                min_lr=1e-5,
            )
        ]

    def serving(self, model: keras.Model) -> Serving:
        """`generate` (seed frames -> piano roll) and `log_likelihood` (scores)."""
        config = self.config
        cells = stack_cells(model, config.cell, config.depth)
        head = model.get_layer("frame_head")
        trunk = keras.Model(model.input, head.input[0])  # what the head reads
        input_skip = config.input_skip
        samples = config.marginal_samples

        def generate_roll(primer, steps, temperature, seed):
            checks = [
                tf.debugging.assert_positive(temperature, message="temperature must be > 0"),
                tf.debugging.assert_non_negative(steps, message="steps must be >= 0"),
            ]
            with tf.control_dependencies(checks):
                if config.keyboard_units:
                    frames = generate_by_rereading(trunk, head, primer, steps, temperature, seed)
                else:
                    frames = generate(cells, head, primer, steps, temperature, seed, input_skip)
            return {"piano_roll": tf.concat([primer, frames], axis=1)}

        def log_likelihood(piano_roll, lengths):
            mask = tf.sequence_mask(lengths, tf.shape(piano_roll)[1], tf.float32)
            context = trunk(piano_roll, training=False)
            return {
                "log_likelihood": head(context, piano_roll) * mask,
                "key_probability": key_probability(head, context, samples) * mask[..., None],
            }

        rolls = tf.TensorSpec([None, None, KEYS], tf.float32, name="piano_roll")
        return Serving(
            {
                "generate": Endpoint(
                    generate_roll,
                    [
                        tf.TensorSpec([None, None, KEYS], tf.float32, name="primer"),
                        tf.TensorSpec([], tf.int32, name="steps"),
                        tf.TensorSpec([], tf.float32, name="temperature"),
                        tf.TensorSpec([], tf.int64, name="seed"),
                    ],
                ),
                "log_likelihood": Endpoint(
                    log_likelihood, [rolls, tf.TensorSpec([None], tf.int32, name="lengths")]
                ),
            },
            [trunk],
        )

    def test_outputs(self, export, examples: Examples) -> dict:
        """Per piece: each frame's log-likelihood and each key's probability."""
        lengths = frame_counts(examples)

        def padded(chosen):
            rolls = np.zeros((len(chosen), lengths[chosen].max(), KEYS), dtype="float32")
            for row, index in enumerate(chosen):
                rolls[row, : lengths[index]] = examples.inputs[index]
            return [tf.constant(rolls), tf.constant(lengths[chosen], tf.int32)]

        return predict(
            export.log_likelihood, examples.inputs, arguments=padded, steps=lengths, batch_size=16
        )

    def score(self, outputs: dict, examples: Examples) -> dict:
        return frame_scores(
            outputs["log_likelihood"], outputs["key_probability"], examples.inputs, self.head_name
        )

    def baselines(self, splits) -> dict:
        """Models with no recurrence, scored by the same metric on the same test."""
        rolls = splits.test.inputs
        return {
            name: frame_scores(*model(splits.train.inputs, rolls), rolls, self.head_name)
            for name, model in (
                ("key_frequency", key_frequency),
                ("previous_frame_logistic", previous_frame_logistic),
            )
        }

    def predict(self, export, raw: list[str], options: GenerateOptions) -> list[dict]:
        """Generates after the primer typed on the line (chords, or one MIDI file)."""
        primer = self._primer(raw)
        result = export.generate(
            tf.constant(primer[None], tf.float32),
            tf.constant(options.steps, tf.int32),
            tf.constant(options.temperature, tf.float32),
            tf.constant(options.sample_seed, tf.int64),
        )
        roll = result["piano_roll"].numpy()[0].astype("uint8")
        row = {
            "primer": [pitch_names(frame) for frame in primer],
            "generated": [pitch_names(frame) for frame in roll[len(primer) :]],
        }
        if options.out:
            row |= write_piece(
                roll,
                Path(options.out),
                self.config.frames_per_beat,
                options.tempo,
                options.wav,
                primer=len(primer),
            )
        return [row]

    def _primer(self, raw: list[str]) -> np.ndarray:
        """`(frames, 88)`: one frame per chord given, or a MIDI file's frames."""
        if not raw:
            return np.zeros((0, KEYS), dtype="uint8")
        if len(raw) == 1 and raw[0].lower().endswith(MIDI_SUFFIXES):
            return read_midi(raw[0], self.config.frames_per_beat)
        try:
            return np.stack([parse_chord(chord) for chord in raw])
        except ValueError as error:
            raise DataFormatError(f"--predict: {error}") from None
