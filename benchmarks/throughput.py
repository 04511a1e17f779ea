"""benchmarks/throughput.json: the project's trainer against plain Keras, same model.

`python benchmarks/throughput.py` (or `make benchmark-throughput`) trains each
pair's two contenders for one epoch on the same training examples, at the
same batch size but for the project's sentiment default (see `PAIRS`): the
plain way a user writes the model by hand (this script's `--plain`), then
`train.py`, alternated round by round, each in a fresh process whose data
loading is not timed. Per round and as medians it records useful
timesteps per second (non-padding timesteps the model reads; windows x
lookback for forecasting), padded timesteps per second (batch x padded length)
and the seconds of the epoch's training steps, as `core.runner` counts them
(the first step's tracing included, validation not); and the project over
plain Keras in useful timesteps per second, the median of the rounds' ratios.
docs/experiments/throughput.md says why each plain reference is the plain way.
"""

import argparse
import dataclasses
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers, ops  # noqa: E402

from core.evaluation import machine  # noqa: E402
from core.files import write_json  # noqa: E402
from core.fitting import read_history  # noqa: E402
from core.runner import source_version  # noqa: E402
from tasks import TASKS  # noqa: E402
from train import parser as train_parser  # noqa: E402
from train import settings  # noqa: E402

OUTPUT = ROOT / "benchmarks" / "throughput.json"
SENTIMENT = (
    "--depth 2 --units 64 --bigram-vocabulary-size 0 --vocabulary-size 20000 "
    "--pooling last --dropout 0 --head-dropout 0"
)
# Per pair: the task, and the project's options that make its model the plain
# one's. The project trains sentiment at its default batch, 128 (chosen by the
# time to a validation target, docs/experiments/throughput.md); the plain way
# keeps the Keras example's 32, and a pair at 32 on both sides separates the
# batch's share from the trainer's. Quick pairs first: a cut-off run keeps them.
PAIRS = {
    "sentiment-lstm": ("sentiment", f"--cell lstm {SENTIMENT}"),
    "sentiment-lstm-batch-32": (
        "sentiment",
        f"--cell lstm {SENTIMENT} --batch-size 32 --learning-rate 0.001",
    ),
    "forecasting": ("forecasting", ""),
    "sentiment-gru": ("sentiment", f"--cell gru {SENTIMENT}"),
    "pos": ("pos", ""),
}
EXAMPLE_BATCH = 32  # the Keras IMDB example's
PLAIN, PROJECT = "plain keras", "project trainer"
CELLS = {"lstm": layers.LSTM, "gru": layers.GRU}


def count(text: str) -> int:
    """An argparse type: a whole number >= 0."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def commands(pair: str, limit: int) -> dict[str, list[str]]:
    """Both contenders' command lines; `RUN` stands for the run directory."""
    task, flags = PAIRS[pair]
    budget, run = ["--limit", str(limit)] if limit else [], ["--run-dir", "RUN"]
    return {
        PLAIN: ["python", "benchmarks/throughput.py", "--plain", pair, *budget, *run],
        PROJECT: ["python", "train.py", task, *shlex.split(flags), "--epochs", "1", *budget, *run],
    }


