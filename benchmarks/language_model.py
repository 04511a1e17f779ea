"""benchmarks/language_model.json and sentiment_pretrained.json: the language
model over three seeds, and sentiment fine-tuned from each of them.

`python benchmarks/language_model.py` (or `make benchmark-language-model`),
per seed: `train.py language_model`, its test scores (`evaluate.py`), then
`train.py sentiment --pretrained` from that run and its test scores; for
seed 0, also text generated from fixed prompts and sampling seeds, into
`benchmarks/language_model/samples-seedK.jsonl`. The reports combine as
`evaluate.py --benchmark` combines seeds, and the README's table shows both.

A seed takes about 40 minutes on a 2-core CPU, three of them longer than a
run directory may live, so each finished seed (its two test reports and
samples) is recorded in `benchmarks/language_model/seeds.json`, and reused when its commands are
the same and the code it ran (`SEED_CODE`) has the same contents now;
`--fresh` ignores the record. A seed is recorded whole or not at all: the
fine-tuning needs its language model's run directory.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.records import code_fingerprint, recorded  # noqa: E402
from core.evaluation import combine, publish  # noqa: E402
from core.files import write_json, write_text  # noqa: E402

OUTPUT = ROOT / "benchmarks"
RECORD = Path("language_model") / "seeds.json"  # under the output folder
RUNS = Path("runs") / "benchmark"
SEEDS = (0, 1, 2)
PROMPTS = ("This movie", "I expected", "The acting was")
SAMPLE_SEEDS = (0, 1, 2)
# Fine-tuning keeps a moving average of the weights, chosen on validation over
# three seeds (docs/experiments/language_model.md, "A weight average"). Not a
# default of --pretrained: 0.99 per step suits IMDB's 190 batches an epoch and
# would lag on a small dataset's few.
FINE_TUNING = ("--ema", "0.99")
# What a seed's results depend on (this script only runs and gathers them).
SEED_CODE = ("train.py", "evaluate.py", "requirements.txt", "core", "data", "models",
             "tasks/__init__.py", "tasks/language_model", "tasks/sentiment")  # fmt: skip


def commands(runs: Path, seed: int) -> dict[str, list[str]]:
    """The command lines of one seed, by what they make."""
    language_model = str(runs / "language_model" / f"gru-s{seed}")
    sentiment = str(runs / "sentiment" / f"pretrained-gru-s{seed}")
    lines = {
        "train_language_model": ["python", "train.py", "language_model", "--seed", str(seed),
                                 "--run-dir", language_model],
        "language_model": ["python", "evaluate.py", "language_model", "--model", language_model],
        "train_sentiment": ["python", "train.py", "sentiment", "--pretrained", language_model,
                            "--seed", str(seed), *FINE_TUNING, "--run-dir", sentiment],
        "sentiment": ["python", "evaluate.py", "sentiment", "--model", sentiment],
    }  # fmt: skip
    if seed == 0:
        for sample in SAMPLE_SEEDS:
            lines[f"samples-seed{sample}"] = [
                *lines["language_model"], "--predict", *PROMPTS, "--sample-seed", str(sample)
            ]  # fmt: skip
    return lines


def run(line: list[str], capture: bool = False) -> str:
    """Runs one command line from the repository (a finished run directory is
    reused by `train.py`), its progress shown; returns what it printed if
    `capture`."""
    print(f"$ {shlex.join(line)}", flush=True)
    result = subprocess.run(
        [sys.executable, *line[1:]],
        cwd=ROOT,
        stdout=subprocess.PIPE if capture else None,
        text=True,
        check=False,
    )
    if result.returncode:
        raise SystemExit(f"{shlex.join(line)} failed (exit {result.returncode})")
    return result.stdout or ""


def measure(lines: dict[str, list[str]]) -> dict:
    """One seed: both models trained and scored on test, and its samples."""
    outcome = {"samples": {}}
    for name, line in lines.items():
        if name.startswith("samples"):
            printed = run(line, capture=True)
            outcome["samples"][name] = [json.loads(row) for row in printed.splitlines()]
            continue
        run(line)
        if not name.startswith("train"):
            model = line[line.index("--model") + 1]
            outcome[name] = json.loads((ROOT / model / "evaluation.json").read_text())
    return outcome


def published(reports: list[dict], lines: list[list[str]], name: str, output: Path) -> dict:
    """The seeds' reports as one benchmark file, with the commands that made it."""
    report = combine(reports, "") | {
        "command": "make benchmark-language-model",
        "commands": [shlex.join(line) for line in lines],
    }
    # Only the repository's own benchmark files make the README's table.
    if output == OUTPUT:
        path = publish(report, name=name)
    else:
        path = output / f"{name}.json"
        write_json(path, report)
    print(f"wrote {path}")
    return report


def main(plan) -> None:
    record_path = plan.output / RECORD
    record_path.parent.mkdir(parents=True, exist_ok=True)
    code = code_fingerprint(SEED_CODE)
    record = {} if plan.fresh else recorded(record_path, code)
    seeds = []
    for seed in plan.seeds:
        lines = commands(plan.runs, seed)
        key = json.dumps([shlex.join(line) for line in lines.values()])
        if key in record:
            print(f"seed {seed}: recorded in {record_path}, reused (--fresh to run it again)")
        else:
            record[key] = measure(lines) | {"seed": seed, "code": code}
            write_json(record_path, record)
        seeds.append((lines, record[key]))
    for name, stage, report_name in (
        ("language_model", "train_language_model", "language_model"),
        ("sentiment", "train_sentiment", "sentiment_pretrained"),
    ):
        reports = [outcome[name] for _, outcome in seeds]
        made_by = [lines[step] for lines, _ in seeds for step in (stage, name)]
        published(reports, made_by, report_name, plan.output)
    for _, outcome in seeds:
        for name, rows in outcome["samples"].items():
            text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
            write_text(plan.output / "language_model" / f"{name}.jsonl", text)
    print(f"benchmark files in {os.path.relpath(plan.output, ROOT)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # A smaller plan, for a look or a test.
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--runs", type=Path, default=RUNS)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--fresh", action="store_true", help="ignore the recorded seeds")
    main(parser.parse_args())
