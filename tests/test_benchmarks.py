"""The benchmark file contract, and the README table generated from it."""

import argparse
import importlib.util
import json
import shlex
import subprocess

import pytest
from conftest import ROOT

from core.evaluation import (
    README,
    TABLE_END,
    TABLE_START,
    combine,
    mean_and_std,
    over_seeds,
    publish,
    results_table,
)
from tasks import TASKS

REQUIRED = {
    "task",
    "dataset",
    "split",
    "metrics",
    "baselines",
    "train_seconds",
    "machine",
    "commands",
    "source",
    "seeds",
    "runs",
    "headline_metric",
    "higher_is_better",
}
# The files that combine seeded runs of a task, as `evaluate.py --benchmark`
# does (memory's ladder reports otherwise).
BENCHMARK_FILES = sorted(
    path
    for path in (ROOT / "benchmarks").glob("*.json")
    if "headline_metric" in json.loads(path.read_text())
)
# Those a script writes, which its make target runs, rather than the target
# training each run itself (benchmarks/language_model.py).
SCRIPTED = {"language_model", "sentiment_pretrained"}


def load_script(name: str):
    """benchmarks/NAME.py as a module."""
    spec = importlib.util.spec_from_file_location(
        f"{name}_benchmark", ROOT / "benchmarks" / f"{name}.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def dry_run(target: str) -> str:
    """The command lines `make TARGET` would run, none of them run."""
    return subprocess.run(
        ["make", "--dry-run", "--always-make", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.mark.parametrize("path", BENCHMARK_FILES, ids=lambda path: path.stem)
def test_every_benchmark_file_keeps_the_contract(path):
    """Headline metrics over at least three seeds, from a clean commit, with
    each run's settings and source."""
    report = json.loads(path.read_text())
    assert REQUIRED <= set(report), f"{path.name} lacks {REQUIRED - set(report)}"
    assert report["task"] in TASKS and path.stem.startswith(report["task"])
    assert report["split"] == "test"
    headline = report["metrics"][report["headline_metric"]]
    assert len(report["seeds"]) >= 3 and len(headline["per_seed"]) == len(report["seeds"])
    assert headline["std"] is not None
    assert {"cores", "gpu"} <= set(report["machine"])
    for run in report["runs"]:
        assert run["source"]["clean"] and run["source"]["commit"], run["command"]
        assert {"config", "train", "data"} <= set(run["settings"])
    for metrics in report["baselines"].values():
        assert report["headline_metric"] in metrics


@pytest.mark.parametrize(
    "path", [path for path in BENCHMARK_FILES if path.stem not in SCRIPTED], ids=lambda p: p.stem
)
def test_each_benchmark_file_holds_the_commands_its_make_target_runs(path):
    """`make benchmark-TASK` regenerates the committed file: the same training
    runs of the task, combined by the same evaluation command (the runs of
    another task it starts from, say a language model, are that task's)."""
    report = json.loads(path.read_text())
    made = dry_run(f"benchmark-{report['task']}")

    def words(command: str) -> list[str]:
        words = shlex.split(command)
        return ["python", *words[1:]] if words[0].endswith("python") else words

    run = [
        words(line)
        for line in made.splitlines()
        if f" train.py {report['task']} " in line
        or (f" evaluate.py {report['task']} " in line and "--benchmark" in line)
    ]
    assert sorted(run) == sorted(words(command) for command in report["commands"])


def test_sentiment_benchmark_reports_accuracy_f1_and_throughput():
    report = json.loads((ROOT / "benchmarks" / "sentiment.json").read_text())
    for name in ("accuracy", "f1"):
        assert all(0.0 <= value <= 1.0 for value in report["metrics"][name]["per_seed"])
    assert report["tokens_per_second"] > 0 and report["train_seconds"] > 0
    assert "tfidf_ngram_logreg" in report["baselines"]


def test_readme_table_is_generated_from_the_benchmark_files():
    text = README.read_text()
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    assert text[start:end].strip() == results_table()


def test_publish_writes_the_file_and_refreshes_the_table(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Results\n{TABLE_START}\nold\n{TABLE_END}\ntail\n")
    report = json.loads((ROOT / "benchmarks" / "sentiment.json").read_text())
    path = publish(report | {"task": "sentiment"}, tmp_path / "benchmarks", readme)
    assert json.loads(path.read_text()) == report
    assert "old" not in readme.read_text() and readme.read_text().endswith("tail\n")
    assert "| sentiment |" in readme.read_text()


def test_publish_refuses_a_readme_without_markers(tmp_path):
    (tmp_path / "README.md").write_text("# no markers\n")
    report = json.loads((ROOT / "benchmarks" / "sentiment.json").read_text())
    with pytest.raises(ValueError, match="markers"):
        publish(report, tmp_path / "benchmarks", tmp_path / "README.md")


def run_report(seed=0, metrics=None, baselines=None, **config) -> dict:
    """What `evaluate` reports of one run, with only what `combine` reads."""
    return {
        "task": "forecasting",
        "split": "test",
        "headline_metric": "a_96",
        "higher_is_better": False,
        "dataset": "sine",
        "test_examples": 10,
        "seed": seed,
        "reference": None,
        "metrics": metrics or {},
        "baselines": baselines or {},
        "train_seconds": 60.0,
        "tokens_per_second": None,
        "machine": {"cores": 2, "gpu": False},
        "command": f"python train.py forecasting --seed {seed}",
        "settings": {"config": config, "train": {"seed": seed}, "data": {}},
    }


def test_runs_that_differ_only_in_seed_combine_into_mean_std_and_per_seed_values():
    runs = [
        run_report(seed, {"a_96": value, "words": 7}, {"naive": {"a_96": 2.0}})
        for seed, value in zip((0, 1, 2), (1.0, 2.0, 4.0), strict=True)
    ]
    combined = combine(runs, "python evaluate.py forecasting --benchmark")
    assert combined["seeds"] == [0, 1, 2]
    assert combined["metrics"]["a_96"] == {
        "mean": pytest.approx(7 / 3),
        "std": pytest.approx(1.5275252),
        "per_seed": [1.0, 2.0, 4.0],
    }
    assert combined["metrics"]["words"] == 7  # equal in every seed: kept as it is
    assert combined["baselines"]["naive"]["a_96"]["std"] == 0.0
    assert combined["commands"][-1] == "python evaluate.py forecasting --benchmark"
    assert mean_and_std(combined["metrics"]["a_96"]) == (
        pytest.approx(7 / 3),
        pytest.approx(1.5275252),
    )


def test_models_combine_side_by_side_and_refuse_clashing_metrics_or_seeds():
    """One benchmark from several models, e.g. one per forecasting horizon."""
    first = [
        run_report(seed, {"a_96": 1.0}, {"naive": {"a_96": 2.0}}, horizon=96) for seed in (0, 1)
    ]
    second = [
        run_report(seed, {"a_192": 3.0}, {"naive": {"a_192": 4.0}}, horizon=192) for seed in (0, 1)
    ]
    combined = combine(first + second, "python evaluate.py forecasting --benchmark")
    assert sorted(combined["metrics"]) == ["a_192", "a_96"]
    assert sorted(combined["baselines"]["naive"]) == ["a_192", "a_96"]
    assert combined["train_seconds"] == 240.0 and len(combined["runs"]) == 4
    clash = [run_report(seed, {"a_96": 1.0}, horizon=192) for seed in (0, 1)]
    with pytest.raises(ValueError, match="same metrics"):
        combine(first + clash, "")
    with pytest.raises(ValueError, match="same seed"):
        combine(first + first, "")


def test_a_metric_that_is_not_a_number_keeps_its_per_seed_values():
    combined = over_seeds([{"matrix": [[1, 0]], "n": 1.0}, {"matrix": [[0, 1]], "n": 1.0}])
    assert combined["matrix"] == {"per_seed": [[[1, 0]], [[0, 1]]]}
    assert combined["n"]["std"] == 0.0


def test_publish_commits_the_figures_beside_the_benchmark_file(tmp_path):
    """Run directories are not committed, so a benchmark's pictures move next to it."""
    readme = tmp_path / "README.md"
    readme.write_text(f"{TABLE_START}\n{TABLE_END}\n")
    figure = tmp_path / "runs" / "segment-etth1-96" / "forecast_vs_actual.png"
    figure.parent.mkdir(parents=True)
    figure.write_bytes(b"png bytes")
    report = json.loads((ROOT / "benchmarks" / "sentiment.json").read_text())
    path = publish(report | {"figures": [str(figure)]}, tmp_path / "benchmarks", readme)
    kept = json.loads(path.read_text())["figures"]
    assert kept == ["benchmarks/sentiment/segment-etth1-96-forecast_vs_actual.png"]
    assert (tmp_path / kept[0]).read_bytes() == b"png bytes"


def test_the_scaling_file_holds_measured_rows_and_its_command():
    """One process against two workers, medians of alternated rounds, from
    the make target's command; the GPU rows are absent until a GPU fills them."""
    report = json.loads((ROOT / "benchmarks" / "scaling.json").read_text())
    assert {"source", "machine", "command", "tasks", "gpu"} <= set(report)
    assert set(report["tasks"]) == {"sentiment", "forecasting"}
    for task in report["tasks"].values():
        rows = list(task["rows"].values())
        assert len(rows) == 2 and all(len(row["timesteps_per_second"]) >= 3 for row in rows)
        single, cluster = (row["median_timesteps_per_second"] for row in rows)
        assert task["two_workers_over_one_process"] == round(cluster / single, 3)
    target = subprocess.run(
        ["make", "-n", "benchmark-scaling"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert report["command"].replace("python ", "", 1) in target.stdout
    assert report["gpu"] is None or set(report["gpu"]["tasks"]) == set(report["tasks"])


def test_a_reference_model_is_a_baseline_beside_others_and_the_model_alone():
    reference = [
        run_report(seed, {"a_96": 2.0}, scratch=True) | {"reference": "plain"} for seed in (0, 1)
    ]
    model = [run_report(seed, {"a_96": 1.0}) for seed in (0, 1)]
    combined = combine(reference + model, "")
    assert combined["metrics"]["a_96"]["mean"] == 1.0
    assert combined["baselines"]["plain"]["a_96"]["mean"] == 2.0
    alone = combine(reference, "")
    assert alone["metrics"]["a_96"]["mean"] == 2.0 and alone["baselines"] == {}


def test_the_memory_benchmark_keeps_its_contract_and_the_readme_shows_it():
    """benchmarks/memory.json: every contender over at least three seeds, each
    rung from a clean commit, the command its make target runs, and the README
    table and picture made from it."""
    script = load_script("memory")
    report = json.loads((ROOT / "benchmarks" / "memory.json").read_text())
    made = dry_run("benchmark-memory")
    assert report["command"] in [line.replace(".venv/bin/", "") for line in made.splitlines()]
    assert len(report["seeds"]) >= 3 and set(report["results"]) == {"adding", "copy"}
    for contenders in report["results"].values():
        assert set(contenders) == set(script.CONTENDERS)
        for result in contenders.values():
            assert len(result["largest_solved"]["per_seed"]) == len(report["seeds"])
            assert all(rung["source"]["clean"] for rung in result["rungs"])
    text = README.read_text()
    start = text.index(script.START) + len(script.START)
    shown = script.table(report["results"], report["ladder"][2])
    assert text[start : text.index(script.END)].strip() == shown
    assert all((ROOT / figure).exists() and figure in text for figure in report["figures"])


def test_the_language_model_benchmark_reuses_recorded_seeds_and_writes_both_files(tmp_path):
    """Seeds recorded by the same code are not trained again: their reports
    combine into the language model's file and the fine-tuned sentiment's
    (each seed's --pretrained run is the same setting), samples beside them."""
    script = load_script("language_model")
    runs, code = tmp_path / "runs", script.code_fingerprint(script.SEED_CODE)
    record = {}
    for seed in (0, 1, 2):
        lines = script.commands(runs, seed)
        pretrained = str(runs / "language_model" / f"gru-s{seed}")
        outcome = {
            "language_model": run_report(seed, {"a_96": 100.0 + seed}),
            "sentiment": run_report(seed, {"a_96": 0.9 + seed / 100}, pretrained=pretrained),
            "samples": {"samples-seed0": [{"prompt": "This movie", "continuation": "is"}]}
            if seed == 0
            else {},
            "seed": seed,
            "code": code,
        }
        record[json.dumps([shlex.join(line) for line in lines.values()])] = outcome
    (tmp_path / "language_model").mkdir()
    (tmp_path / "language_model" / "seeds.json").write_text(json.dumps(record))
    plan = argparse.Namespace(seeds=[0, 1, 2], runs=runs, output=tmp_path, fresh=False)
    script.main(plan)
    fine_tuned = json.loads((tmp_path / "sentiment_pretrained.json").read_text())
    assert fine_tuned["metrics"]["a_96"]["per_seed"] == [0.9, 0.91, 0.92]
    assert fine_tuned["command"] == "make benchmark-language-model"
    assert any("--pretrained" in line for line in fine_tuned["commands"])
    language_model = json.loads((tmp_path / "language_model.json").read_text())
    assert language_model["metrics"]["a_96"]["mean"] == 101.0
    samples = (tmp_path / "language_model" / "samples-seed0.jsonl").read_text()
    assert json.loads(samples) == {"prompt": "This movie", "continuation": "is"}


def test_the_language_model_files_hold_the_commands_their_script_runs():
    """`make benchmark-language-model` runs the script, whose seeds' command
    lines are the ones in each committed file it wrote."""
    script = load_script("language_model")
    made = dry_run("benchmark-language-model")
    assert "python benchmarks/language_model.py" in made
    for name in SCRIPTED & {path.stem for path in BENCHMARK_FILES}:
        report = json.loads((ROOT / "benchmarks" / f"{name}.json").read_text())
        lines = [script.commands(script.RUNS, seed) for seed in report["seeds"]]
        stage = "language_model" if name == "language_model" else "sentiment"
        expected = [
            shlex.join(seed_lines[step])
            for seed_lines in lines
            for step in (f"train_{stage}", stage)
        ]
        assert report["command"] == "make benchmark-language-model"
        assert report["commands"] == expected


def test_the_throughput_benchmark_alternates_the_contenders_and_takes_medians(monkeypatch):
    """Each round runs plain Keras, then the project; the ratio is taken within
    a round (the two share its load) and reported as the median over rounds."""
    script = load_script("throughput")
    order, speeds = [], iter([100, 150, 200, 260, 100, 210])  # plain, project, per round

    def measured(command, run_dir):
        order.append(command[1])
        speed = next(speeds)
        return {
            "useful_tokens_per_second": speed,
            "padded_tokens_per_second": 2 * speed,
            "fit_seconds": 1000 / speed,
            "useful_tokens_per_epoch": 1000,
            "batch_size": 32 if "--plain" in command else 128,
        }

    monkeypatch.setattr(script, "measure_once", measured)
    result = script.measure("sentiment-lstm", rounds=3, limit=0, scratch=ROOT / "unused")
    assert order == ["benchmarks/throughput.py", "train.py"] * 3
    assert result["project_over_plain_per_round"] == [1.5, 1.3, 2.1]
    assert result["project_over_plain"] == 1.5
    assert result["rows"][script.PROJECT]["median_useful_tokens_per_second"] == 210
    assert script.headline({"sentiment-lstm": result}) == {"sentiment-lstm_project_over_plain": 1.5}
    shown = script.table({"sentiment-lstm": result})
    assert "| sentiment-lstm | project trainer | 128 | 210 | 420 |" in shown


def test_both_throughput_contenders_train_the_same_settings_for_one_epoch():
    """The project's command line is one `train.py` accepts, and the plain
    contender reads its model's settings from that same command line."""
    script = load_script("throughput")
    for pair, (task, _) in script.PAIRS.items():
        lines = script.commands(pair, limit=64)
        project = lines[script.PROJECT]
        assert project[:3] == ["python", "train.py", task]
        assert project[project.index("--epochs") + 1] == "1"
        assert lines[script.PLAIN][-4:] == ["--limit", "64", "--run-dir", "RUN"]
        parsed = script.train_parser().parse_args(project[2:])
        assert parsed.limit == 64 and parsed.task == task
    assert "python benchmarks/throughput.py" in dry_run("benchmark-throughput")


def test_time_to_target_counts_epochs_up_to_the_first_that_reaches_it(monkeypatch, tmp_path):
    """The target is the reference's lowest best validation accuracy over the
    seeds, a level it reaches on every seed; the contender that gets there in
    fewer seconds is that many times sooner."""
    script = load_script("time_to_target")
    histories = {
        ("batch-32", 0): ([0.85, 0.90, 0.91], [100, 100, 100]),
        ("batch-32", 1): ([0.88, 0.89], [100, 100]),
        ("batch-128", 0): ([0.89, 0.92], [50, 50]),
        ("batch-128", 1): ([0.87, 0.88], [50, 50]),
    }

    def trained(options, seed, run_dir, extra):
        name = next(name for name, flags in script.CONTENDERS.items() if flags == options)
        accuracy, seconds = histories[name, seed]
        return {"validation_accuracy": accuracy, "epoch_seconds": seconds, "test_accuracy": 0.9}

    monkeypatch.setattr(script, "train_and_score", trained)
    output = tmp_path / "time_to_target.json"
    script.main(["--seeds", "0", "1", "--output", str(output)])
    report = json.loads(output.read_text())
    assert report["target_validation_accuracy"] == 0.89
    reference, contender = report["contenders"]["batch-32"], report["contenders"]["batch-128"]
    assert reference["seconds_to_target"] == [200.0, 200.0]
    assert contender["seconds_to_target"] == [50.0, None]  # seed 1 never reaches it
    assert contender["median_seconds_to_target"] is None
    assert contender["times_sooner_than_batch-32"] is None
    assert script.seconds_to(0.85, {"validation_accuracy": [0.9], "epoch_seconds": [7]}) == 7
