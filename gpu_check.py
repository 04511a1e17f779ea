"""Will each task's recurrent layers run on cuDNN, and how fast does each task
train on this machine's GPU? `python gpu_check.py [TASK ...] [--steps N]`.

For every recurrent layer of a task's default model: whether Keras will run
it with the fused cuDNN kernel on a GPU, by Keras's own rule (tanh and
sigmoid activations, a bias, no unrolling, no recurrent dropout, and for a
GRU `reset_after`), and if not, why and which option changes it. SimpleRNN
has no fused kernel, and a cell stepped in a loop (a decoder) cannot use one.
Then, on a GPU, a few training steps with and without mixed precision:
steps/s, timesteps/s and peak GPU memory. Without a GPU it says so.
"""

import argparse
import importlib
import json
import sys
import time

from core.startup import start_command
from data.errors import USER_ERRORS
from tasks import TASKS

# The option that lifts each obstacle, as `train.py` spells it.
REMEDIES = {"recurrent dropout": "--recurrent-dropout 0"}


def layer_report(model) -> list[dict]:
    """One row per recurrent layer or stepped cell of `model`."""
    import keras

    # Keras's own cuDNN rule, as its LSTM and GRU layers apply it.
    keras_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")

    rows, cells_in_layers = [], set()
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.RNN):
            cells_in_layers.add(id(layer.cell))
    for layer in model._flatten_layers(include_self=False, recursive=True):
        kind = type(layer).__name__
        obstacles = []
        if isinstance(layer, keras.layers.LSTM | keras.layers.GRU):
            cell = layer.cell
            arguments = dict(
                activation=cell.activation,
                recurrent_activation=cell.recurrent_activation,
                unroll=layer.unroll,
                use_bias=cell.use_bias,
            )
            if isinstance(layer, keras.layers.GRU):
                supported = keras_rnn._do_gru_arguments_support_cudnn(
                    reset_after=cell.reset_after, **arguments
                )
            else:
                supported = keras_rnn._do_lstm_arguments_support_cudnn(**arguments)
            if not supported:
                obstacles.append("activations, bias, unrolling or reset_after")
            if layer.recurrent_dropout:
                obstacles.append("recurrent dropout")
            if layer.use_cudnn is False:
                obstacles.append("use_cudnn=False")
        elif isinstance(layer, keras.layers.RNN):
            obstacles.append(f"{kind} has no fused kernel")
        elif kind.endswith("Cell") and id(layer) not in cells_in_layers:
            obstacles.append("a cell stepped in a loop has no fused kernel")
        else:
            continue
        rows.append(
            {
                "layer": layer.path if hasattr(layer, "path") else layer.name,
                "kind": kind,
                "cudnn": not obstacles,
                "why_not": obstacles,
                "remedy": [REMEDIES[item] for item in obstacles if item in REMEDIES],
            }
        )
    return rows


def timings(task, splits, steps: int, device: str | None = None) -> dict:
    """Training steps/s, timesteps/s and peak memory, float32 and mixed, on
    `device` (the first GPU by default; None when there is none)."""
    import keras
    import tensorflow as tf

    from core.distribution import precision, step_functions

    if device is None:
        if not tf.config.list_physical_devices("GPU"):
            return {"device": None}
        device = "GPU:0"
    batches = task.batches(splits.train, training=True).take(steps + 1)
    real, _ = task.count_tokens(batches.skip(1))
    results = {"device": device}
    for mixed in (False, True):
        with tf.device(device):
            with precision(mixed):
                model = task.build_model()
                model.compile(optimizer=keras.optimizers.Adam(), **task.compile_arguments())
            train, _ = step_functions(model, tf.distribute.get_strategy())
            iterator = iter(batches)
            train(iterator)  # traced and warmed up outside the clock
            if device.startswith("GPU"):
                tf.config.experimental.reset_memory_stats(device)
            started = time.perf_counter()
            for _ in range(steps):
                logs = train(iterator)
            float(next(iter(logs.values())))  # waits for the last step
            seconds = time.perf_counter() - started
        peak = (
            tf.config.experimental.get_memory_info(device)["peak"] / 2**20
            if device.startswith("GPU")
            else None
        )
        results["mixed" if mixed else "float32"] = {
            "steps_per_second": round(steps / seconds, 2),
            "timesteps_per_second": round(real / seconds),
            "peak_memory_mb": None if peak is None else round(peak, 1),
        }
    return results


def check(name: str, steps: int, limit: int) -> dict:
    registered = TASKS[name]
    task = registered.task_class()(registered.Config(), registered.Training(limit=limit))
    splits = task.splits()
    task.adapt(splits.train)
    return {
        "task": name,
        "layers": layer_report(task.build_model()),
        "timings": timings(task, splits, steps),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", metavar="TASK", help=f"of {', '.join(TASKS)} (all)")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument(
        "--limit", type=int, default=2000, help="training examples read (enough for --steps)"
    )
    parser.add_argument("--json", help="also write the report to this file")
    options = parser.parse_args(argv)
    unknown = set(options.tasks) - set(TASKS)
    if unknown:
        parser.error(f"no task {', '.join(sorted(unknown))}; tasks: {', '.join(TASKS)}")
    start_command()
    report = [check(name, options.steps, options.limit) for name in options.tasks or TASKS]
    for entry in report:
        print(f"{entry['task']}:")
        for row in entry["layers"]:
            verdict = "cuDNN" if row["cudnn"] else "no cuDNN: " + ", ".join(row["why_not"])
            remedy = f" (eligible with {', '.join(row['remedy'])})" if row["remedy"] else ""
            print(f"  {row['layer']} ({row['kind']}): {verdict}{remedy}")
        timing = entry["timings"]
        if timing["device"] is None:
            print("  timings: no GPU")
        else:
            for mode in ("float32", "mixed"):
                print(f"  {mode} on {timing['device']}: {timing[mode]}")
    if options.json:
        with open(options.json, "w") as file:
            json.dump(report, file, indent=2)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except USER_ERRORS as error:
        sys.exit(f"error: {error}")
