"""CoNLL-U treebanks (Universal Dependencies): sentences of words and their tags.

One reader for every CoNLL-U file the project touches, the benchmark's as
well as yours, so that a malformed line is always reported with its file and
line number. Multi-word token lines (`3-4`) and empty nodes (`8.1`) are
skipped: tags belong to the syntactic words, which is how the CoNLL 2018
shared task scores tagging on gold tokenisation.
"""

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from data.errors import DataFormatError
from data.options import TAGSETS
from data.pipeline import Examples

# The 17 universal part-of-speech tags (https://universaldependencies.org/u/pos/).
UPOS = (
    "ADJ",
    "ADP",
    "ADV",
    "AUX",
    "CCONJ",
    "DET",
    "INTJ",
    "NOUN",
    "NUM",
    "PART",
    "PRON",
    "PROPN",
    "PUNCT",
    "SCONJ",
    "SYM",
    "VERB",
    "X",
)
COLUMNS = "ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC"
WORD_ID, SKIPPED_ID = re.compile(r"[1-9]\d*"), re.compile(r"[1-9]\d*-[1-9]\d*|\d+\.[1-9]\d*")
SPLIT_FILES = {"train": "train", "validation": "dev", "test": "test"}


class Sentence(NamedTuple):
    """One sentence's syntactic words with their universal and language tags."""

    tokens: tuple[str, ...]
    upos: tuple[str, ...]
    xpos: tuple[str, ...]
    sent_id: str = ""
    text: str = ""


def parse_conllu(lines: Iterable[str], source: str) -> Iterator[Sentence]:
    """Sentences of CoNLL-U `lines`; `source` (a file name) prefixes every error."""
    rows: list[list[str]] = []
    comments: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            if rows:
                yield _sentence(rows, comments)
            rows, comments = [], {}
        elif line.startswith("#"):
            key, equals, value = line[1:].partition("=")
            if equals:
                comments[key.strip()] = value.strip()
        else:
            row = _word_row(line, f"{source}, line {number}", expected_id=len(rows) + 1)
            if row is not None:
                rows.append(row)
    if rows:
        yield _sentence(rows, comments)


def _word_row(line: str, where: str, expected_id: int) -> list[str] | None:
    """The fields of a word line; None for a multi-word token or an empty node."""
    fields = line.split("\t")
    if len(fields) != 10:
        raise DataFormatError(
            f"{where}: expected 10 tab-separated fields ({COLUMNS}), got {len(fields)}"
        )
    word_id, form, _, upos = fields[:4]
    if SKIPPED_ID.fullmatch(word_id):
        return None
    if not WORD_ID.fullmatch(word_id):
        raise DataFormatError(
            f"{where}: ID {word_id!r} is neither a word index (1, 2, ...), "
            "a multi-word token range (3-4) nor an empty node (8.1)"
        )
    if int(word_id) != expected_id:
        raise DataFormatError(f"{where}: word ID {word_id} out of order, expected {expected_id}")
    if not form:
        raise DataFormatError(f"{where}: the FORM field is empty")
    if upos not in UPOS:
        raise DataFormatError(f"{where}: UPOS {upos!r} is not one of the 17 universal tags")
    return fields


def _sentence(rows: list[list[str]], comments: dict[str, str]) -> Sentence:
    forms, upos, xpos = zip(*((row[1], row[3], row[4]) for row in rows), strict=True)
    return Sentence(forms, upos, xpos, comments.get("sent_id", ""), comments.get("text", ""))


def read_conllu(path: str | os.PathLike) -> list[Sentence]:
    """All sentences of one CoNLL-U file; `DataFormatError` names file and line."""
    path = Path(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataFormatError(f"{path}, line {line}: not UTF-8 ({error.reason})") from None
    sentences = list(parse_conllu(text.splitlines(), str(path)))
    if not sentences:
        raise DataFormatError(f"{path}: no sentences (expected CoNLL-U word lines)")
    return sentences


def as_examples(sentences: list[Sentence], tagset: str) -> Examples:
    """Token tuples as inputs, tag tuples of `tagset` ("upos" or "xpos") as targets."""
    if tagset not in TAGSETS:
        raise ValueError(f"tagset must be one of {TAGSETS}, got {tagset!r}")
    inputs, targets = np.empty(len(sentences), object), np.empty(len(sentences), object)
    inputs[:] = [sentence.tokens for sentence in sentences]
    targets[:] = [getattr(sentence, tagset) for sentence in sentences]
    return Examples(inputs, targets)


def treebank_files(folder: Path) -> dict[str, Path]:
    """A UD treebank folder's `*-ud-{train,dev,test}.conllu` files; dev is
    optional, and a test file alone is a test set to score a trained run on."""
    files = {}
    for split, part in SPLIT_FILES.items():
        found = sorted(folder.glob(f"*-ud-{part}.conllu"))
        if len(found) > 1:
            raise DataFormatError(f"{folder}: several *-ud-{part}.conllu files: {found}")
        if found:
            files[split] = found[0]
    missing = [SPLIT_FILES[split] for split in ("train", "test") if split not in files]
    if missing and set(files) != {"test"}:
        raise DataFormatError(
            f"{folder}: expected a UD treebank folder with *-ud-train.conllu and "
            f"*-ud-test.conllu (and optionally *-ud-dev.conllu); no *-ud-{missing[0]}.conllu"
        )
    return files


def read_treebank(path: str | os.PathLike, tagset: str = "upos") -> dict[str, Examples]:
    """Your own treebank: a UD folder (train, test, optional dev) or one CoNLL-U
    file, whose validation and test splits the caller carves (returned as `all`)."""
    path = Path(path)
    if path.is_file():
        return {"all": as_examples(read_conllu(path), tagset)}
    if not path.is_dir():
        raise DataFormatError(f"{path}: no such CoNLL-U file or treebank folder")
    return {
        split: as_examples(read_conllu(file), tagset)
        for split, file in treebank_files(path).items()
    }
