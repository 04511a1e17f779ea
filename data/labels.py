"""Class names from the labels of the training examples, and labels -> class ids.

Labels may be numbers or strings. The classes are sorted so that their ids
are predictable: numbers in numeric order (1, 2, ..., 10), other strings
alphabetically. Labels that are all spellings of a negative and a positive
class (0/1, neg/pos, negative/positive, in any case) name those two, so
IMDB's 0/1 and a table's neg/pos train the same binary classifier.
"""

import difflib
import math
import sys
from collections import Counter

import numpy as np

from data.errors import DataFormatError

BINARY = ("negative", "positive")
BINARY_ALIASES = {
    alias: name
    for name, aliases in zip(BINARY, (("0", "neg"), ("1", "pos")), strict=True)
    for alias in (*aliases, name)
}


def class_names(labels: np.ndarray, where: str) -> tuple[str, ...]:
    """The classes the training labels name, in id order; fewer than two
    classes is an error naming `where` (the training file)."""
    names = [str(label) for label in labels]
    if {name.lower() for name in set(names)} <= set(BINARY_ALIASES):
        names = [BINARY_ALIASES[name.lower()] for name in names]
    counts = Counter(names)
    distinct = set(counts)
    if len(distinct) < 2:
        raise DataFormatError(
            f"{where}: the training examples hold one class only ({', '.join(distinct)}); "
            "a classifier needs two or more"
        )
    _warn_of_rare_classes(counts, where)
    numbers = {label: _number(label) for label in distinct}
    if None not in numbers.values():
        return tuple(sorted(distinct, key=lambda label: (numbers[label], label)))
    return tuple(sorted(distinct, key=lambda label: (label.casefold(), label)))


def _warn_of_rare_classes(counts: Counter, where: str) -> None:
    """Says so when a class has under 1 % of the largest class's examples,
    which is how a misspelled label ('postive') looks; it still trains."""
    largest = max(counts.values())
    for label, count in sorted(counts.items()):
        if count * 100 < largest:
            others = [other for other in counts if other != label]
            close = difflib.get_close_matches(label, others, n=1)
            guess = f"; a misspelling of {close[0]!r}?" if close else "."
            print(
                f"{where}: class {label!r} has only {count:,} training example"
                f"{'' if count == 1 else 's'} (the largest has {largest:,}){guess} "
                "It trains as a class of its own.",
                file=sys.stderr,
            )


def class_ids(labels: np.ndarray, classes: tuple[str, ...], where: str) -> np.ndarray:
    """Each label's class id (int64); labels of no class are an error naming
    them and `where` (their file and split)."""
    ids = {name: index for index, name in enumerate(classes)}
    if tuple(classes) == BINARY:
        ids |= {alias: ids[name] for alias, name in BINARY_ALIASES.items()}
    text = [str(label) for label in labels]
    keys = [label.lower() if tuple(classes) == BINARY else label for label in text]
    unknown = sorted({label for label, key in zip(text, keys, strict=True) if key not in ids})
    if unknown:
        raise DataFormatError(
            f"{where}: label{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(repr, unknown))} never seen in training "
            f"(the classes are {', '.join(classes)})"
        )
    return np.array([ids[key] for key in keys], dtype="int64")


def _number(label: str) -> float | None:
    """The label as a finite number, or None if it is not one."""
    try:
        value = float(label)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
