"""SavedModel exports in numbered version folders, as TensorFlow Serving expects.

An export is written to a hidden temporary folder and renamed into place
only once complete, so a crash never leaves a half-written version behind
and other versions are never touched.
"""

import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm


class Endpoint(NamedTuple):
    """One raw-input -> raw-output function and its input signature."""

    function: Callable
    signature: list


class Serving(NamedTuple):
    """The endpoints an export serves, by name, and the layers (beside the
    model) whose state they use, such as a vocabulary lookup.

    Every endpoint becomes a signature of the SavedModel; the first one is
    also `serving_default`, which TensorFlow Serving calls by default.
    """

    endpoints: dict[str, Endpoint]
    resources: list


def export(model: keras.Model, serving: Serving, root: Path, version: int | None = None) -> Path:
    """Writes `serving` as version `version` under `root` (default: the next
    number); an existing folder of that version is replaced whole."""
    root.mkdir(parents=True, exist_ok=True)
    archive = keras.export.ExportArchive()
    for resource in (model, *serving.resources):
        archive.track(resource)
    for name, endpoint in serving.endpoints.items():
        archive.add_endpoint(name, endpoint.function, input_signature=endpoint.signature)
    staging, old = (root / f".tmp-{uuid.uuid4().hex}" for _ in range(2))
    target = root / str(version or next_version(root))
    try:
        archive.write_out(str(staging), verbose=False)
        if target.exists():
            target.rename(old)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return target


def latest_version(root: Path) -> Path:
    """The highest numbered export under `root`."""
    versions = sorted(int(path.name) for path in root.glob("*") if path.name.isdigit())
    if not versions:
        raise FileNotFoundError(f"{root} holds no numbered SavedModel export")
    return root / str(versions[-1])


def next_version(root: Path) -> int:
    try:
        return int(latest_version(root).name) + 1
    except FileNotFoundError:
        return 1


def load_export(path: Path):
    """A SavedModel with its endpoints as methods; needs no code from this project.

    Keep the returned object alive while calling its endpoints: they use its
    variables.
    """
    return tf.saved_model.load(str(path))


def predict(
    serve: Callable,
    inputs: np.ndarray,
    *,
    arguments: Callable | None = None,
    steps: np.ndarray | None = None,
    batch_size: int = 256,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Runs `serve` over `inputs` in batches of similar length; every output
    comes back per input, in input order.

    `arguments(indices)` makes serve's arguments for those inputs (default:
    the inputs, raw strings, as one tensor). `steps` gives each input's
    length when the outputs have one row per step: each input's output is
    then cut to its length (an object array of arrays). Sorting by length
    keeps padding low.
    """
    lengths = steps if steps is not None else [len(item) for item in inputs]
    order = np.argsort(lengths, kind="stable")
    if arguments is None:
        arguments = lambda chosen: [tf.constant(inputs[chosen].tolist())]  # noqa: E731
    outputs: dict[str, list] = {}
    dtypes = {}
    starts = range(0, len(inputs), batch_size)
    for start in tqdm(starts, desc="predict", unit="batch", disable=not progress):
        chosen = order[start : start + batch_size]
        for name, values in serve(*arguments(chosen)).items():
            values, rows = values.numpy(), outputs.setdefault(name, [None] * len(inputs))
            dtypes[name] = values.dtype
            for row, index in enumerate(chosen):
                rows[index] = values[row] if steps is None else values[row, : steps[index]]
    if steps is None:
        return {name: np.array(rows, dtype=dtypes[name]) for name, rows in outputs.items()}
    return {name: _column(rows) for name, rows in outputs.items()}


def _column(rows: list) -> np.ndarray:
    """A 1-D object array of `rows` (numpy would stack rows of one length)."""
    column = np.empty(len(rows), dtype=object)
    column[:] = rows
    return column
