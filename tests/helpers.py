"""Shared test steps: a command line run as a user types it, and the
"export, reload in a fresh process, outputs equal" check."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

RELOAD = """
import json, sys
import tensorflow as tf
for module in sys.argv[3:]:
    __import__(module)
loaded = tf.saved_model.load(sys.argv[1])  # kept alive: its variables serve
serve = loaded.signatures[sys.argv[2]]
inputs = json.load(sys.stdin)
if isinstance(inputs, dict):
    outputs = serve(**{name: tf.constant(value, dtype) for name, (value, dtype) in inputs.items()})
else:
    outputs = serve(tf.constant(inputs))
def plain(value):
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value.decode() if isinstance(value, bytes) else value
print(json.dumps({name: plain(value.numpy().tolist()) for name, value in outputs.items()}))
"""


def outputs_in_fresh_process(
    export_dir: Path,
    inputs: list | dict,
    signature: str = "serving_default",
    imports: tuple[str, ...] = (),
) -> dict[str, list]:
    """Serves `inputs` with TensorFlow alone, in a new interpreter outside the repo.

    `inputs` is one positional batch (nested lists for more than one
    dimension), or the signature's named inputs as `{name: (value, dtype name)}`;
    `imports` names libraries whose ops the export uses (say tensorflow_text).
    """
    result = subprocess.run(
        [sys.executable, "-c", RELOAD, str(export_dir), signature, *imports],
        input=json.dumps(inputs),
        capture_output=True,
        text=True,
        cwd=export_dir,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_same_outputs(expected: dict, actual: dict, atol: float = 1e-5) -> None:
    assert sorted(expected) == sorted(actual)
    for name, values in expected.items():
        values = np.asarray(values)
        if values.dtype.kind in "fc":
            np.testing.assert_allclose(values, np.asarray(actual[name]), atol=atol)
        else:
            assert _text(values.tolist()) == list(actual[name])


def _text(values):
    """Nested lists with bytes decoded, as the fresh process prints them."""
    if isinstance(values, list):
        return [_text(value) for value in values]
    return values.decode() if isinstance(values, bytes) else values


def run_script(*arguments: str) -> subprocess.CompletedProcess:
    """`python ARGUMENTS` from the repository root, output captured, exit
    status left to the test (`train.py ...`, `evaluate.py ...`)."""
    return subprocess.run(
        [sys.executable, *arguments], cwd=ROOT, capture_output=True, text=True, check=False
    )
