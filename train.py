"""Train a task: `python train.py TASK [options]`; `python train.py TASK --help`."""

import argparse
import shlex
import sys
import time
from pathlib import Path

from core.config import STRATEGIES, DataConfig, add_options, from_options
from core.startup import start_command
from data.errors import USER_ERRORS
from tasks import TASKS


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(description=__doc__)
    tasks = main.add_subparsers(dest="task", required=True, metavar="TASK")
    for name, registered in TASKS.items():
        sub = tasks.add_parser(name, help=registered.__doc__.splitlines()[0])
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
        sub.add_argument(
            "--distribute",
            choices=STRATEGIES,
            default="none",
            help="none: this process's default device; mirrored: every local GPU (or "
            "CPU device); multi-worker: one process per worker of the cluster named by "
            "the environment variable TF_CONFIG, the chief writing the run. "
            "--batch-size is the global batch, split among the replicas (default: none)",
        )
        add_options(sub, registered.Config, f"{name} model")
        add_options(sub, registered.Training, "training")
        add_options(sub, DataConfig, "data")
    return main


def settings(options: argparse.Namespace) -> tuple:
    """The task's model, training and data settings, from parsed options;
    a bad one (or one given without the option it needs) raises `ValueError`."""
    registered = TASKS[options.task]
    return (
        from_options(registered.Config, options),
        from_options(registered.Training, options),
        from_options(DataConfig, options),
    )


def main(argv: list[str]) -> None:
    command_line = parser()
    options = command_line.parse_args(argv)
    registered = TASKS[options.task]
    try:
        chosen = settings(options)
    except ValueError as error:
        command_line.error(str(error))
    start_command()
    # These load TensorFlow: only once the options are good.
    from core.distribution import WorkerLost
    from core.gradient_watch import TrainingDiverged
    from core.runner import run

    task = registered.task_class()(*chosen)
    run_dir = options.run_dir or Path("runs") / f"{task.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    command = shlex.join(["python", "train.py", *argv])
    try:
        metrics = run(task, run_dir, command, options.checkpoint_minutes, options.distribute)
    except (WorkerLost, TrainingDiverged) as error:
        sys.exit(f"error: {error}")
    print(f"run directory: {run_dir}")
    print(f"validation: {metrics['validation']}")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except USER_ERRORS as error:
        sys.exit(f"error: {error}")
