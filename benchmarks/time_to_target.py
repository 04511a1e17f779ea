"""Time to a validation target: does a training setting reach the default's
validation accuracy sooner, and is its test score as good? (Issue 28: a
larger batch with a scaled learning rate, judged by time and not by tokens/s.)

Each seed trains every contender, alternated (A B A B ...), with the same
command as the benchmark plus the contender's options, then scores the
export on test with `evaluate.py`. The validation target is the lowest best
validation accuracy of the reference contender over the seeds, a level
it reaches on every seed, unless `--target` sets it. The reference is the
batch-32 default that the sentiment task had until batch 128 won here. A run's
time to it is the wall time of its epochs, training and validation, up to
the first epoch whose validation accuracy reaches it. Runs already finished
in `--root` are reused, so an interrupted comparison resumes.

    python benchmarks/time_to_target.py                     # batch 32 vs batch 128
    python benchmarks/time_to_target.py --seeds 0 --limit 2000 --epochs 2 --root /tmp/t
"""

import argparse
import json
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.evaluation import machine, over_seeds  # noqa: E402
from core.files import write_json  # noqa: E402
from core.fitting import read_history  # noqa: E402
from core.runner import source_version  # noqa: E402

CONTENDERS = {
    "batch-32": "--batch-size 32 --learning-rate 0.001",
    "batch-128": "--batch-size 128 --learning-rate 0.002",
}
REFERENCE = "batch-32"


def run(command: list[str]) -> None:
    """`python COMMAND...` from the repository root; a failure stops everything."""
    print("$", shlex.join(command), flush=True)
    result = subprocess.run([sys.executable, *command[1:]], cwd=ROOT, check=False)
    if result.returncode:
        raise SystemExit(f"{shlex.join(command)} failed with exit status {result.returncode}")


def train_and_score(options: str, seed: int, run_dir: Path, extra: list[str]) -> dict:
    """Trains (or resumes) one run and scores its export on test."""
    train = ["python", "train.py", "sentiment", *shlex.split(options), *extra]
    train += ["--seed", str(seed), "--run-dir", str(run_dir)]
    score = ["python", "evaluate.py", "sentiment", "--model", str(run_dir)]
    run(train)
    run(score)
    history = read_history(run_dir / "history.csv")
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    return {
        "commands": [shlex.join(train), shlex.join(score)],
        "validation_accuracy": [round(row["val_accuracy"], 4) for row in history],
        "epoch_seconds": [round(row["epoch_seconds"], 1) for row in history],
        "test_accuracy": evaluation["metrics"]["accuracy"],
    }


def seconds_to(target: float, result: dict) -> float | None:
    """Wall seconds of the epochs up to the first that reaches `target`; None if none does."""
    spent = 0.0
    for accuracy, seconds in zip(
        result["validation_accuracy"], result["epoch_seconds"], strict=True
    ):
        spent += seconds
        if accuracy >= target:
            return round(spent, 1)
    return None


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--target", type=float, help="validation accuracy (default: see above)")
    parser.add_argument("--root", type=Path, default=ROOT / "runs" / "time_to_target")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "time_to_target.json")
    parser.add_argument("--limit", type=int, default=0, help="smoke runs: train.py's --limit")
    parser.add_argument("--epochs", type=int, default=0, help="smoke runs: train.py's --epochs")
    options = parser.parse_args(argv)
    extra = ["--limit", str(options.limit)] if options.limit else []
    extra += ["--epochs", str(options.epochs)] if options.epochs else []
    results = {name: {} for name in CONTENDERS}
    for seed in options.seeds:
        for name, flags in CONTENDERS.items():
            run_dir = options.root / f"{name}-s{seed}"
            results[name][seed] = train_and_score(flags, seed, run_dir, extra)
    reached = [max(result["validation_accuracy"]) for result in results[REFERENCE].values()]
    target = options.target if options.target is not None else min(reached)
    report = {
        "task": "sentiment",
        "question": "seconds of training and validation to reach the validation target",
        "target_validation_accuracy": target,
        "target_chosen": "given" if options.target is not None else f"lowest best of {REFERENCE}",
        "contenders": {},
        "machine": machine(),
        "source": source_version(),
        "command": shlex.join(["python", "benchmarks/time_to_target.py", *argv]),
    }
    for name, per_seed in results.items():
        times = [seconds_to(target, result) for result in per_seed.values()]
        report["contenders"][name] = {
            "options": CONTENDERS[name],
            "seconds_to_target": times,
            "median_seconds_to_target": (statistics.median(times) if None not in times else None),
            "test_accuracy": over_seeds(
                [{"accuracy": result["test_accuracy"]} for result in per_seed.values()]
            )["accuracy"],
            "runs": per_seed,
        }
    report["metrics"] = {
        f"{name}_median_seconds_to_target": contender["median_seconds_to_target"]
        for name, contender in report["contenders"].items()
    }
    reference = report["contenders"][REFERENCE]["median_seconds_to_target"]
    for name, contender in report["contenders"].items():
        median = contender["median_seconds_to_target"]
        contender["times_sooner_than_" + REFERENCE] = (
            round(reference / median, 2) if reference and median else None
        )
        print(f"{name}: to {target:.4f} in {contender['seconds_to_target']} s, "
              f"test {contender['test_accuracy']}")  # fmt: skip
    write_json(options.output, report)
    print(f"wrote {options.output}")


if __name__ == "__main__":
    main(sys.argv[1:])
