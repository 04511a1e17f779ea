"""benchmarks/memory.json: how long a memory each recurrent cell and cure learns.

`python benchmarks/memory.py` (or `make benchmark-memory`): for each problem
(adding, copy) and contender (a cell with an initialisation, clipping on or
off), every seed climbs a geometric ladder of lengths T, training
`train.py memory` for at most the budget of steps at each rung, and stops
climbing at the first rung validation does not solve. Solved is then judged
on test with the weights validation kept (`tasks.memory.task`); the step at
which validation first met the bar is the "solved step". Per contender: the largest T solved
(mean, standard deviation and per seed), and for seed 0's largest solved rung
the gradient flow ||dL/dh_t|| at initialisation and at the end. The README's
picture (gradient norm against T - t at initialisation, SimpleRNN, LSTM
and GRU) and table are written too.

The whole ladder takes hours, longer than a run directory may live, so each
judged rung is also recorded in `benchmarks/memory/rungs.json` (commit it to
carry a part-done benchmark to another machine or day). A recorded rung is
reused when its command is the same and the code it ran (`RUNG_CODE`) has
the same contents now; `--fresh` ignores the record and starts over.
"""

import argparse
import csv
import json
import os
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from tqdm import tqdm  # noqa: E402

from benchmarks.records import code_fingerprint, recorded  # noqa: E402
from core.evaluation import evaluate, machine  # noqa: E402
from core.files import write_json, write_text  # noqa: E402
from core.gradient_flow import gradient_flow, measure_run  # noqa: E402
from core.runner import source_version  # noqa: E402
from tasks import load_task  # noqa: E402
from tasks.memory.config import MemoryConfig, MemoryTraining  # noqa: E402
from tasks.memory.task import SOLVED_BELOW, Memory  # noqa: E402

OUTPUT = ROOT / "benchmarks" / "memory.json"
PICTURE = "flow_at_initialisation.png"  # in a folder `memory` beside the report
README = ROOT / "README.md"
START, END = "<!-- memory:start -->", "<!-- memory:end -->"
RUNS = Path("runs") / "benchmark" / "memory"
RUNGS = "rungs.json"  # in the folder `memory` beside the report
# What a rung's result depends on: a recorded rung whose fingerprint of these
# files differs from theirs now is trained again. Any edit under core/, data/
# or models/ counts, even one the memory task never runs.
RUNG_CODE = ("train.py", "evaluate.py", "requirements.txt", "core", "data", "models",
             "tasks/__init__.py", "tasks/memory", "benchmarks/memory.py")  # fmt: skip
LADDER = (25, 50, 100, 200, 400)
SEEDS = (0, 1, 2)
EPOCHS, STEPS_PER_EPOCH = 20, 100  # a budget of 2000 steps of 32 fresh examples
CONTENDERS = {
    "simple": "--cell simple",
    "simple, glorot (not orthogonal)": "--cell simple --init glorot",
    "simple, IRNN": "--cell simple --init irnn",
    "simple, no clipping": "--cell simple --clipnorm 0",
    "lstm": "--cell lstm",
    "lstm, chrono": "--cell lstm --init chrono",
    "lstm, no clipping": "--cell lstm --clipnorm 0",
    "gru": "--cell gru",
    "gru, chrono": "--cell gru --init chrono",
    "gru, no clipping": "--cell gru --clipnorm 0",
}
# At initialisation, at the top rung: each cell with Keras's defaults and its cure.
PICTURED = (
    ("simple", "orthogonal"),
    ("simple", "glorot"),
    ("lstm", "orthogonal"),
    ("lstm", "chrono"),
    ("gru", "orthogonal"),
    ("gru", "chrono"),
)


def command(plan, problem: str, contender: str, length: int, seed: int) -> list[str]:
    name = contender.split(" (")[0].replace(", ", "-").replace(" ", "-")
    run_dir = plan.runs / f"{problem}-{name}-T{length}-s{seed}"
    return [
        "python", "train.py", "memory", "--problem", problem, "--length", str(length),
        *shlex.split(CONTENDERS[contender]), "--epochs", str(plan.epochs),
        "--steps-per-epoch", str(STEPS_PER_EPOCH), "--seed", str(seed),
        "--diagnose-gradients", str(plan.epochs), "--run-dir", str(run_dir),
    ]  # fmt: skip


