"""Plain-text documents, your own, for the language model."""

from pathlib import Path

import numpy as np

from data.errors import DataFormatError
from data.tables import read_utf8

SUFFIX = ".txt"


def read_documents(path: str | Path) -> np.ndarray:
    """The documents of a folder of `.txt` files, one per file (in name
    order), or of one `.txt` file, where a blank line separates documents.
    Empty documents are dropped; bytes that are not UTF-8 raise
    `DataFormatError` naming the file and the line."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.rglob(f"*{SUFFIX}"))
        if not files:
            raise DataFormatError(f"{path}: expected a folder of {SUFFIX} files, found none")
        documents = [read_utf8(file).strip() for file in files]
    elif path.suffix.lower() == SUFFIX:
        documents = [part.strip() for part in _paragraphs(read_utf8(path))]
    else:
        raise DataFormatError(f"{path}: expected a {SUFFIX} file or a folder of them")
    documents = [document for document in documents if document]
    if not documents:
        raise DataFormatError(f"{path}: holds no text")
    return np.array(documents, dtype=object)


def _paragraphs(text: str) -> list[str]:
    parts, current = [], []
    for line in text.splitlines():
        if line.strip():
            current.append(line)
        elif current:
            parts.append("\n".join(current))
            current = []
    return [*parts, "\n".join(current)] if current else parts
