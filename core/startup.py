"""How a command starts: settings that are the command's business, not the
business of whoever imports the project (say a notebook), made here.

TensorFlow writes start-up notices from C++ before its logging is set up,
past `TF_CPP_MIN_LOG_LEVEL` (oneDNN is on, no CUDA driver, and on a
machine without a GPU an error-level "failed call to cuInit" although
nothing failed): they are held back while it loads; any other line it
writes then is passed on.
"""

import os
import sys
import tempfile
import warnings

START_UP_NOTICES = (
    "All log messages before absl::InitializeLog",
    "oneDNN custom operations are on",
    "Could not find cuda drivers",
    "failed call to cuInit",
    "This TensorFlow binary is optimized",
    "rebuild TensorFlow with the appropriate compiler flags",
)


def start_command() -> None:
    """Loads TensorFlow without its start-up notices and filters warnings that
    are noise on a command line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Keras says this after each pass over a dataset of unknown length, which
    # is every bucketed dataset; it is not a problem here.
    warnings.filterwarnings("ignore", message="Your input ran out of data")
    sys.stderr.flush()
    with tempfile.TemporaryFile() as held:
        stderr = os.dup(2)
        os.dup2(held.fileno(), 2)
        try:
            import keras  # noqa: F401
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # CUDA is probed here
        finally:
            os.dup2(stderr, 2)
            os.close(stderr)
        held.seek(0)
        for line in held.read().decode("utf-8", "replace").splitlines():
            if not any(notice in line for notice in START_UP_NOTICES):
                print(line, file=sys.stderr)
