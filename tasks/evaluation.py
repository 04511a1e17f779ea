"""Score a run's exported model on test, beside classical baselines.

The score comes from the SavedModel itself (raw test inputs in, raw outputs
out), so it measures exactly what a user would ship. `--benchmark` also
writes `benchmarks/<task>.json` and regenerates the README's results table.
"""

import json
import os
import re
from pathlib import Path

import keras
import tensorflow as tf

from tasks.config import DataConfig
from tasks.export import latest_version, load_serving, predict
from tasks.runner import load_task, write_json, write_text

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
README = BENCHMARKS.parent / "README.md"
TABLE_START, TABLE_END = "<!-- results:start -->", "<!-- results:end -->"


def evaluate(run_dir: Path, data: DataConfig | None = None, command: str = "") -> dict:
    """Test metrics of the run's latest export and of the task's baselines."""
    task = load_task(run_dir, data)
    splits = task.splits()
    serve = load_serving(latest_version(run_dir / "export"))
    outputs = predict(serve, splits.test.inputs)
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
        "train_seconds": training["train_seconds"],
        "epochs": training["epochs"],
        "best_epoch": training["best_epoch"],
        "tokens_per_second": training["tokens_per_second"],
        "padded_tokens_per_second": training["padded_tokens_per_second"],
        "machine": machine(),
        "command": " && ".join(part for part in (settings["command"], command) if part),
        "settings": {part: settings[part] for part in ("config", "train")},
    }
    write_json(run_dir / "evaluation.json", report)
    return report


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
    write_json(path, report)
    table = f"{TABLE_START}\n{results_table(benchmarks)}\n{TABLE_END}"
    write_text(readme, pattern.sub(lambda _: table, text))
    return path


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


def predict_inputs(task, run_dir: Path, raw: list[str]) -> list[dict]:
    """The latest export's outputs for inputs typed on the command line."""
    serve = load_serving(latest_version(run_dir / "export"))
    outputs = predict(serve, task.parse_inputs(raw), progress=False)
    return [
        {"input": text, **{name: _plain(values[index]) for name, values in outputs.items()}}
        for index, text in enumerate(raw)
    ]


def _plain(value):
    """A numpy value as JSON-ready Python (bytes become text)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if hasattr(value, "tolist"):
        value = value.tolist()
        return [_plain(item) for item in value] if isinstance(value, list) else value
    return value
