"""Music end to end: the NLL metric, the NADE head, one-to-many generation,
a real JSB run exported and reloaded, your own .mat file, a synthetic progression."""

import itertools
import math
from pathlib import Path

import keras
import numpy as np
import pytest
import scipy.io
import tensorflow as tf
from helpers import outputs_in_fresh_process

import train
from core import runner
from core.config import DataConfig, TrainingConfig
from core.evaluation import evaluate
from core.export import latest_version, load_export
from data.errors import DataFormatError
from data.midi import KEYS, parse_chord, read_midi, roll_to_midi, write_midi
from models.nade import IndependentKeys, Nade
from models.sampling import generate, generate_by_rereading, stack_cells, step
from tasks import load_task
from tasks.music.scores import frame_scores
from tasks.music.task import (
    FrameNll,
    GenerateOptions,
    Music,
    MusicConfig,
    masked_nll,
    rolls_as_examples,
)

TINY_MUSIC = dict(
    units=8,
    nade_hidden=6,
    dropout=0.0,
    recurrent_dropout=0.0,
    output_dropout=0.0,
    marginal_samples=20,
)


def tiny_task(head="sigmoid", dataset="", mirror="", data_dir="", config=None, **train):
    settings = dict(epochs=1, batch_size=8, patience=5, learning_rate=1e-2) | train
    return Music(
        MusicConfig(**(TINY_MUSIC | {"head": head} | (config or {}))),
        TrainingConfig(**settings),
        DataConfig(dataset=str(dataset), data_mirror=mirror, data_dir=str(data_dir)),
    )


def test_transposed_training_copies_shift_whole_pieces_and_drop_keys_off_the_keyboard():
    """`--transpose 2`: each training piece moves by one random shift in
    [-2, 2] semitones, every frame alike; validation pieces stay as they are."""

    def roll_of(keys):  # one key per frame; keys off the keyboard are left out
        roll = np.zeros((len(keys), KEYS), "float32")
        for frame, key in enumerate(keys):
            if 0 <= key < KEYS:
                roll[frame, key] = 1.0
        return roll

    keys = np.array([0, 40, KEYS - 1])  # lowest key, a middle one, highest
    roll = roll_of(keys)
    task = tiny_task(config={"transpose": 2}, batch_size=1, seed=3)
    pieces = [roll] * 40
    shifts = set()
    for batch, _ in task.batches(rolls_as_examples(pieces), training=True):
        shift = int(np.flatnonzero(batch[0, 1])[0]) - 40
        shifts.add(shift)
        np.testing.assert_array_equal(batch[0], roll_of(keys + shift))
    assert shifts == {-2, -1, 0, 1, 2}
    for batch, _ in task.batches(rolls_as_examples(pieces), training=False):
        np.testing.assert_array_equal(batch[0], roll)


def test_nll_of_a_known_probability_table_equals_the_metric():
    """Keys on with fixed probabilities: the head's log-likelihood, the training
    metric and the benchmark score all equal the NLL summed by hand over every
    frame and divided by the number of frames (not a mean of piece means)."""
    probability = np.full(KEYS, 0.1)
    probability[[39, 43, 46]] = [0.8, 0.6, 0.3]
    head = IndependentKeys()
    head(np.zeros((1, 1, 2), "float32"), np.zeros((1, 1, KEYS), "float32"))
    head.logits.kernel.assign(np.zeros((2, KEYS)))
    head.logits.bias.assign(np.log(probability / (1 - probability)))
    pieces = [np.stack([parse_chord(c) for c in chords]).astype("float32") for chords in
              (["C4 E4 G4", "C4 E4", "E4 G4 C5"], ["C4"])]  # fmt: skip

    def by_hand(frame):
        return -sum(math.log(p if on else 1 - p) for p, on in zip(probability, frame, strict=True))

    nll = [[by_hand(frame) for frame in piece] for piece in pieces]
    log_likelihoods = [head(np.zeros((1, len(p), 2), "float32"), p[None])[0] for p in pieces]
    for computed, expected in zip(log_likelihoods, nll, strict=True):
        np.testing.assert_allclose(-np.asarray(computed), expected, rtol=1e-5)

    scores = frame_scores(
        [np.asarray(values) for values in log_likelihoods],
        [np.broadcast_to(probability, piece.shape) for piece in pieces],
        pieces,
        "sigmoid",
    )
    total = sum(map(sum, nll))
    assert scores["nll_sigmoid"] == pytest.approx(total / 4)
    assert scores["nll_sigmoid"] != pytest.approx(np.mean([np.mean(n) for n in nll]))
    assert scores["nll_sigmoid_without_first_frame"] == pytest.approx(sum(nll[0][1:]) / 2)
    truth = np.concatenate(pieces)
    hits = (truth * probability).sum()
    accuracy = hits / (probability.sum() * 4 + truth.sum() - hits)
    assert scores["frame_accuracy_sigmoid"] == pytest.approx(accuracy)

    # The training loss and metric see the same pieces padded into one batch.
    padded = np.zeros((2, 3), "float32")
    padded[0], padded[1, 0] = [-n for n in nll[0]], -nll[1][0]
    mask = np.array([[1, 1, 1], [1, 0, 0]], "float32")
    metric = FrameNll()
    metric.update_state(mask, padded)
    assert float(metric.result()) == pytest.approx(total / 4, rel=1e-5)
    assert float(masked_nll(mask, padded)) == pytest.approx(total / 4, rel=1e-5)


