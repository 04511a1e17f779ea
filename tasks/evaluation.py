"""Score a run's exported model on test, beside classical baselines.

The score comes from the SavedModel itself (raw test inputs in, raw outputs
out), so it measures exactly what a user would ship. `--benchmark` also
writes `benchmarks/<task>.json` and regenerates the README's results table.
"""

import json
import os
import re
import shutil
from pathlib import Path

import keras
import tensorflow as tf

from tasks.config import DataConfig
from tasks.export import latest_version, load_export
from tasks.runner import load_task, write_json, write_text

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
README = BENCHMARKS.parent / "README.md"
TABLE_START, TABLE_END = "<!-- results:start -->", "<!-- results:end -->"
# What a combined benchmark keeps of each run.
RUN_KEYS = (
    "dataset",
    "reference",
    "validation",
    "train_seconds",
    "epochs",
    "best_epoch",
    "settings",
)


def evaluate(run_dir: Path, data: DataConfig | None = None) -> dict:
    """Test metrics of the run's latest export and of the task's baselines.

    `command` is the training command line; the caller appends its own.
    """
    task = load_task(run_dir, data)
    splits = task.splits()
    export = load_export(latest_version(run_dir / "export"))
    outputs = task.test_outputs(export, splits.test)
    training = json.loads((run_dir / "metrics.json").read_text())
    settings = json.loads((run_dir / "config.json").read_text())
    report = {
        "task": task.name,
        "dataset": task.data.dataset or task.dataset_name,
        "split": "test",
        "test_examples": len(splits.test),
        "headline_metric": task.headline_metric,
        "higher_is_better": task.higher_is_better,
        "metrics": task.score(outputs, splits.test),
        "baselines": task.baselines(splits),
        "reference": task.reference,
        "figures": [str(path) for path in task.figures(outputs, splits.test, run_dir)],
        # The best epoch's validation metrics: what the next run must beat,
        # so tuning never needs to look at the test split.
        "validation": training["validation"],
        "train_seconds": training["train_seconds"],
        "epochs": training["epochs"],
        "best_epoch": training["best_epoch"],
        "tokens_per_second": training["tokens_per_second"],
        "padded_tokens_per_second": training["padded_tokens_per_second"],
        "machine": machine(),
        "command": settings["command"],
        "settings": {part: settings[part] for part in ("config", "train")},
    }
    write_json(run_dir / "evaluation.json", report)
    return report


def combine(reports: list[dict]) -> dict:
    """One benchmark from several runs of one task, e.g. one run per horizon.

    Each run contributes its own metric and baseline names (a task names them
    after its settings, like `etth1_mse_96`), so a clash is an error, not an
    overwrite. A reference run (say a plain GRU) contributes its metrics to
    `baselines` under its `reference` name, and nothing else there: the
    baselines are those of the benchmarked runs, whose settings (say a
    forecaster's daily cycle) some of them share. Times add up; `runs` keeps
    each run's settings.
    """
    if len(reports) == 1:
        return reports[0]
    if len({report["task"] for report in reports}) > 1:
        raise ValueError("a benchmark combines runs of one task only")
    metrics, baselines = {}, {}
    for report in reports:
        reference = report.get("reference")
        if reference:
            baselines[reference] = baselines.get(reference, {}) | report["metrics"]
            continue
        clash = set(metrics) & set(report["metrics"])
        if clash:
            raise ValueError(f"two runs report the same metrics {sorted(clash)}")
        metrics |= report["metrics"]
        for name, scores in report["baselines"].items():
            baselines[name] = baselines.get(name, {}) | scores
    datasets = list(dict.fromkeys(report["dataset"] for report in reports))
    return {
        **reports[0],
        "dataset": ", ".join(datasets),
        "test_examples": sum(report["test_examples"] for report in reports),
        "metrics": metrics,
        "baselines": baselines,
        "train_seconds": round(sum(report["train_seconds"] for report in reports), 1),
        "epochs": sum(report["epochs"] for report in reports),
        "best_epoch": None,
        "validation": None,
        "tokens_per_second": None,
        "padded_tokens_per_second": None,
        "command": " && ".join(report["command"] for report in reports),
        "settings": None,
        "reference": None,
        # The pictures of the benchmarked model; a reference run's stay in its run directory.
        "figures": [
            path
            for report in reports
            if not report.get("reference")
            for path in report.get("figures", [])
        ],
        "runs": [{key: report.get(key) for key in RUN_KEYS} for report in reports],
    }


def machine() -> dict:
    return {
        "cores": os.cpu_count(),
        "gpu": bool(tf.config.list_physical_devices("GPU")),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def publish(report: dict, benchmarks: Path = BENCHMARKS, readme: Path = README) -> Path:
    """Writes the benchmark file and refreshes the README table from all of them."""
    text = readme.read_text()
    pattern = re.compile(re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"{readme} lacks the {TABLE_START} ... {TABLE_END} markers")
    benchmarks.mkdir(exist_ok=True)
    path = benchmarks / f"{report['task']}.json"
    if report.get("figures"):
        report = report | {"figures": _commit_figures(report, benchmarks)}
    write_json(path, report)
    table = f"{TABLE_START}\n{results_table(benchmarks)}\n{TABLE_END}"
    write_text(readme, pattern.sub(lambda _: table, text))
    return path


def _commit_figures(report: dict, benchmarks: Path) -> list[str]:
    """Copies the runs' figures to `benchmarks/TASK/`, which is committed while
    run directories are not; named after their run, paths relative to the
    repository."""
    folder = benchmarks / report["task"]
    folder.mkdir(exist_ok=True)
    kept = []
    for figure in map(Path, report["figures"]):
        copy = folder / f"{figure.parent.name}-{figure.name}"
        shutil.copyfile(figure, copy)
        kept.append(os.path.relpath(copy, benchmarks.parent))
    return kept


def results_table(benchmarks: Path = BENCHMARKS) -> str:
    """A Markdown table with one row per benchmark file."""
    rows = [
        "| task | dataset | metric | model | best baseline | train time | tokens/s | machine |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path in sorted(benchmarks.glob("*.json")):
        report = json.loads(path.read_text())
        name = report["headline_metric"]
        value = report["metrics"][name]
        best = max if report["higher_is_better"] else min
        baseline_name, baseline = best(
            ((key, metrics[name]) for key, metrics in report["baselines"].items()),
            key=lambda item: item[1],
            default=("none", float("nan")),
        )
        box = report["machine"]
        rows.append(
            f"| {report['task']} | {report['dataset']} | {name} | {value:.4f} | "
            f"{baseline:.4f} ({baseline_name}) | {report['train_seconds'] / 60:.0f} min | "
            f"{report['tokens_per_second'] or 'n/a'} | "
            f"{box['cores']} cores, {'GPU' if box['gpu'] else 'no GPU'} |"
        )
    return "\n".join(rows)
