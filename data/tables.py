"""Bring-your-own labelled text as CSV or TSV, with errors that name the line."""

import csv
import io
from pathlib import Path

import numpy as np

from data.errors import DataFormatError
from data.pipeline import Examples

LABEL_ALIASES = {"neg": ("0", "neg", "negative"), "pos": ("1", "pos", "positive")}


def read_labelled_table(path: Path, label_names: tuple[str, ...]) -> Examples:
    """Reads a table with a `text,label` header (tab-separated for .tsv/.tab).

    A label is the class's index, its name or, for neg/pos, an alias such as
    `positive`. Any malformed row raises `DataFormatError` naming file and line.
    """
    lookup = {}
    for index, name in enumerate(label_names):
        for alias in (str(index), name, *LABEL_ALIASES.get(name, ())):
            lookup[alias.lower()] = index
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    reader = csv.reader(io.StringIO(read_utf8(path), newline=""), delimiter=delimiter, strict=True)
    texts, labels = [], []
    try:
        header = [field.strip().lower() for field in next(reader, [])]
        if "text" not in header or "label" not in header:
            raise DataFormatError(
                f"{path}, line 1: expected a header naming the columns 'text' and 'label', "
                f"got {header}"
            )
        text_column, label_column = header.index("text"), header.index("label")
        line = reader.line_num
        for row in reader:
            start, line = line + 1, reader.line_num
            if not row:
                continue
            if len(row) != len(header):
                raise DataFormatError(
                    f"{path}, line {start}: expected {len(header)} fields "
                    f"({', '.join(header)}), got {len(row)}"
                )
            label = row[label_column].strip().lower()
            if label not in lookup:
                raise DataFormatError(
                    f"{path}, line {start}: label {row[label_column]!r} is not one of "
                    f"{sorted(lookup)}"
                )
            texts.append(row[text_column])
            labels.append(lookup[label])
    except csv.Error as error:
        raise DataFormatError(f"{path}, line {reader.line_num}: {error}") from None
    if not texts:
        raise DataFormatError(f"{path}: no examples after the header")
    return Examples(np.array(texts, dtype=object), np.array(labels, dtype="int64"))


def read_utf8(path: Path) -> str:
    """A text file's content; bytes that are not UTF-8 raise `DataFormatError`
    naming the file and the line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataFormatError(f"{path}, line {line}: not UTF-8 ({error.reason})") from None
