"""Score a trained run on test: `python evaluate.py TASK --model RUN_DIR`.

`--benchmark` writes benchmarks/TASK.json and the README's results table
(several `--model` runs combine into one benchmark: runs that differ only in
`--seed` as mean, standard deviation and per-seed values, others side by
side, e.g. one per horizon);
`--predict INPUT ...` runs the exported model on inputs given on the line;
`--dataset PATH` scores the run on another dataset's test split (in the
task's bring-your-own format) into RUN_DIR/elsewhere/NAME/evaluation.json;
`--gradients [DIR]` measures how far the kept weights' gradients flow back
in time (core.gradient_flow) into DIR/gradient_flow.json and .png.
"""

import argparse
import json
import shlex
import sys
from pathlib import Path

from core.config import add_options, from_options
from core.startup import start_command
from data.errors import USER_ERRORS
from tasks import TASKS, load_task


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    tasks = main.add_subparsers(dest="task", required=True, metavar="TASK")
    for name, registered in TASKS.items():
        sub = tasks.add_parser(name, help=registered.__doc__.splitlines()[0])
        sub.add_argument(
            "--model", type=Path, nargs="+", required=True, help="run directories of train.py"
        )
        sub.add_argument(
            "--benchmark",
            action="store_true",
            help="also write benchmarks/TASK.json and the README results table",
        )
        sub.add_argument(
            "--predict",
            nargs="*",
            metavar="INPUT",
            help="only print the model's outputs for these raw inputs",
        )
        sub.add_argument(
            "--gradients",
            nargs="?",
            const="",
            metavar="DIR",
            help="only measure the gradient flow through time of the first run's kept "
            "weights on a validation batch, into DIR (default: the run directory)",
        )
        sub.add_argument(
            "--dataset",
            metavar="PATH",
            help="score on this dataset's test split (all of it if it has none), "
            "in the task's --dataset format, with the run's vocabulary, scaler and labels",
        )
        sub.add_argument(
            "--data-mirror", default=None, metavar="DIR", help="override the run's data mirror"
        )
        sub.add_argument(
            "--data-dir", default=None, metavar="DIR", help="override the run's tfds data dir"
        )
        add_options(sub, registered.PredictOptions, "--predict options")
    return main


def main(argv: list[str]) -> None:
    command_line = parser()
    options = command_line.parse_args(argv)
    if options.predict is not None:
        try:
            predict_options = from_options(TASKS[options.task].PredictOptions, options)
        except ValueError as error:
            command_line.error(str(error))
    if options.dataset and (
        options.benchmark or options.predict is not None or options.gradients is not None
    ):
        command_line.error(
            "--dataset scores on another test set: not with --benchmark, --predict, --gradients"
        )
    start_command()
    # These load TensorFlow: only once the options are good.
    from core.evaluation import combine, evaluate, publish
    from core.export import latest_version, load_export

    tasks = [load_task(run_dir) for run_dir in options.model]
    for run_dir, task in zip(options.model, tasks, strict=True):
        if task.name != options.task:
            raise SystemExit(f"{run_dir} holds a {task.name} run, not {options.task}")
    if options.predict is not None:
        export = load_export(latest_version(options.model[0] / "export"))
        for row in tasks[0].predict(export, options.predict, predict_options):
            print(json.dumps(row, ensure_ascii=False))
        return
    for task in tasks:
        if options.data_mirror is not None:
            task.data.data_mirror = options.data_mirror
        if options.data_dir is not None:
            task.data.data_dir = options.data_dir
    if options.gradients is not None:
        from core.gradient_flow import measure_run

        folder = Path(options.gradients or options.model[0])
        for path in measure_run(tasks[0], options.model[0], folder):
            print(f"wrote {path}")
        return
    reports = [
        evaluate(task, run_dir, options.dataset)
        for run_dir, task in zip(options.model, tasks, strict=True)
    ]
    if not options.benchmark:
        for run_dir, report in zip(options.model, reports, strict=True):
            scores = {"metrics": report["metrics"], "baselines": report["baselines"]}
            print(f"{run_dir} on {report['dataset']}: {json.dumps(scores, indent=2)}")
        return
    report = combine(reports, shlex.join(["python", "evaluate.py", *argv]))
    print(json.dumps({"metrics": report["metrics"], "baselines": report["baselines"]}, indent=2))
    print(f"wrote {publish(report)}")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except USER_ERRORS as error:
        sys.exit(f"error: {error}")