def attempt(plan, problem: str, contender: str, length: int, seed: int) -> dict:
    """Trains one rung (or reuses it, recorded or finished) and judges it on test."""
    line = command(plan, problem, contender, length, seed)
    if shlex.join(line) in plan.recorded:
        return plan.recorded[shlex.join(line)]
    outcome = judge(line, problem, length, seed) | {"code": plan.code}
    plan.recorded[shlex.join(line)] = outcome
    write_json(plan.rungs, plan.recorded)
    return outcome


def judge(line: list[str], problem: str, length: int, seed: int) -> dict:
    """Trains one rung (a finished run directory is reused) and judges it on test."""
    run_dir = ROOT / line[-1]
    result = subprocess.run(
        [sys.executable, *line[1:]], cwd=ROOT, capture_output=True, text=True, check=False
    )
    outcome = {"length": length, "seed": seed, "command": shlex.join(line)}
    if result.returncode:
        if "training diverged" not in result.stderr:
            raise RuntimeError(f"{shlex.join(line)} failed:\n{result.stderr[-3000:]}")
        message = result.stderr.strip().splitlines()[-1]
        source = json.loads((run_dir / "config.json").read_text())["source"]
        return outcome | {
            "solved": False,
            "diverged": message.removeprefix("error: "),
            "source": source,
        }
    task = load_task(run_dir)
    metric, bar = SOLVED_BELOW[problem]
    scores = evaluate(task, run_dir)["metrics"]
    with (run_dir / "history.csv").open() as file:
        history = list(csv.DictReader(file))
    met = [int(row["epoch"]) for row in history if float(row[f"val_{metric}"]) < bar]
    steps = task.training.steps_per_epoch
    flow = json.loads((run_dir / "gradients" / "flow.json").read_text())["epochs"]
    measure_run(task, run_dir, run_dir)
    end = json.loads((run_dir / "gradient_flow.json").read_text())["epochs"][0]
    return outcome | {
        "solved": bool(scores["solved"]),
        metric: scores[metric],
        "solved_step": (met[0] + 1) * steps if met else None,
        "steps": len(history) * steps,
        "train_seconds": round(sum(float(row["epoch_seconds"]) for row in history), 1),
        "flow": {"initialisation": _curves(flow[0]), "end": _curves(end)},
        "source": json.loads((run_dir / "config.json").read_text())["source"],
    }


def climb(plan, problem: str, contender: str, seed: int, progress: tqdm) -> list[dict]:
    """One seed's rungs, up to and including the first one validation does not
    call solved (test only reports which rungs are)."""
    rungs = []
    for length in plan.ladder:
        progress.set_postfix_str(f"{problem} {contender} T={length} seed {seed}")
        rungs.append(attempt(plan, problem, contender, length, seed))
        if rungs[-1].get("solved_step") is None:  # climbing is decided on validation
            break
    return rungs


def summary(plan, contender: str, climbs: list[list[dict]]) -> dict:
    largest = [max([0] + [r["length"] for r in rungs if r["solved"]]) for rungs in climbs]
    top = [r for r in climbs[0] if r["solved"]]
    shown = top[-1] if top else climbs[0][0]
    return {
        "flags": CONTENDERS[contender],
        "largest_solved": {
            "mean": statistics.mean(largest),
            "std": statistics.stdev(largest) if len(largest) > 1 else None,
            "per_seed": largest,
        },
        "solved_step": {
            str(length): [
                next((r.get("solved_step") for r in rungs if r["length"] == length), None)
                for rungs in climbs
            ]
            for length in plan.ladder
        },
        "flow_seed0": {"length": shown["length"], **shown.get("flow", {})},
        "rungs": [{k: v for k, v in r.items() if k != "flow"} for rungs in climbs for r in rungs],
    }


def flow_at_initialisation(problem: str, cell: str, init: str, length: int) -> list:
    """||dL/dh_t|| by distance of a freshly initialised model (seed 0) on its
    first validation batch."""
    config = MemoryConfig(problem=problem, cell=cell, init=init, length=length)
    task = Memory(config, MemoryTraining(seed=0))
    keras.utils.set_random_seed(0)
    model = task.build_model()
    model.compile(**task.compile_arguments())
    batch = next(iter(task.batches(task.splits().validation, training=False)))
    (layer,) = gradient_flow(task, model, batch)["layers"].values()
    return layer["by_distance"]


