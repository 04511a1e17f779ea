"""What a long benchmark has measured so far, kept across machines and days.

A benchmark of many hours outlives its run directories, so each finished
part is recorded in a JSON file beside its report (commit it to carry a
part-done benchmark to another day), keyed by its command, with a
fingerprint of the code it ran: a part that other code recorded is run again.
"""

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def code_fingerprint(names: tuple[str, ...]) -> str:
    """A hash of these files and folders' Python files, committed or not."""
    digest = hashlib.sha256()
    for name in names:
        path = ROOT / name
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            digest.update(f"{file.relative_to(ROOT)}\n".encode() + file.read_bytes())
    return digest.hexdigest()


def recorded(path: Path, code: str) -> dict:
    """The parts recorded in `path` (key -> outcome) that this code ran."""
    parts = json.loads(path.read_text()) if path.exists() else {}
    return {key: part for key, part in parts.items() if part.get("code") == code}
