"""Shared fixtures: the real data mirror, a prepared IMDB, tiny configurations.

The mirror comes from RNN_DATA_MIRROR (CI points it at ../shared/datasets).
Without it the tests that need real data download from the canonical URL,
or fail loudly when offline; they never skip.
"""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tensorflow as tf  # noqa: E402

from data.mirror import mirror_root  # noqa: E402

# Two logical CPU devices, so that MirroredStrategy has two replicas to keep
# in step on a machine without GPUs; every other test places its work on the
# first, as it would without them.
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2
)

TINY_SENTIMENT = {
    "vocabulary_size": 500,
    "embedding_dim": 8,
    "units": 8,
}
TINY_POS = {
    "word_embedding_dim": 8,
    "character_embedding_dim": 8,
    "character_units": 8,
    "units": 8,
    "depth": 1,
}


@pytest.fixture(scope="session")
def tfds_dir() -> Path:
    """A tensorflow-datasets data dir that outlives one test session."""
    path = Path(os.environ.get("RNN_TEST_DATA_DIR", ROOT / ".cache" / "tensorflow_datasets"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def mirror() -> str:
    """The data mirror the tests read, as the project's option takes it."""
    root = mirror_root()
    return str(root) if root else ""


@pytest.fixture
def offline(monkeypatch):
    """No network and no mirror; any tfds download attempt fails the test."""
    import socket

    import tensorflow_datasets as tfds

    from data.mirror import MIRROR_ENV

    def unreachable(*args, **kwargs):
        raise OSError("Network is unreachable")

    def must_not_download(*args, **kwargs):
        raise AssertionError("tfds download was attempted")

    monkeypatch.delenv(MIRROR_ENV, raising=False)
    monkeypatch.setattr(socket, "create_connection", unreachable)
    monkeypatch.setattr(tfds.download.DownloadManager, "download", must_not_download)
