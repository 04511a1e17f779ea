"""Bring-your-own labelled text as CSV or TSV, with errors that name the line."""

import csv
import io
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from data.errors import DataFormatError
from data.pipeline import Examples


def read_labelled_table(
    path: Path, text_column: str = "text", label_column: str = "label"
) -> Examples:
    """Reads a table with a header naming its columns (tab-separated for .tsv/.tab).

    Returns `Examples` whose targets are the labels as written (stripped);
    `data.labels` names the classes. Column names match case-insensitively.
    Any malformed row raises `DataFormatError` naming file and line.
    """
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    content = read_utf8(path)
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter, strict=True)
    texts, labels = [], []
    try:
        with fields_up_to(len(content)):
            header = [field.strip().lower() for field in next(reader, [])]
            text_at = column_index(path, header, text_column, "--text-column")
            label_at = column_index(path, header, label_column, "--label-column")
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
                if not row[label_at].strip():
                    raise DataFormatError(
                        f"{path}, line {start}: empty label in column {header[label_at]!r}"
                    )
                texts.append(row[text_at])
                labels.append(row[label_at].strip())
    except csv.Error as error:
        raise DataFormatError(f"{path}, line {reader.line_num}: {error}") from None
    if not texts:
        raise DataFormatError(f"{path}: no examples after the header")
    return Examples(np.array(texts, dtype=object), np.array(labels, dtype=object))


def column_index(path: Path, header: list[str], name: str, option: str) -> int:
    """Where column `name` is in `header`; a missing one is an error naming them all."""
    if name.strip().lower() not in header:
        raise DataFormatError(
            f"{path}, line 1: no column {name!r} ({option}); the header names {header}"
        )
    return header.index(name.strip().lower())


@contextmanager
def fields_up_to(characters: int):
    """Lets the csv module read fields as long as the whole file (a review of
    several MB in one cell); its default stops at 131,072 characters. The
    limit is the module's, for the whole process, so it is put back after."""
    previous = csv.field_size_limit()
    csv.field_size_limit(max(previous, characters))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def read_utf8(path: Path) -> str:
    """A text file's content; bytes that are not UTF-8 raise `DataFormatError`
    naming the file and the line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataFormatError(f"{path}, line {line}: not UTF-8 ({error.reason})") from None
