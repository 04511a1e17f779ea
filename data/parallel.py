"""Bring-your-own parallel text: sentence pairs, any language pair.

Accepted layouts (`--dataset PATH`):
- one tab-separated file, `source<TAB>target` per line: all pairs, from
  which validation and test are carved;
- a folder with, per split, either `SPLIT.tsv` or two line-aligned files
  `SPLIT.SRC` and `SPLIT.TGT` named by language (`train.en`, `train.de`);
  `train` is required, `validation` (or `val`, `dev`) and `test` optional
  (carved from train when absent). Files may be gzip'd (`train.en.gz`).
Misaligned files and empty sentences are errors naming file and line: a
dropped line shifts every later pair, which would silently ruin training.
So are `.gz` files that are not gzip, or cut short, or damaged.
"""

import gzip
import io
import os
import zlib
from pathlib import Path

import numpy as np

from data.errors import DataFormatError
from data.pipeline import Examples

SPLIT_NAMES = {"train": ("train",), "validation": ("validation", "val", "dev"), "test": ("test",)}


def read_lines(path: Path) -> list[str]:
    """UTF-8 lines without their line ends (a final newline ends the last line)."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = _gunzip(path, data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataFormatError(f"{path}, line {line}: not UTF-8 ({error.reason})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _gunzip(path: Path, data: bytes) -> bytes:
    """The decompressed bytes; a file that is not gzip, or whose stream is cut
    short or damaged, is an error naming the file and the lines read before."""
    if data and not data.startswith(b"\x1f\x8b"):
        raise DataFormatError(f"{path}: not a gzip file (its first bytes are not gzip's)")
    chunks = []
    # Read a piece at a time, so that a broken stream can say how far it got.
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            while chunk := stream.read1(1 << 20):
                chunks.append(chunk)
    except EOFError:
        raise DataFormatError(
            f"{path}: the gzip stream ends early (truncated?) after line "
            f"{_lines_in(chunks):,}; download or compress the file again"
        ) from None
    except (OSError, zlib.error) as error:
        raise DataFormatError(
            f"{path}: damaged gzip data after line {_lines_in(chunks):,} ({error})"
        ) from None
    return b"".join(chunks)


def _lines_in(chunks: list[bytes]) -> int:
    return sum(chunk.count(b"\n") for chunk in chunks)


def _require_sentences(path: Path, lines: list[str]) -> None:
    if not lines:
        raise DataFormatError(f"{path}: no sentences")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise DataFormatError(
                f"{path}, line {number}: empty sentence; every line must hold one sentence "
                "(remove the pair from both files, so they stay aligned)"
            )


def read_aligned_files(source: Path, target: Path) -> Examples:
    """Two files of one split, line i of one translating line i of the other."""
    sources, targets = read_lines(source), read_lines(target)
    if len(sources) != len(targets):
        raise DataFormatError(
            f"{source} has {len(sources)} lines but {target} has {len(targets)}: the files of "
            "a split must be aligned line by line"
        )
    _require_sentences(source, sources)
    _require_sentences(target, targets)
    return Examples(np.array(sources, dtype=object), np.array(targets, dtype=object))


def read_tsv_pairs(path: Path) -> Examples:
    """`source<TAB>target` per line."""
    sources, targets = [], []
    for number, line in enumerate(read_lines(path), start=1):
        fields = line.split("\t")
        if len(fields) != 2:
            raise DataFormatError(
                f"{path}, line {number}: expected 2 tab-separated fields (source, target), "
                f"got {len(fields)}"
            )
        if not fields[0].strip() or not fields[1].strip():
            side = "source" if not fields[0].strip() else "target"
            raise DataFormatError(f"{path}, line {number}: empty {side} sentence")
        sources.append(fields[0])
        targets.append(fields[1])
    if not sources:
        raise DataFormatError(f"{path}: no sentence pairs")
    return Examples(np.array(sources, dtype=object), np.array(targets, dtype=object))


def _find(folder: Path, stems: tuple[str, ...], suffix: str) -> Path | None:
    for stem in stems:
        for name in (f"{stem}{suffix}", f"{stem}{suffix}.gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def read_parallel(path: str | os.PathLike, source: str, target: str) -> dict[str, Examples]:
    """Your own sentence pairs: `all` (to be carved) or `train` [+ validation, test]."""
    path = Path(path)
    if path.is_file():
        return {"all": read_tsv_pairs(path)}
    if not path.is_dir():
        raise DataFormatError(f"{path}: no such file or folder")
    splits = {}
    for split, stems in SPLIT_NAMES.items():
        table = _find(path, stems, ".tsv")
        source_file, target_file = (
            _find(path, stems, f".{source}"),
            _find(path, stems, f".{target}"),
        )
        if table is not None:
            splits[split] = read_tsv_pairs(table)
        elif source_file is not None and target_file is not None:
            splits[split] = read_aligned_files(source_file, target_file)
        elif source_file is not None or target_file is not None:
            present = source_file or target_file
            raise DataFormatError(
                f"{present} has no partner: expected {stems[0]}.{source} and {stems[0]}.{target}"
            )
    if "train" not in splits and "test" in splits:  # a test set to score a trained run on
        return {"test": splits["test"]}
    if "train" not in splits:
        raise DataFormatError(
            f"{path}: expected train.tsv, or train.{source} and train.{target} "
            "(line-aligned), in this folder"
        )
    if "test" not in splits and "validation" not in splits:
        return {"all": splits["train"]}
    return splits
