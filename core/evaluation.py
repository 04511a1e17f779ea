"""Score a run's exported model on test, beside classical baselines.

The score comes from the SavedModel itself (raw test inputs in, raw outputs
out), so it measures exactly what a user would ship. `--benchmark` also
writes `benchmarks/<task>.json` and regenerates the README's results table.
"""

import json
import os
import platform
import re
import shutil
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core.export import latest_version, load_export
from core.files import write_json, write_text
from core.runner import source_version
from core.task import Task

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
README = BENCHMARKS.parent / "README.md"
TABLE_START, TABLE_END = "<!-- results:start -->", "<!-- results:end -->"
# What a benchmark keeps of each run.
RUN_KEYS = (
    "dataset",
    "reference",
    "seed",
    "validation",
    "train_seconds",
    "epochs",
    "best_epoch",
    "tokens_per_second",
    "settings",
    "source",
    "command",
)


def evaluate(task: Task, run_dir: Path, dataset: str | None = None) -> dict:
    """Test metrics of the run's latest export and of the task's baselines;
    `task` is the run's (`tasks.load_task`).

    With `dataset`, the export is scored on that dataset's test split
    instead (`Task.test_split_of`), into `RUN/elsewhere/NAME/`, never over
    the run's own evaluation; without baselines, which would train on it.
    """
    if dataset:
        test, folder = task.test_split_of(dataset), elsewhere(run_dir, dataset)
        folder.mkdir(parents=True, exist_ok=True)
    else:
        splits, folder = task.splits(), run_dir
        test = splits.test
    export = load_export(latest_version(run_dir / "export"))
    outputs = task.test_outputs(export, test)
    training = json.loads((run_dir / "metrics.json").read_text())
    settings = json.loads((run_dir / "config.json").read_text())
    report = {
        "task": task.name,
        "dataset": task.data.dataset or task.dataset_name,
        "split": "test",
        "test_examples": len(test),
        "headline_metric": task.headline_metric,
        "higher_is_better": task.higher_is_better,
        "metrics": task.score(outputs, test),
        "baselines": {} if dataset else task.baselines(splits),
        "reference": task.reference,
        "figures": [str(path) for path in task.figures(outputs, test, folder)],
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
        "seed": task.training.seed,
        "settings": {part: settings[part] for part in ("config", "train", "data")},
        # The code that trained the run: its commit, and whether files differed from it.
        "source": settings.get("source"),
    }
    write_json(folder / "evaluation.json", report)
    return report


def elsewhere(run_dir: Path, dataset: str) -> Path:
    """Where a run's scores on another dataset go: named after its file or folder."""
    name = re.sub(r"[^\w.-]+", "_", Path(dataset).resolve().name) or "dataset"
    return run_dir / "elsewhere" / name


def combine(reports: list[dict], command: str) -> dict:
    """One benchmark from several runs of one task, written by `command`.

    Runs that differ only in `--seed` are one model: each of its metrics
    becomes its mean, standard deviation and per-seed values (`over_seeds`).
    Models that differ otherwise (say one per forecasting horizon) name
    their metrics after their settings, like `etth1_mse_96`, so a clash is
    an error, not an overwrite. A reference model (say a plain GRU)
    contributes its metrics to `baselines` under its `reference` name (if
    there are others to compare it with), and nothing else there: the
    baselines are those of the benchmarked runs, whose settings (say a
    forecaster's daily cycle) some of them share.
    """
    if len({report["task"] for report in reports}) > 1:
        raise ValueError("a benchmark combines runs of one task only")
    if all(report["reference"] for report in reports):  # nothing to compare: they are the model
        reports = [report | {"reference": None} for report in reports]
    models: dict[str, list[dict]] = {}
    for report in reports:
        models.setdefault(_settings_but_seed(report), []).append(report)
    metrics, baselines, seeds = {}, {}, set()
    for runs in models.values():
        seeds_of_model = [run["seed"] for run in runs]
        if len(set(seeds_of_model)) < len(runs):
            raise ValueError(f"two runs of the same settings have the same seed {seeds_of_model}")
        scores = over_seeds([run["metrics"] for run in runs])
        reference = runs[0]["reference"]
        if reference:
            baselines[reference] = baselines.get(reference, {}) | scores
            continue
        seeds.add(tuple(sorted(seeds_of_model)))
        clash = set(metrics) & set(scores)
        if clash:
            raise ValueError(f"two runs report the same metrics {sorted(clash)}")
        metrics |= scores
        for name in runs[0]["baselines"]:
            baseline = over_seeds([run["baselines"][name] for run in runs])
            baselines[name] = baselines.get(name, {}) | baseline
    if len(seeds) > 1:
        raise ValueError(f"the benchmarked models ran with different seeds: {sorted(seeds)}")
    benchmarked = [report for report in reports if not report["reference"]]
    speeds = [report["tokens_per_second"] for report in benchmarked if report["tokens_per_second"]]
    return {
        **{
            key: reports[0][key] for key in ("task", "split", "headline_metric", "higher_is_better")
        },
        "dataset": ", ".join(dict.fromkeys(report["dataset"] for report in reports)),
        "seeds": list(next(iter(seeds), ())),
        "test_examples": sum(report["test_examples"] for report in benchmarked)
        // len(seeds_of_model),
        "metrics": metrics,
        "baselines": baselines,
        "train_seconds": round(sum(report["train_seconds"] for report in reports), 1),
        "tokens_per_second": round(float(np.mean(speeds))) if speeds else None,
        # The pictures of the benchmarked model; a reference run's stay in its run directory.
        "figures": [path for report in benchmarked for path in report.get("figures", [])],
        "machine": reports[0]["machine"],
        "source": source_version(),
        # The one command that regenerates the file, then the ones it runs.
        "command": f"make benchmark-{reports[0]['task']}",
        "commands": [report["command"] for report in reports] + [command],
        "runs": [{key: report.get(key) for key in RUN_KEYS} for report in reports],
    }


