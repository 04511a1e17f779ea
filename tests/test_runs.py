"""Runs you can trust: the same command gives the same run, bit for bit,
whether it ran once or was killed (SIGKILL) anywhere and started again."""

import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
from conftest import ROOT, TINY_SENTIMENT
from test_sentiment import synthetic_reviews, tiny_task

from core import runner
from core.evaluation import evaluate
from tasks import load_task

# `python KILLER POINT TRAIN_ARGS...` runs train.py and kills itself with
# SIGKILL at POINT: `batch:EPOCH,BATCH` after that training step, `export`
# once the SavedModel is written but not yet moved into place.
KILLER = """
import os, runpy, signal, sys

import keras

point, arguments = sys.argv[1], sys.argv[2:]


def die():
    os.kill(os.getpid(), signal.SIGKILL)


if point.startswith("batch:"):
    from tasks.sentiment.task import Sentiment

    at = tuple(map(int, point.removeprefix("batch:").split(",")))

    class Kill(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if (self.epoch, batch) == at:
                die()

    callbacks = Sentiment.callbacks
    Sentiment.callbacks = lambda self, *args: [*callbacks(self, *args), Kill()]
else:
    archive = type(keras.export.ExportArchive())  # the backend's own class
    write_out = archive.write_out

    def write_out_and_die(self, *args, **kwargs):
        write_out(self, *args, **kwargs)
        die()

    archive.write_out = write_out_and_die
sys.argv = ["train.py", *arguments]
runpy.run_path("train.py", run_name="__main__")
"""


def tiny_command(reviews, run_dir) -> list[str]:
    """A tiny sentiment run with every source of randomness on: dropout,
    shuffling, a weight average."""
    sizes = [f"--{name.replace('_', '-')}={value}" for name, value in TINY_SENTIMENT.items()]
    return [
        "sentiment",
        f"--dataset={reviews}",
        f"--run-dir={run_dir}",
        *sizes,
        "--epochs=3",
        "--batch-size=16",
        "--learning-rate=0.01",
        "--ema=0.9",
    ]