def measure_once(command: list[str], run_dir: Path) -> dict:
    """Runs one contender in a fresh process; its epoch, read from `run_dir`.
    The project's seconds are history.csv's, the plain run's its metrics.json's."""
    words = [{"python": sys.executable, "RUN": str(run_dir)}.get(word, word) for word in command]
    result = subprocess.run(words, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode:
        raise RuntimeError(f"{shlex.join(command)} failed:\n{result.stderr[-3000:]}")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    if "batch_size" not in metrics:  # the project's run keeps it with its settings
        settings_file = json.loads((run_dir / "config.json").read_text())
        metrics["batch_size"] = settings_file["train"]["batch_size"]
    history = read_history(run_dir / "history.csv")  # the project's; a plain run writes none
    seconds = sum(row["fit_seconds"] for row in history) if history else metrics["fit_seconds"]
    return {
        "useful_tokens_per_second": metrics["tokens_per_second"],
        "padded_tokens_per_second": metrics["padded_tokens_per_second"],
        "fit_seconds": round(seconds, 1),
        "useful_tokens_per_epoch": metrics["tokens_per_epoch"],
        "batch_size": metrics["batch_size"],
    }


def measure(pair: str, rounds: int, limit: int, scratch: Path) -> dict:
    """Alternates the contenders `rounds` times; per-round values, medians and ratios."""
    lines = commands(pair, limit)
    rows = {name: {} for name in lines}
    ratios = []
    for round_number in range(rounds):
        speeds = {}
        for name, command in lines.items():
            run_dir = scratch / f"{pair}-{round_number}-{name.split()[0]}"
            measured = measure_once(command, run_dir)
            for key, value in measured.items():
                rows[name].setdefault(key, []).append(value)
            speeds[name] = measured["useful_tokens_per_second"]
            print(f"{pair}, round {round_number + 1}/{rounds}, {name}: {measured}", flush=True)
        ratios.append(round(speeds[PROJECT] / speeds[PLAIN], 3))
        print(f"{pair}, round {round_number + 1}/{rounds}: project/plain {ratios[-1]}", flush=True)
    for row in rows.values():
        row |= {
            f"median_{key}": statistics.median(values)
            for key, values in list(row.items())
            if key != "batch_size"
        }
    return {
        "plain_way": " ".join(PLAIN_WAYS[PAIRS[pair][0]].__doc__.split()),
        "commands": {name: shlex.join(command) for name, command in lines.items()},
        "rows": rows,
        "project_over_plain_per_round": ratios,
        "project_over_plain": statistics.median(ratios),
    }


def table(pairs: dict) -> str:
    """The medians as a markdown table."""
    lines = [
        "| pair | contender | batch | useful tokens/s | padded tokens/s | s/epoch "
        "| useful tokens/epoch | project/plain |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for pair, result in pairs.items():
        for name, row in result["rows"].items():
            ratio = result["project_over_plain"] if name == PROJECT else ""
            lines.append(
                f"| {pair} | {name} | {row['batch_size'][0]} "
                f"| {row['median_useful_tokens_per_second']:,.0f} "
                f"| {row['median_padded_tokens_per_second']:,.0f} | {row['median_fit_seconds']} "
                f"| {row['median_useful_tokens_per_epoch']:,.0f} | {ratio} |"
            )
    return "\n".join(lines)


class EpochClock(keras.callbacks.Callback):
    """Seconds from an epoch's start to its last step, as `core.fitting` counts them."""

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.started


def plain_sentiment(task, train) -> tuple:
    """The Keras IMDB bidirectional-LSTM example's way: the most frequent words
    by TextVectorization, each review's last 200 kept and pre-padded, no mask,
    batches of 32."""
    config = task.config
    vectorizer = layers.TextVectorization(max_tokens=config.vocabulary_size, ragged=True)
    vectorizer.adapt(train.inputs)
    ids = keras.utils.pad_sequences(vectorizer(train.inputs).to_list(), maxlen=200)
    inputs = keras.Input((None,), dtype="int32")
    hidden = layers.Embedding(config.vocabulary_size, config.embedding_dim)(inputs)
    for index in range(config.depth):
        cell = CELLS[config.cell](config.units, return_sequences=index < config.depth - 1)
        hidden = layers.Bidirectional(cell)(hidden)
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(hidden))
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    data = {"x": ids, "y": train.targets.astype("float32"), "batch_size": EXAMPLE_BATCH}
    return model, data, (int(np.count_nonzero(ids)), ids.size)


def plain_pos(task, train) -> tuple:
    """The TensorFlow tutorials' way: shuffled sentences, each batch padded to its
    longest by `padded_batch`, masked embeddings; every word slot of a batch,
    padding too, spelled by the character LSTM."""
    config, training = task.config, task.training
    sentences, words = train.inputs, [word for sentence in train.inputs for word in sentence]
    word_ids = ids_of([word.lower() for word in words])
    letter_ids = ids_of([letter for word in words for letter in word])
    tag_ids = ids_of([tag for tags in train.targets for tag in tags], first=0)
    lengths = [len(sentence) for sentence in sentences]
    spellings = [[letter_ids[letter] for letter in word] for word in words]
    width = config.max_word_characters
    characters = keras.utils.pad_sequences(spellings, width, padding="post", truncating="post")

    def per_sentence(values):
        return tf.RaggedTensor.from_row_lengths(values, lengths)

    dataset = tf.data.Dataset.from_tensor_slices(
        (
            (per_sentence([word_ids[word.lower()] for word in words]), per_sentence(characters)),
            per_sentence([tag_ids[tag] for tags in train.targets for tag in tags]),
        )
    )
    # A slice of a ragged tensor is typed ragged; padded_batch takes dense ones.
    dataset = dataset.map(lambda *pair: tf.nest.map_structure(tf.convert_to_tensor, pair))
    # Unshuffled between the passes, so the batches counted are the batches trained.
    dataset = dataset.shuffle(len(sentences), seed=0, reshuffle_each_iteration=False)
    dataset = dataset.padded_batch(training.batch_size).prefetch(tf.data.AUTOTUNE)
    useful = padded = 0
    for (word_batch, _), _ in dataset:
        useful += int(tf.math.count_nonzero(word_batch))
        padded += int(tf.size(word_batch))
    model = pos_model(config, len(word_ids) + 2, len(letter_ids) + 2, len(tag_ids))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, {"x": dataset}, (useful, padded)


def ids_of(items: list, first: int = 2) -> dict:
    """Each distinct item's id from `first` up (0 is padding, 1 unknown)."""
    return {item: index for index, item in enumerate(sorted(set(items)), start=first)}


def pos_model(config, words: int, letters: int, tags: int) -> keras.Model:
    """Word vectors beside a character BiLSTM per word, a BiLSTM stack, softmax."""
    word_input = keras.Input((None,), dtype="int32")
    letter_input = keras.Input((None, config.max_word_characters), dtype="int32")
    embedded = layers.Embedding(words, config.word_embedding_dim, mask_zero=True)(word_input)
    # Keras 3's TimeDistributed cannot take the gradient of an LSTM over a word
    # axis of unknown length, so the words fold into the batch and back.
    spelled = ops.reshape(letter_input, (-1, config.max_word_characters))
    spelled = layers.Embedding(letters, config.character_embedding_dim, mask_zero=True)(spelled)
    spelled = layers.Bidirectional(CELLS[config.character_encoder](config.character_units))(spelled)
    spelled = layers.Lambda(
        lambda pair: ops.reshape(pair[0], (ops.shape(pair[1])[0], -1, pair[0].shape[-1])),
        output_shape=(None, 2 * config.character_units),
    )([spelled, word_input])
    hidden = layers.Concatenate()([embedded, spelled])
    for _ in range(config.depth):
        hidden = layers.Dropout(config.dropout)(hidden)
        cell = CELLS[config.cell](config.units, return_sequences=True)
        hidden = layers.Bidirectional(cell)(hidden)
    hidden = layers.Dropout(config.output_dropout)(hidden)
    probabilities = layers.Dense(tags, activation="softmax")(hidden)
    return keras.Model([word_input, letter_input], probabilities)


def plain_forecasting(task, train) -> tuple:
    """Every training window in one numpy array, scaled by the training rows'
    statistics; the default's segment model (the task's own), plain Adam at
    its rate: no weight average, no daily cycle."""
    config, training = task.config, task.training
    task.adapt(train)
    windows = train.first(training.limit) if training.limit else train
    inputs = ((windows.inputs - task.mean) / task.scale).astype("float32")
    targets = ((windows.targets - task.mean) / task.scale).astype("float32")
    model = task.build_model()
    model.compile(keras.optimizers.Adam(training.learning_rate), config.loss, metrics=["mae"])
    steps = inputs.shape[0] * inputs.shape[1]
    return model, {"x": inputs, "y": targets, "batch_size": training.batch_size}, (steps, steps)


PLAIN_WAYS = {"sentiment": plain_sentiment, "pos": plain_pos, "forecasting": plain_forecasting}


def run_plain(pair: str, limit: int, run_dir: Path) -> None:
    """The plain contender of `pair`: the settings of the project's command
    line, one epoch of `model.fit` on the project's training split, and
    metrics.json under `core.runner`'s names."""
    keras.utils.set_random_seed(0)
    task, flags = PAIRS[pair]
    config, training, data = settings(train_parser().parse_args([task, *shlex.split(flags)]))
    training = dataclasses.replace(training, limit=limit)
    project = TASKS[task].task_class()(config, training, data)
    model, fitted, (useful, padded) = PLAIN_WAYS[task](project, project.splits().train)
    clock = EpochClock()
    model.fit(**fitted, epochs=1, verbose=2, callbacks=[clock])
    run_dir.mkdir(parents=True, exist_ok=True)
    metrics = {
        "batch_size": fitted.get("batch_size", training.batch_size),  # a dataset's is the task's
        "fit_seconds": clock.seconds,
        "tokens_per_epoch": useful,
        "tokens_per_second": round(useful / clock.seconds),
        "padded_tokens_per_second": round(padded / clock.seconds),
    }
    write_json(run_dir / "metrics.json", metrics)


def headline(pairs: dict) -> dict[str, float]:
    """Each pair's project over plain Keras (useful timesteps per second)."""
    return {
        f"{pair}_project_over_plain": result["project_over_plain"] for pair, result in pairs.items()
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=count, default=3, help="alternations per pair")
    parser.add_argument("--limit", type=count, default=0, help="training examples (0 = all)")
    parser.add_argument("--pairs", nargs="+", choices=PAIRS, default=list(PAIRS), metavar="PAIR")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where the report goes")
    parser.add_argument("--plain", choices=PAIRS, help="run one plain contender (a subprocess)")
    parser.add_argument("--run-dir", type=Path, help="where --plain writes metrics.json")
    options = parser.parse_args(argv)
    if options.plain:
        if options.run_dir is None:
            parser.error("--plain needs --run-dir")
        run_plain(options.plain, options.limit, options.run_dir)
        return
    if options.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not options.output.parent.is_dir():
        parser.error(f"--output: no folder {options.output.parent}")
    report = {
        "task": "throughput",
        "measures": __doc__.split("\n\n")[1].replace("\n", " ").strip(),
        "source": source_version(),
        "machine": machine(),
        "make_target": "make benchmark-throughput",
        "command": shlex.join(["python", "benchmarks/throughput.py", *argv]),
        "pairs": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        for pair in options.pairs:
            report["pairs"][pair] = measure(pair, options.rounds, options.limit, Path(folder))
            report["metrics"] = headline(report["pairs"])
            write_json(options.output, report)  # a benchmark cut off keeps its finished pairs
    print(table(report["pairs"]))


if __name__ == "__main__":
    main(sys.argv[1:])