def _settings_but_seed(report: dict) -> str:
    """The run's settings less its seed; a run it started from that is named
    after the same seed (`--pretrained runs/.../gru-s1`, as benchmarks name
    them) is the same setting in every seed."""
    settings = json.loads(json.dumps(report["settings"]))
    seed = settings["train"].pop("seed")
    return json.dumps([report["dataset"], settings], sort_keys=True).replace(
        f'-s{seed}"', '-sSEED"'
    )


def over_seeds(scores: list[dict]) -> dict:
    """Per-seed metric dicts -> one dict: a real-valued metric becomes its
    mean, sample standard deviation (none for one seed) and per-seed values;
    a metric equal in every seed (say a word count) stays as it is; any
    other (say a confusion matrix) keeps its per-seed values."""
    combined = {}
    for name in scores[0]:
        values = [score[name] for score in scores]
        if all(
            isinstance(value, int | float) and not isinstance(value, bool) for value in values
        ) and any(isinstance(value, float) for value in values):
            combined[name] = {
                "mean": float(np.mean(values)),
                "std": float(np.std(values, ddof=1)) if len(values) > 1 else None,
                "per_seed": values,
            }
        elif all(value == values[0] for value in values):
            combined[name] = values[0]
        else:
            combined[name] = {"per_seed": values}
    return combined


def mean_and_std(value) -> tuple[float, float | None]:
    """A metric of a benchmark file as (mean, std); a plain number has no std."""
    if isinstance(value, dict):
        return value["mean"], value["std"]
    return value, None


def machine() -> dict:
    """What a benchmark ran on: the processor, cores, memory, GPU and versions."""
    return {
        "cpu": _processor(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "gpu": bool(tf.config.list_physical_devices("GPU")),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def _processor() -> str:
    info = Path("/proc/cpuinfo")
    names = info.read_text().splitlines() if info.exists() else []
    model = (line.split(":", 1)[1].strip() for line in names if line.startswith("model name"))
    return next(model, platform.processor())


def _memory_gib() -> int | None:
    info = Path("/proc/meminfo")
    return int(info.read_text().split()[1]) // 2**20 if info.exists() else None


def publish(
    report: dict, benchmarks: Path | None = None, readme: Path | None = None, name: str = ""
) -> Path:
    """Writes the benchmark file, `NAME.json` (default: the task's name), and
    refreshes the README table from all of them (default: the repository's
    `benchmarks/` and README)."""
    benchmarks, readme = benchmarks or BENCHMARKS, readme or README
    text = readme.read_text()
    pattern = re.compile(re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"{readme} lacks the {TABLE_START} ... {TABLE_END} markers")
    benchmarks.mkdir(exist_ok=True)
    path = benchmarks / f"{name or report['task']}.json"
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


def results_table(benchmarks: Path | None = None) -> str:
    """A Markdown table with one row per benchmark file, named after it: the
    headline metric's mean ± standard deviation over the seeds, and the best
    baseline's mean."""
    rows = [
        "| task | dataset | metric | model (mean ± std) | seeds | best baseline | train time "
        "| tokens/s | machine |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for path in sorted((benchmarks or BENCHMARKS).glob("*.json")):
        report = json.loads(path.read_text())
        if "headline_metric" not in report:  # not a task's benchmark (say scaling.json)
            continue
        name = report["headline_metric"]
        mean, std = mean_and_std(report["metrics"][name])
        spread = f" ± {std:.4f}" if std is not None else ""
        best = max if report["higher_is_better"] else min
        baseline_name, baseline = best(
            ((key, mean_and_std(metrics[name])[0]) for key, metrics in report["baselines"].items()),
            key=lambda item: item[1],
            default=("none", float("nan")),
        )
        box = report["machine"]
        rows.append(
            f"| {path.stem} | {report['dataset']} | {name} | {mean:.4f}{spread} | "
            f"{len(report.get('seeds', [])) or 1} | {baseline:.4f} ({baseline_name}) | "
            f"{report['train_seconds'] / 60:.0f} min | {report['tokens_per_second'] or 'n/a'} | "
            f"{box['cores']} cores, {'GPU' if box['gpu'] else 'no GPU'} |"
        )
    return "\n".join(rows)