def train(arguments, killed_at=None) -> subprocess.CompletedProcess:
    script = ["-c", KILLER, killed_at] if killed_at else ["train.py"]
    return subprocess.run(
        [sys.executable, *script, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )


def weights(path) -> dict[str, np.ndarray]:
    """The arrays of a weights file, or of a run directory's best weights."""
    found = {}
    with h5py.File(path / "best.weights.h5" if path.is_dir() else path) as file:
        file.visititems(
            lambda name, item: (
                found.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None
            )
        )
    return found


def assert_same_run(expected, actual):
    """Weights bit for bit, validation metrics, and every epoch's logs but its times."""
    first, second = weights(expected), weights(actual)
    assert sorted(first) == sorted(second)
    for name, value in first.items():
        np.testing.assert_array_equal(value, second[name], err_msg=name)
    for name in ("metrics.json", "state.json"):
        ours, theirs = (json.loads((run / name).read_text()) for run in (expected, actual))
        for timing in ("train_seconds", "tokens_per_second", "padded_tokens_per_second"):
            ours.pop(timing, None), theirs.pop(timing, None)
        assert ours == theirs, name

    def untimed(run):
        history = runner.read_history(run / "history.csv")
        return [{k: v for k, v in row.items() if not k.endswith("_seconds")} for row in history]

    assert untimed(expected) == untimed(actual)


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    return synthetic_reviews(tmp_path_factory.mktemp("data") / "reviews.csv")


@pytest.fixture(scope="module")
def reference_run(reviews, tmp_path_factory):
    """The tiny run, never interrupted."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    result = train(tiny_command(reviews, run_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


def test_the_same_command_twice_gives_the_same_weights_and_metrics(
    reviews, reference_run, tmp_path
):
    result = train(tiny_command(reviews, tmp_path / "again"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert_same_run(reference_run, tmp_path / "again")
    assert (
        evaluate(load_task(reference_run), reference_run)["metrics"]
        == evaluate(load_task(tmp_path / "again"), tmp_path / "again")["metrics"]
    )


@pytest.mark.parametrize(
    ("killed_at", "checkpoint_minutes"),
    [
        ("batch:1,5", "0"),  # mid-epoch, just after a mid-epoch checkpoint
        ("batch:1,5", "60"),  # mid-epoch, the epoch's first steps redone
        ("export", "60"),  # the SavedModel written, not yet in place
    ],
)
def test_a_run_killed_anywhere_then_rerun_ends_as_if_never_killed(
    reviews, reference_run, tmp_path, killed_at, checkpoint_minutes
):
    command = [
        *tiny_command(reviews, tmp_path / "run"),
        f"--checkpoint-minutes={checkpoint_minutes}",
    ]
    killed = train(command, killed_at)
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert not (tmp_path / "run" / "metrics.json").exists()
    resumed = train(command)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    if checkpoint_minutes == "0":  # a log shows progress at every mid-epoch checkpoint
        assert "batches in" in resumed.stdout and "checkpoint saved" in resumed.stdout
    assert_same_run(reference_run, tmp_path / "run")
    assert sorted(path.name for path in (tmp_path / "run" / "export").iterdir()) == ["1"]
    assert not list((tmp_path / "run").glob(".tmp-*"))


def snapshot(folder) -> dict:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_a_resume_with_other_data_is_refused_and_changes_nothing(reviews, tmp_path):
    command = tiny_command(reviews, tmp_path / "run")
    assert train(command, killed_at="batch:1,2").returncode == -9
    before = snapshot(tmp_path / "run")

    other = synthetic_reviews(tmp_path / "other.csv", seed=1)
    refused = train([*command, f"--dataset={other}"])
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert f"other data settings: dataset {str(reviews)!r} (now {str(other)!r})" in refused.stderr

    shutil.copy(other, reviews.with_name("edited.csv"))
    edited = [*command, f"--dataset={reviews.with_name('edited.csv')}"]
    refused_edit = train(edited)
    assert "other data settings" in refused_edit.stderr
    assert snapshot(tmp_path / "run") == before


def test_a_file_changed_under_a_run_is_refused(tmp_path):
    data = synthetic_reviews(tmp_path / "reviews.csv", count=200)
    runner.run(tiny_task(data, epochs=1), tmp_path / "run")
    synthetic_reviews(data, count=200, seed=1)  # the same path, other reviews
    with pytest.raises(FileExistsError, match="trained on other data"):
        runner.run(tiny_task(data, epochs=1), tmp_path / "run")
    with pytest.raises(FileExistsError, match=r"other train settings: epochs 1 \(now 2\)"):
        runner.run(tiny_task(synthetic_reviews(data, count=200), epochs=2), tmp_path / "run")


def test_a_finished_run_given_again_is_returned_untouched(tmp_path):
    data = synthetic_reviews(tmp_path / "reviews.csv", count=200)
    metrics = runner.run(tiny_task(data, epochs=1), tmp_path / "run")
    before = snapshot(tmp_path / "run")
    assert runner.run(tiny_task(data, epochs=1), tmp_path / "run") == metrics
    assert snapshot(tmp_path / "run") == before


def test_the_test_rows_carved_from_a_file_do_not_move_with_the_seed(tmp_path):
    data = synthetic_reviews(tmp_path / "reviews.csv", count=300)
    first, second = (tiny_task(data, seed=seed).splits() for seed in (0, 1))
    np.testing.assert_array_equal(first.test.inputs, second.test.inputs)
    assert not np.array_equal(first.validation.inputs, second.validation.inputs)
    assert set(second.train.inputs).isdisjoint(second.test.inputs)


def test_the_benchmark_command_combines_seeds_into_mean_std_and_per_seed(
    tmp_path, monkeypatch, capsys
):
    """`evaluate.py --benchmark` over the runs of seeds 0, 1, 2: one file whose
    headline metric has its mean, standard deviation and per-seed values,
    with each run's settings, commit and command, and the command itself."""
    import core.evaluation
    import evaluate as evaluate_command

    data = synthetic_reviews(tmp_path / "reviews.csv", count=200)
    runs = [tmp_path / f"run-s{seed}" for seed in (0, 1, 2)]
    for seed, run_dir in enumerate(runs):
        runner.run(tiny_task(data, epochs=1, seed=seed), run_dir, f"python train.py s{seed}")
    readme = tmp_path / "README.md"
    readme.write_text("<!-- results:start -->\n<!-- results:end -->\n")
    monkeypatch.setattr(core.evaluation, "BENCHMARKS", tmp_path)
    monkeypatch.setattr(core.evaluation, "README", readme)
    evaluate_command.main(["sentiment", "--model", *map(str, runs), "--benchmark"])
    report = json.loads((tmp_path / "sentiment.json").read_text())
    accuracy = report["metrics"]["accuracy"]
    assert report["seeds"] == [0, 1, 2] and len(accuracy["per_seed"]) == 3
    assert accuracy["mean"] == pytest.approx(np.mean(accuracy["per_seed"]))
    assert accuracy["std"] == pytest.approx(np.std(accuracy["per_seed"], ddof=1))
    assert report["commands"][:3] == [
        "python train.py s0",
        "python train.py s1",
        "python train.py s2",
    ]
    assert report["commands"][3].startswith("python evaluate.py sentiment --model")
    assert [run["seed"] for run in report["runs"]] == [0, 1, 2]
    assert all(run["source"]["commit"] for run in report["runs"])
    assert f"{accuracy['mean']:.4f} ± {accuracy['std']:.4f} | 3 |" in readme.read_text()
    assert "wrote" in capsys.readouterr().out


def test_a_run_is_clean_beside_benchmark_results_but_not_beside_changed_code(tmp_path):
    """One benchmark's uncommitted results (its JSON, pictures, README table)
    or a diary entry leave the next benchmark's runs clean; a changed or new
    source file does not."""

    def git(*arguments):
        subprocess.run(["git", "-C", str(tmp_path), *arguments], check=True, capture_output=True)

    (tmp_path / "benchmarks" / "music").mkdir(parents=True)
    for name in ("train.py", "README.md", "benchmarks/music.json", "benchmarks/memory.py"):
        (tmp_path / name).write_text("first\n")
    git("init", "--quiet")
    git("add", ".")
    git(
        "-c",
        "user.name=test",
        "-c",
        "user.email=test@example.com",
        "commit",
        "--quiet",
        "-m",
        "first",
    )
    assert runner.source_version(tmp_path)["clean"]

    (tmp_path / "README.md").write_text("a new results table\n")
    (tmp_path / "benchmarks" / "music.json").write_text("{}\n")
    (tmp_path / "benchmarks" / "music" / "chorale.png").write_text("picture\n")
    (tmp_path / "docs" / "experiments").mkdir(parents=True)
    (tmp_path / "docs" / "experiments" / "music.md").write_text("a diary entry\n")
    assert runner.source_version(tmp_path)["clean"]

    (tmp_path / "benchmarks" / "memory.py").write_text("changed\n")
    assert not runner.source_version(tmp_path)["clean"]
    (tmp_path / "benchmarks" / "memory.py").write_text("first\n")
    (tmp_path / "helper.py").write_text("new\n")
    version = runner.source_version(tmp_path)
    assert not version["clean"] and len(version["commit"]) == 40


def test_learning_rate_and_early_stopping_counters_survive_a_restart(tmp_path, monkeypatch):
    """A ReduceLROnPlateau that sees no progress every epoch (mode 'max' on a
    falling loss) cuts the rate every second epoch: a restart that lost its
    counters would cut it at other epochs."""
    import keras

    from tasks.sentiment.task import Sentiment

    class StopAt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == stop_at[0]:
                raise KeyboardInterrupt

    stop_at = [None]
    callbacks = Sentiment.callbacks
    monkeypatch.setattr(
        Sentiment,
        "callbacks",
        lambda self, *args: [
            *callbacks(self, *args),
            keras.callbacks.ReduceLROnPlateau("val_loss", 0.5, patience=2, mode="max"),
            StopAt(),
        ],
    )
    data = synthetic_reviews(tmp_path / "reviews.csv", count=200)
    runner.run(tiny_task(data, epochs=6, patience=6), tmp_path / "once")
    stop_at[0] = 3
    with pytest.raises(KeyboardInterrupt):
        runner.run(tiny_task(data, epochs=6, patience=6), tmp_path / "twice")
    stop_at[0] = None
    runner.run(tiny_task(data, epochs=6, patience=6), tmp_path / "twice")
    rates = [
        [row["learning_rate"] for row in runner.read_history(run / "history.csv")]
        for run in (tmp_path / "once", tmp_path / "twice")
    ]
    assert rates[0] == rates[1]
    np.testing.assert_allclose(rates[0], [0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025], rtol=1e-6)
