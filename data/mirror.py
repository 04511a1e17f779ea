"""Where dataset files come from: a local mirror, or their canonical URL.

A mirror is a folder laid out like the project's `shared/datasets` (for
example `aclImdb/aclImdb_v1.tar.gz`). It is chosen with `--data-mirror` or the
`RNN_DATA_MIRROR` environment variable. Without one, builders download the
canonical URL; when that host cannot be reached we fail within seconds,
before tensorflow-datasets starts its minutes of download retries.
"""

import os
import socket
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from data.errors import DatasetUnavailableError

MIRROR_ENV = "RNN_DATA_MIRROR"
MIRROR_HINT = (
    f"pass --data-mirror DIR (or set {MIRROR_ENV}=DIR) to read a local mirror laid out "
    "like shared/datasets instead"
)


@dataclass(frozen=True)
class RemoteFile:
    """One upstream file: its canonical URL and its place inside a mirror."""

    url: str
    mirror_path: str


def mirror_root(option: str | os.PathLike | None = None) -> Path | None:
    """The mirror chosen by the option, else by the environment, else none."""
    chosen = option or os.environ.get(MIRROR_ENV)
    return Path(chosen).expanduser() if chosen else None


def mirrored_file(remote: RemoteFile, mirror: Path) -> Path:
    """The mirror's copy of `remote`; a clear error when it is not there."""
    if not mirror.is_dir():
        raise DatasetUnavailableError(f"Data mirror {mirror} is not a directory.")
    path = mirror / remote.mirror_path
    if not path.is_file():
        raise DatasetUnavailableError(
            f"Data mirror {mirror} has no {remote.mirror_path} (looked for {path}); "
            f"its upstream URL is {remote.url}."
        )
    return path


def require_reachable(url: str, timeout: float = 5.0) -> None:
    """Raises `DatasetUnavailableError` unless `url`'s host accepts a connection.

    The probe runs in a thread so that a slow DNS lookup is bounded by
    `timeout` too, not only the TCP connect.
    """
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    failure: list[BaseException] = []

    def probe() -> None:
        try:
            socket.create_connection((parts.hostname, port), timeout=timeout).close()
        except OSError as error:
            failure.append(error)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        failure.append(TimeoutError(f"no answer within {timeout:g} s"))
    if failure:
        raise DatasetUnavailableError(
            f"Cannot download {url}: {failure[0]}. Offline? {MIRROR_HINT}."
        )
