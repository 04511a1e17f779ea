"""benchmarks/scaling.json: one process against a two-worker cluster on this
machine, and one GPU with and without mixed precision where there is one.

`python benchmarks/scaling.py` times the sentiment and forecasting defaults
for a fixed budget (one pass over `--limit` training examples), alternating
the contenders round by round on a noisy machine: one process on every
core, then two `--distribute multi-worker` processes on localhost, each
pinned to one core. It records training timesteps per second (windows x
lookback for forecasting) and the validation metric the budget reached,
per round and as medians. `--gpu` adds the one-GPU rows, float32 and mixed
precision, to the file instead.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.distribution import localhost_cluster  # noqa: E402
from core.evaluation import machine  # noqa: E402
from core.runner import source_version  # noqa: E402

OUTPUT = ROOT / "benchmarks" / "scaling.json"
# Per task: the budget's options and the validation metric it is judged by.
TASKS = {
    "sentiment": (["--limit=4000", "--epochs=1"], "accuracy"),
    "forecasting": (["--limit=4000", "--epochs=1"], "mse"),
}


def train(task: str, budget: list[str], run_dir: Path, workers: int, extra=()) -> dict:
    """Runs `train.py` as one process or as `workers` pinned processes; the
    run's metrics.json."""
    command = [sys.executable, "train.py", task, *budget, f"--run-dir={run_dir}", *extra]
    if workers == 1:
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    else:
        processes = []
        for index, config in enumerate(localhost_cluster(workers)):
            environment = os.environ | {"TF_CONFIG": json.dumps(config)}
            pinned = ["taskset", "-c", str(index % os.cpu_count())]
            processes.append(
                subprocess.Popen(
                    [*pinned, *command, "--distribute=multi-worker"],
                    cwd=ROOT,
                    env=environment,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
        for process in processes:
            _, errors = process.communicate()
            if process.returncode:
                raise RuntimeError(errors.decode()[-3000:])
    return json.loads((run_dir / "metrics.json").read_text())


def measure(task: str, rounds: int, scratch: Path) -> dict:
    budget, metric = TASKS[task]
    contenders = {"1 process, 2 cores": 1, "2 workers, 1 core each": 2}
    rows = {name: {"timesteps_per_second": [], metric: []} for name in contenders}
    for round_number in range(rounds):
        for name, workers in contenders.items():
            run_dir = scratch / f"{task}-{workers}-{round_number}"
            metrics = train(task, budget, run_dir, workers)
            rows[name]["timesteps_per_second"].append(metrics["tokens_per_second"])
            rows[name][metric].append(metrics["validation"][metric])
            shutil.rmtree(run_dir)
            print(task, name, round_number, rows[name], flush=True)
    for row in rows.values():
        row["median_timesteps_per_second"] = statistics.median(row["timesteps_per_second"])
        row[f"median_{metric}"] = statistics.median(row[metric])
    single, cluster = (rows[name]["median_timesteps_per_second"] for name in contenders)
    return {
        "budget": budget,
        "metric": metric,
        "rows": rows,
        "two_workers_over_one_process": round(cluster / single, 3),
    }


def measure_gpu(task: str, scratch: Path) -> dict:
    budget, metric = TASKS[task]
    rows = {}
    for name, extra in (("1 GPU, float32", []), ("1 GPU, mixed precision", ["--mixed-precision"])):
        metrics = train(task, budget, scratch / f"{task}-{len(extra)}", 1, extra)
        rows[name] = {
            "timesteps_per_second": metrics["tokens_per_second"],
            metric: metrics["validation"][metric],
        }
    return rows


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternations per task")
    parser.add_argument("--gpu", action="store_true", help="add the one-GPU rows")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        if options.gpu:
            report = json.loads(OUTPUT.read_text())
            report["gpu"] = {
                "source": source_version(),
                "machine": machine() | {"gpu": "see nvidia-smi"},
                "tasks": {task: measure_gpu(task, scratch) for task in TASKS},
            }
        else:
            tasks = {task: measure(task, options.rounds, scratch) for task in TASKS}
            report = {
                "task": "scaling",
                "metrics": {
                    f"{task}_two_workers_over_one_process": row["two_workers_over_one_process"]
                    for task, row in tasks.items()
                },
                "what": __doc__.split("\n\n")[1].replace("\n", " "),
                "source": source_version(),
                "machine": machine(),
                "command": " ".join(["python benchmarks/scaling.py", *argv]),
                "tasks": tasks,
                "gpu": None,
                "gpu_command": "python benchmarks/scaling.py --gpu (on a machine with a GPU)",
            }
    OUTPUT.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
