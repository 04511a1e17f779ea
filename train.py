"""Train a task: `python train.py TASK [options]`; `python train.py TASK --help`."""

import os

# TensorFlow's C++ start-up notices are noise on a command line.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import shlex
import sys
import time
from pathlib import Path

from data.errors import USER_ERRORS
from tasks import TASKS
from tasks.config import DataConfig, add_options, from_options
from tasks.runner import train


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(description=__doc__)
    tasks = main.add_subparsers(dest="task", required=True, metavar="TASK")
    for name, task_class in TASKS.items():
        sub = tasks.add_parser(name, help=task_class.__doc__.splitlines()[0])
        sub.add_argument(
            "--run-dir",
            type=Path,
            default=None,
            help="where the run is written (default: runs/TASK-TIMESTAMP); "
            "an interrupted run resumes when given its directory again",
        )
        sub.add_argument(
            "--checkpoint-minutes",
            type=float,
            default=5.0,
            metavar="MINUTES",
            help="save the training state at least this often within an epoch, and after "
            "every epoch; an interruption costs at most this much work (default: 5.0)",
        )
        add_options(sub, task_class.Config, f"{name} model")
        add_options(sub, task_class.Train, "training")
        add_options(sub, DataConfig, "data")
    return main


def main(argv: list[str]) -> None:
    command_line = parser()
    options = command_line.parse_args(argv)
    task_class = TASKS[options.task]
    try:
        task = task_class(
            from_options(task_class.Config, options),
            from_options(task_class.Train, options),
            from_options(DataConfig, options),
        )
    except ValueError as error:
        command_line.error(str(error))
    run_dir = options.run_dir or Path("runs") / f"{task.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    command = shlex.join(["python", "train.py", *argv])
    metrics = train(task, run_dir, command, options.checkpoint_minutes)
    print(f"run directory: {run_dir}")
    print(f"validation: {metrics['validation']}")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except USER_ERRORS as error:
        sys.exit(f"error: {error}")
