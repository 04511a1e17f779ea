"""Score a trained run on test: `python evaluate.py TASK --model RUN_DIR`.

`--benchmark` writes benchmarks/TASK.json and the README's results table;
`--predict INPUT ...` runs the exported model on inputs given on the line.
"""

import os

# TensorFlow's C++ start-up notices are noise on a command line.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import json
import shlex
import sys
from pathlib import Path

from data.errors import USER_ERRORS
from tasks import TASKS
from tasks.evaluation import evaluate, predict_inputs, publish
from tasks.runner import load_task


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    main.add_argument("task", choices=sorted(TASKS))
    main.add_argument("--model", type=Path, required=True, help="a run directory of train.py")
    main.add_argument(
        "--benchmark",
        action="store_true",
        help="also write benchmarks/TASK.json and the README results table",
    )
    main.add_argument(
        "--predict",
        nargs="+",
        metavar="INPUT",
        help="only print the model's outputs for these raw inputs",
    )
    main.add_argument("--data-mirror", default=None, help="override the run's data mirror")
    main.add_argument("--data-dir", default=None, help="override the run's tfds data dir")
    return main


def main(argv: list[str]) -> None:
    options = parser().parse_args(argv)
    task = load_task(options.model)
    if task.name != options.task:
        raise SystemExit(f"{options.model} holds a {task.name} run, not {options.task}")
    if options.predict:
        for row in predict_inputs(task, options.model, options.predict):
            print(json.dumps(row, ensure_ascii=False))
        return
    if options.data_mirror is not None:
        task.data.data_mirror = options.data_mirror
    if options.data_dir is not None:
        task.data.data_dir = options.data_dir
    report = evaluate(
        options.model, task.data, command=shlex.join(["python", "evaluate.py", *argv])
    )
    print(json.dumps({"metrics": report["metrics"], "baselines": report["baselines"]}, indent=2))
    if options.benchmark:
        print(f"wrote {publish(report)}")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except USER_ERRORS as error:
        sys.exit(f"error: {error}")