def all_frames(keys):
    return np.array(list(itertools.product([0, 1], repeat=keys)), dtype="float32")


def test_nade_is_a_distribution_and_its_samples_follow_it():
    """Over 4 keys, the 16 frames' probabilities sum to 1, and 20,000 sampled
    frames match them (and the estimated key marginals) within 5 standard errors."""
    keras.utils.set_random_seed(3)
    nade = Nade(hidden_units=5, keys=4)
    context = np.random.default_rng(0).normal(size=(1, 3)).astype("float32")
    frames = all_frames(4)
    probability = np.exp(nade(np.repeat(context, 16, axis=0), frames).numpy())
    assert probability.sum() == pytest.approx(1.0, abs=1e-5)
    assert probability.max() < 0.5, "a degenerate distribution would prove little"

    draws = 20_000
    uniform = np.random.default_rng(1).random((draws, 4)).astype("float32")
    sampled = nade.sample(np.repeat(context, draws, axis=0), uniform).numpy()
    codes = sampled @ (2 ** np.arange(3, -1, -1))
    frequency = np.bincount(codes.astype(int), minlength=16) / draws
    np.testing.assert_allclose(frequency, probability, atol=5 * math.sqrt(0.25 / draws))

    estimated = nade.key_probability(context, uniform[:, None, :]).numpy()[0]
    np.testing.assert_allclose(estimated, probability @ frames, atol=5 * math.sqrt(0.25 / draws))


def test_stepping_the_cells_reproduces_the_sequence_model():
    """Generation steps the very cells training ran over whole sequences (two LSTM layers)."""
    task = tiny_task(config={"cell": "lstm", "depth": 2})
    task.restore({"key_log_odds": [0.0] * KEYS})
    model = task.build_model()
    trunk = keras.Model(model.input, model.get_layer("output_dropout").output)
    roll = (np.random.default_rng(0).random((2, 7, KEYS)) < 0.05).astype("float32")
    cells = stack_cells(model, "lstm", 2)
    states = [[tf.zeros((2, 8)), tf.zeros((2, 8))] for _ in cells]
    inputs, outputs = np.concatenate([np.zeros((2, 1, KEYS), "float32"), roll[:, :-1]], 1), []
    for index in range(7):
        output, states = step(cells, inputs[:, index], states)
        outputs.append(output)
    np.testing.assert_allclose(np.stack(outputs, 1), trunk(roll), atol=1e-5)


def test_rereading_the_piece_samples_what_stepping_the_cells_samples():
    """The keyboard stack cannot be stepped, so its pieces are generated by
    rereading; on a model that can be stepped both give the same piece."""
    task = tiny_task(config={"depth": 2})
    task.restore({"key_log_odds": [-2.0] * KEYS})
    model = task.build_model()
    trunk = keras.Model(model.input, model.get_layer("context").output)
    head, cells = model.get_layer("frame_head"), stack_cells(model, "gru", 2)
    primer = np.stack([parse_chord("C4 E4 G4"), parse_chord("B3 D4 G4")])[None].astype("float32")
    settings = (tf.constant(primer), tf.constant(10), tf.constant(1.5), tf.constant(3, tf.int64))
    stepped = generate(cells, head, *settings, input_skip=True)
    reread = generate_by_rereading(trunk, head, *settings)
    assert stepped.shape == (1, 10, KEYS) and np.asarray(stepped).any()
    np.testing.assert_array_equal(reread, stepped)


