"""The shared "export, reload in a fresh process, outputs equal" check."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

RELOAD = """
import json, sys
import tensorflow as tf
for module in sys.argv[3:]:
    __import__(module)
serve = tf.saved_model.load(sys.argv[1]).signatures[sys.argv[2]]
arguments = json.load(sys.stdin)
outputs = serve(**{name: tf.constant(value) for name, value in arguments.items()})
print(json.dumps({name: [v.decode() if isinstance(v, bytes) else v
                         for v in value.numpy().tolist()] for name, value in outputs.items()}))
"""


def outputs_in_fresh_process(
    export_dir: Path,
    inputs: list[str],
    endpoint: str = "serving_default",
    extra: dict | None = None,
    imports: tuple[str, ...] = (),
) -> dict[str, list]:
    """Serves `inputs` with TensorFlow alone, in a new interpreter outside the repo.

    `extra` holds the endpoint's other arguments by name (say a beam width);
    `imports` names libraries whose ops the export uses (say tensorflow_text).
    """
    result = subprocess.run(
        [sys.executable, "-c", RELOAD, str(export_dir), endpoint, *imports],
        input=json.dumps({"texts": inputs, **(extra or {})}),
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
            assert [v.decode() if isinstance(v, bytes) else v for v in values.tolist()] == list(
                actual[name]
            )
