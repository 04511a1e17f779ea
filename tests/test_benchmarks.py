"""The benchmark file contract, and the README table generated from it."""

import json

import pytest
from conftest import ROOT

from tasks import TASKS
from tasks.evaluation import README, TABLE_END, TABLE_START, combine, publish, results_table

REQUIRED = {
    "task",
    "dataset",
    "split",
    "metrics",
    "baselines",
    "train_seconds",
    "machine",
    "command",
    "headline_metric",
    "higher_is_better",
}
BENCHMARK_FILES = sorted((ROOT / "benchmarks").glob("*.json"))


def test_every_benchmark_file_keeps_the_contract():
    assert BENCHMARK_FILES, "no committed benchmark files"
    for path in BENCHMARK_FILES:
        report = json.loads(path.read_text())
        assert REQUIRED <= set(report), f"{path.name} lacks {REQUIRED - set(report)}"
        assert report["task"] == path.stem and report["task"] in TASKS
        assert report["split"] == "test"
        assert report["headline_metric"] in report["metrics"]
        assert {"cores", "gpu"} <= set(report["machine"])
        assert "train.py" in report["command"] and "evaluate.py" in report["command"]
        for metrics in report["baselines"].values():
            assert report["headline_metric"] in metrics


def test_sentiment_benchmark_reports_accuracy_f1_and_throughput():
    report = json.loads((ROOT / "benchmarks" / "sentiment.json").read_text())
    assert 0.0 <= report["metrics"]["accuracy"] <= 1.0
    assert 0.0 <= report["metrics"]["f1"] <= 1.0
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


def test_runs_combine_into_one_benchmark_and_refuse_clashing_metrics():
    """One benchmark from several runs, e.g. one per forecasting horizon."""
    report = json.loads((ROOT / "benchmarks" / "sentiment.json").read_text())
    first = report | {"metrics": {"a_96": 1.0}, "baselines": {"naive": {"a_96": 2.0}}}
    second = report | {"metrics": {"a_192": 3.0}, "baselines": {"naive": {"a_192": 4.0}}}
    combined = combine([first, second])
    assert combined["metrics"] == {"a_96": 1.0, "a_192": 3.0}
    assert combined["baselines"] == {"naive": {"a_96": 2.0, "a_192": 4.0}}
    assert combined["train_seconds"] == round(2 * report["train_seconds"], 1)
    assert len(combined["runs"]) == 2
    with pytest.raises(ValueError, match="same metrics"):
        combine([first, first])


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