@pytest.mark.parametrize(
    "config",
    [{"head": "sigmoid"}, {"head": "nade", "input_skip": False}, {"keyboard_units": 4}],
)
def test_generation_is_one_to_many_and_reproducible(config):
    """One chord in, N frames out; a seed fixes them, another seed changes them;
    an empty primer and a batch of primers work; temperature must be positive."""
    task = tiny_task(config=config)
    task.restore({"key_log_odds": [-2.0] * KEYS})
    endpoint = task.serving(task.build_model()).endpoints["generate"]
    generate = tf.function(endpoint.function, input_signature=endpoint.signature)
    chord = parse_chord("C4 E4 G4")[None, None].astype("float32")

    def piece(primer, steps=12, temperature=1.0, seed=5):
        return generate(
            primer, tf.constant(steps), tf.constant(temperature), tf.constant(seed, tf.int64)
        )["piano_roll"].numpy()

    first = piece(chord)
    assert first.shape == (1, 13, KEYS)
    np.testing.assert_array_equal(first[0, 0], chord[0, 0])
    assert set(np.unique(first)) <= {0.0, 1.0} and first[0, 1:].any()
    np.testing.assert_array_equal(piece(chord), first)
    assert not np.array_equal(piece(chord, seed=6), first)
    assert piece(np.zeros((1, 0, KEYS), "float32"), steps=3).shape == (1, 3, KEYS)
    assert piece(np.repeat(chord, 3, axis=0), steps=2).shape == (3, 3, KEYS)
    assert piece(chord, steps=0).shape == (1, 1, KEYS)
    with pytest.raises(tf.errors.InvalidArgumentError, match="temperature must be > 0"):
        piece(chord, temperature=0.0)


@pytest.fixture(scope="module")
def jsb_run(tmp_path_factory, mirror, tfds_dir):
    """Two training steps of a tiny NADE model on the real chorales, exported."""
    run_dir = tmp_path_factory.mktemp("jsb") / "run"
    task = tiny_task("nade", mirror=mirror, data_dir=tfds_dir, limit=16, steps_per_epoch=2)
    runner.run(task, run_dir)
    return run_dir


@pytest.fixture(scope="module")
def keyboard_run(tmp_path_factory, mirror, tfds_dir):
    """The same, with independent keys and the keyboard stack, whose export
    generates by rereading the piece."""
    run_dir = tmp_path_factory.mktemp("jsb") / "keyboard"
    task = tiny_task(
        mirror=mirror,
        data_dir=tfds_dir,
        config={"keyboard_units": 4},
        limit=16,
        steps_per_epoch=2,
    )
    runner.run(task, run_dir)
    return run_dir


@pytest.mark.parametrize("run", ["jsb_run", "keyboard_run"])
def test_real_run_generates_identically_after_reload_in_a_fresh_process(run, request):
    run_dir = request.getfixturevalue(run)
    export = load_export(latest_version(run_dir / "export"))
    primer = np.stack([parse_chord("C4 E4 G4"), parse_chord("B3 D4 G4")])[None]
    here = export.generate(
        tf.constant(primer, tf.float32), tf.constant(16), tf.constant(0.8), tf.constant(7, tf.int64)
    )["piano_roll"].numpy()
    there = outputs_in_fresh_process(
        latest_version(run_dir / "export"),
        {
            "primer": (primer.tolist(), "float32"),
            "steps": (16, "int32"),
            "temperature": (0.8, "float32"),
            "seed": (7, "int64"),
        },
        signature="generate",
    )
    assert here.shape == (1, 18, KEYS)
    np.testing.assert_array_equal(np.asarray(there["piano_roll"]), here)


def test_jsb_mat_as_your_own_dataset_gives_the_benchmark_splits(mirror, tfds_dir):
    """`--dataset JSB_Chorales.mat` reads the file's own splits: the very rolls
    (and fingerprint) the benchmark's builder gives, none carved at random."""
    mat = Path(mirror) / "polyphonic-music-mat" / "JSB_Chorales.mat"
    own = tiny_task(dataset=mat).splits()
    benchmark = tiny_task(mirror=mirror, data_dir=tfds_dir).splits()
    assert [len(split) for split in own] == [229, 76, 77]
    for ours, theirs in zip(own, benchmark, strict=True):
        for read, built in zip(ours.inputs, theirs.inputs, strict=True):
            assert read.dtype == built.dtype
            np.testing.assert_array_equal(read, built)
    assert runner.fingerprint(own) == runner.fingerprint(benchmark)


def cell_array(rolls):
    cells = np.empty((1, len(rolls)), dtype=object)
    cells[0, :] = [roll.astype("float64") for roll in rolls]  # as MATLAB saves doubles
    return cells


