"""Configuration as plain dataclasses, turned into command-line options.

Each field is declared with `option(default, help)`; the help text is the
one-line reason for the default and is what `--help` prints.
"""

import argparse
import dataclasses
import typing
from dataclasses import dataclass, field

from data.mirror import MIRROR_ENV

# `train.py --distribute`: where training runs (core.distribution).
STRATEGIES = ("none", "mirrored", "multi-worker")


def option(
    default,
    help: str,
    choices: tuple | None = None,
    metavar: str | None = None,
    needs: str | None = None,
    excludes: str | None = None,
):
    """A dataclass field whose default comes with its reason. `needs` names
    another option without which this one would be ignored, `excludes` one
    beside which it would be: either way, given on the command line, it is
    an error rather than silently dropped."""
    metadata = {
        "help": help, "choices": choices, "metavar": metavar, "needs": needs, "excludes": excludes
    }  # fmt: skip
    return field(default=default, metadata=metadata)


@dataclass
class TrainingConfig:
    """How any task is fitted. The defaults are the benchmark settings."""

    epochs: int = option(10, "upper bound; early stopping usually ends sooner")
    batch_size: int = option(32, "examples per batch, padded to the batch's longest")
    learning_rate: float = option(1e-3, "Adam's step size")
    clipnorm: float = option(
        1.0, "clip each weight's gradient to this norm (0 disables); RNNs need it"
    )
    patience: int = option(2, "epochs without validation improvement before stopping")
    ema: float = option(
        0.0, "validate and keep a moving average of the weights, this momentum per step (0 = off)"
    )
    validation_fraction: float = option(0.1, "share of train held out, with --seed, to validate")
    seed: int = option(0, "seeds weights, dropout, shuffling and the validation split")
    limit: int = option(0, "use this many train and validation examples (0 = all); smoke runs")
    steps_per_epoch: int = option(0, "batches per epoch (0 = one full pass)")
    diagnose_gradients: int = option(
        0,
        "every N epochs and at initialisation measure how far gradients flow back in "
        "time; log gradient norms and clipping per epoch (0 = off)",
        metavar="N",
    )
    mixed_precision: bool = option(
        False, "compute in float16 on a GPU, bfloat16 on a CPU; weights, losses and outputs float32"
    )

    def __post_init__(self):
        require_positive(self, "epochs", "batch_size", "learning_rate", "patience")
        require_positive(
            self, "clipnorm", "limit", "steps_per_epoch", "diagnose_gradients", or_zero=True
        )
        require_within(self, "[0, 1)", "ema")
        require_within(self, "(0, 1)", "validation_fraction")


@dataclass
class NoOptions:
    """A task whose `evaluate.py --predict` takes no options of its own."""


@dataclass
class DataConfig:
    """Where the data comes from; not part of the model's settings."""

    dataset: str = option(
        "", "your own data (file or folder) instead of the benchmark set", metavar="PATH"
    )
    data_mirror: str = option(
        "", f"local mirror of the upstream files (or env {MIRROR_ENV})", metavar="DIR"
    )
    data_dir: str = option(
        "", "tensorflow-datasets data dir (default: TFDS_DATA_DIR or ~)", metavar="DIR"
    )


def require_positive(config, *names: str, or_zero: bool = False) -> None:
    """Raises `ValueError` naming the first field that is not > 0 (or >= 0)."""
    for name in names:
        value = getattr(config, name)
        if value < 0 or (value == 0 and not or_zero):
            bound = ">= 0" if or_zero else "> 0"
            raise ValueError(f"{name} must be {bound}, got {value}")


def require_within(config, interval: str, *names: str) -> None:
    """Raises `ValueError` naming the first field outside `interval`, written
    as in mathematics: "[0, 1)" holds 0 and not 1."""
    low, high = (float(bound) for bound in interval[1:-1].split(","))
    for name in names:
        value = getattr(config, name)
        above = value >= low if interval[0] == "[" else value > low
        below = value <= high if interval[-1] == "]" else value < high
        if not (above and below):
            raise ValueError(f"{name} must be in {interval}, got {value}")


def add_options(parser: argparse.ArgumentParser, config_class: type, title: str) -> None:
    """Adds one `--field-name` option per dataclass field, grouped under `title`."""
    group = parser.add_argument_group(title)
    hints = typing.get_type_hints(config_class)
    for spec in dataclasses.fields(config_class):
        flag = _flag(spec.name)
        help_text = f"{spec.metadata.get('help', '')} (default: {spec.default!r})"
        kind = hints[spec.name]
        if kind is bool:
            group.add_argument(
                flag, dest=spec.name, action=argparse.BooleanOptionalAction, help=help_text
            )
        else:
            group.add_argument(
                flag,
                dest=spec.name,
                type=kind,
                choices=spec.metadata.get("choices"),
                metavar=spec.metadata.get("metavar")
                or (None if spec.metadata.get("choices") else kind.__name__.upper()),
                help=help_text,
            )
    # An option that needs or excludes another defaults to None, so that giving it shows.
    parser.set_defaults(
        **{
            spec.name: None if _depends(spec) else spec.default
            for spec in dataclasses.fields(config_class)
        }
    )


def _depends(spec) -> bool:
    return bool(spec.metadata.get("needs") or spec.metadata.get("excludes"))


def from_options(config_class: type, namespace: argparse.Namespace):
    """Builds `config_class` from the parsed options that belong to it;
    raises `ValueError` naming an option given without the one it needs, or
    beside the one it excludes."""
    values = {}
    for spec in dataclasses.fields(config_class):
        value = getattr(namespace, spec.name)
        needed, excluded = spec.metadata.get("needs"), spec.metadata.get("excludes")
        if needed and value is not None and not getattr(namespace, needed):
            raise ValueError(
                f"{_flag(spec.name)} applies only with {_flag(needed)}, which was not given"
            )
        if excluded and value is not None and getattr(namespace, excluded):
            raise ValueError(
                f"{_flag(spec.name)} has no effect with {_flag(excluded)}: give one of them"
            )
        values[spec.name] = spec.default if _depends(spec) and value is None else value
    return config_class(**values)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def from_dict(config_class: type, values: dict):
    """Rebuilds a saved config; unknown keys are an error, not silently dropped."""
    names = {spec.name for spec in dataclasses.fields(config_class)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"{config_class.__name__} has no fields {sorted(unknown)}")
    return config_class(**values)
