"""Preparing a tensorflow-datasets builder once, even when processes race.

tensorflow-datasets writes a dataset into a temporary folder and renames it
into place; two processes preparing the same dataset at once (two trainings
started together on a fresh machine) write over each other's temporary
files, and one of them fails. A lock file beside the data lets the first
prepare it while the others wait, then read what it wrote.
"""

import fcntl
from pathlib import Path

import tensorflow_datasets as tfds


def prepare_once(builder: tfds.core.DatasetBuilder, download_config=None) -> None:
    """Downloads and prepares `builder`'s data unless a process, this one or
    another, already has."""
    root = Path(builder.data_dir_root)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{builder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if builder.is_prepared():
            # Prepared while this process waited: the builder, made before the
            # data existed, has not read the data's description yet.
            builder.info.read_from_directory(builder.data_dir)
            return
        builder.download_and_prepare(download_config=download_config)