def test_your_own_mat_file_trains_on_its_own_splits_end_to_end(tmp_path):
    """A .mat of 24 / 4 / 6 pieces trains, exports and is scored on its own
    6 test pieces, its NLL under 3/4 of the key frequencies' it started from."""
    path = tmp_path / "progression.mat"
    rolls = progression(34, seed=1)
    scipy.io.savemat(
        path,
        {
            "traindata": cell_array(rolls[:24]),
            "validdata": cell_array(rolls[24:28]),
            "testdata": cell_array(rolls[28:]),
        },
    )
    task = tiny_task(dataset=path, epochs=4, learning_rate=3e-2)
    metrics = runner.run(task, tmp_path / "run")
    assert metrics["train_examples"] == 24
    report = evaluate(load_task(tmp_path / "run"), tmp_path / "run")
    assert report["test_examples"] == 6 and report["dataset"] == str(path)
    frequency = report["baselines"]["key_frequency"]["nll_sigmoid"]
    assert report["metrics"]["nll_sigmoid"] < 0.75 * frequency, report

    # Scored on another file's test pieces alone (`evaluate.py --dataset`):
    # the same progression, so about as well, beside the run's own scores.
    other = tmp_path / "more.mat"
    parts = {"traindata": rolls[:2], "validdata": rolls[2:3], "testdata": progression(5, seed=2)}
    scipy.io.savemat(other, {name: cell_array(pieces) for name, pieces in parts.items()})
    elsewhere = evaluate(load_task(tmp_path / "run"), tmp_path / "run", str(other))
    assert elsewhere["test_examples"] == 5 and elsewhere["baselines"] == {}
    assert elsewhere["metrics"]["nll_sigmoid"] < 0.75 * frequency, elsewhere
    assert (tmp_path / "run" / "elsewhere" / "more.mat" / "evaluation.json").exists()


def test_real_run_is_scored_through_the_export_beside_baselines(jsb_run):
    report = evaluate(load_task(jsb_run), jsb_run)
    assert report["test_examples"] == 77 and report["headline_metric"] == "nll_joint"
    metrics = report["metrics"]
    assert set(metrics) == {"nll_joint", "nll_joint_without_first_frame", "frame_accuracy"}
    assert 0 < metrics["nll_joint"] < 70 and 0 <= metrics["frame_accuracy"] <= 1
    for baseline in ("key_frequency", "previous_frame_logistic"):
        assert set(report["baselines"][baseline]) == set(metrics)
    assert report["baselines"]["previous_frame_logistic"]["nll_joint"] < 12


def test_predict_writes_the_piece_and_names_bad_chords(jsb_run, tmp_path):
    task = load_task(jsb_run)
    export = load_export(latest_version(jsb_run / "export"))
    options = GenerateOptions(steps=8, out=str(tmp_path / "piece.mid"), wav=True)
    (row,) = task.predict(export, ["C4 E4 G4"], options)
    assert row["primer"] == [["C4", "E4", "G4"]] and len(row["generated"]) == 8
    assert all(Path(row[kind]).is_file() for kind in ("midi", "png", "wav"))
    written = read_midi(row["midi"], 1)
    np.testing.assert_array_equal(written[0], parse_chord("C4 E4 G4"))
    with pytest.raises(DataFormatError, match="'H4' is neither"):
        task.predict(export, ["C4 H4"], options)


def progression(pieces, seed=0, frames=24):
    """Pieces cycling C, C, F, F, G, G from a random point: the next chord
    depends on two frames, so the previous frame alone cannot tell it."""
    cycle = [parse_chord(chord) for chord in ("C4 E4 G4", "F4 A4 C5", "G3 B3 D4")]
    starts = np.random.default_rng(seed).integers(6, size=pieces)
    return [np.stack([cycle[(start + t) % 6 // 2] for t in range(frames)]) for start in starts]


def write_progression(folder, pieces=48, seed=0):
    """The progression as MIDI files, one per piece."""
    folder.mkdir()
    for index, roll in enumerate(progression(pieces, seed)):
        write_midi(roll_to_midi(roll, 1), folder / f"piece{index:02d}.mid")
    return folder


def test_learns_a_progression_far_beyond_the_baselines(tmp_path):
    """Held out pieces of your own MIDI: the GRU's NLL per frame is under half
    of the first-order Markov (previous frame) baseline's."""
    folder = write_progression(tmp_path / "midi")
    task = tiny_task(dataset=folder, epochs=20, patience=20, learning_rate=3e-2)
    runner.run(task, tmp_path / "run")
    report = evaluate(load_task(tmp_path / "run"), tmp_path / "run")
    markov = report["baselines"]["previous_frame_logistic"]["nll_sigmoid"]
    assert report["metrics"]["nll_sigmoid"] < 0.5 * markov, report


def test_corpus_beside_your_own_dataset_is_refused_naming_both(tmp_path, capsys):
    """`--dataset` decides what is trained on; a `--corpus` beside it would
    be ignored, so giving both is an error, not a silent choice."""
    with pytest.raises(SystemExit) as stop:
        train.main(["music", "--corpus", "nottingham", "--dataset", str(tmp_path)])
    assert stop.value.code == 2
    assert "error: --corpus has no effect with --dataset: give one of them" in (
        capsys.readouterr().err
    )