def picture(curves: dict, length: int, path: Path) -> None:
    figure = Figure(figsize=(10, 3.8))
    axes = figure.subplots(1, len(curves), squeeze=False)[0]
    for axis, (problem, by_cell) in zip(axes, curves.items(), strict=True):
        for index, (name, norms) in enumerate(by_cell.items()):
            style = {"color": f"C{index // 2}", "linestyle": "-" if index % 2 == 0 else "--"}
            axis.semilogy(np.arange(len(norms)), np.array(norms, dtype=float), label=name, **style)
        axis.set_title(f"{problem}, T = {length}, at initialisation")
        axis.set_xlabel("steps back from the loss (T - t)")
        axis.set_ylabel("mean ||dL/dh_t||")
        axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)


def table(results: dict, shown: int) -> str:
    lines = [
        "| problem | cell, cure | largest T solved (mean ± std) | per seed "
        f"| step solved at T = {shown}, per seed |",
        "|---|---|---|---|---|",
    ]
    for problem, contenders in results.items():
        for name, result in contenders.items():
            largest = result["largest_solved"]
            steps = result["solved_step"][str(shown)]
            spread = "" if largest["std"] is None else f" ± {largest['std']:.0f}"
            lines.append(
                f"| {problem} | {name} | {largest['mean']:.0f}{spread} "
                f"| {', '.join(map(str, largest['per_seed']))} "
                f"| {', '.join('-' if s is None else str(s) for s in steps)} |"
            )
    return "\n".join(lines)


def _curves(record: dict) -> list:
    (layer,) = record["layers"].values()
    return [None if v is None else float(f"{v:.4g}") for v in layer["by_distance"]]


def headline(results: dict) -> dict:
    """Each problem's and cell's largest length solved, over seeds: the ladder's summary."""
    return {
        f"{problem}_{cell}_largest_solved": rows["largest_solved"]
        for problem, cells in results.items()
        for cell, rows in cells.items()
    }


def main(plan) -> None:
    plan.rungs = plan.output.parent / "memory" / RUNGS
    plan.rungs.parent.mkdir(parents=True, exist_ok=True)
    plan.code = code_fingerprint(RUNG_CODE)
    plan.recorded = {} if plan.fresh else recorded(plan.rungs, plan.code)
    if plan.recorded:
        print(f"reusing {len(plan.recorded)} recorded rungs; --fresh to train them again")
    results = {}
    total = len(plan.problem) * len(plan.contenders) * len(plan.seeds)
    with tqdm(total=total, unit="climb") as progress:
        for problem in plan.problem:
            results[problem] = {}
            for contender in plan.contenders:
                climbs = []
                for seed in plan.seeds:
                    climbs.append(climb(plan, problem, contender, seed, progress))
                    progress.update()
                results[problem][contender] = summary(plan, contender, climbs)
    top = plan.ladder[-1]
    curves = {
        problem: {
            f"{cell} ({init})": flow_at_initialisation(problem, cell, init, top)
            for cell, init in PICTURED
        }
        for problem in plan.problem
    }
    drawn = plan.output.parent / "memory" / PICTURE
    picture(curves, top, drawn)
    report = {
        "task": "memory",
        "split": "test",
        "solved": {p: f"test {m} below {b}" for p, (m, b) in SOLVED_BELOW.items()},
        "ladder": plan.ladder,
        "budget_steps": plan.epochs * STEPS_PER_EPOCH,
        "batch_size": MemoryTraining().batch_size,
        "units": MemoryConfig().units,
        "seeds": plan.seeds,
        "results": results,
        "metrics": headline(results),
        "flow_at_initialisation": curves,
        "figures": [os.path.relpath(drawn, ROOT)],
        "machine": machine(),
        "source": source_version(),  # each rung records its own run's too
        "command": shlex.join(["python", "benchmarks/memory.py", *sys.argv[1:]]),
    }
    write_json(plan.output, report)
    shown = table(results, plan.ladder[min(2, len(plan.ladder) - 1)])
    text = README.read_text()
    if plan.output == OUTPUT and START in text:
        head, rest = text.split(START, 1)
        write_text(README, f"{head}{START}\n{shown}\n{END}{rest.split(END, 1)[1]}")
    print(shown)
    print(f"wrote {plan.output}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", nargs="+", default=["adding", "copy"])
    # A smaller plan, for a look or a test (the README is then left alone).
    parser.add_argument("--ladder", nargs="+", type=int, default=list(LADDER))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="x 100 steps: the budget")
    parser.add_argument("--runs", type=Path, default=RUNS)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--fresh", action="store_true", help="ignore the recorded rungs")
    main(parser.parse_args())
