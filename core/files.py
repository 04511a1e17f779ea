"""Files written atomically: a reader, or a run killed mid-write, sees the old
file or the new one, never half of one."""

import json
import os
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """`write(staging)` fills a file beside `path`, which then replaces `path`.

    The staging name keeps `path`'s name at its end, as Keras needs for
    `.weights.h5` files."""
    staging = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        write(staging)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def write_json(path: Path, data) -> None:
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_text(path: Path, text: str) -> None:
    write_atomically(path, lambda staging: staging.write_text(text))


def remove_leftovers(folder: Path) -> None:
    """Staging files of a process killed mid-write."""
    for leftover in folder.glob(".tmp-*"):
        if leftover.is_file():
            leftover.unlink()
