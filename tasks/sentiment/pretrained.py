"""The sentiment model started from a language-model run (`--pretrained`):
its vocabulary, word embedding, and forward and backward recurrent layers,
which become the bidirectional encoder's two directions."""

import dataclasses
import json
from pathlib import Path

from data.errors import RunMismatchError

# The sentiment settings a language model decides: the encoder's shape is
# its own, one bidirectional layer of words alone.
SHARED = ("vocabulary_size", "embedding_dim", "cell", "units")
IMPLIED = {"depth": 1, "bidirectional": True, "bigram_vocabulary_size": 0}


def language_model_settings(run_dir: Path) -> dict:
    """The model settings of a finished language_model run."""
    config = run_dir / "config.json"
    if not config.exists() or not (run_dir / "best.weights.h5").exists():
        raise FileNotFoundError(
            f"--pretrained {run_dir}: no trained run there (config.json and best.weights.h5); "
            "train one with: python train.py language_model --run-dir DIR"
        )
    saved = json.loads(config.read_text())
    if saved["task"] != "language_model":
        raise RunMismatchError(
            f"--pretrained {run_dir} holds a {saved['task']} run, not a language_model run"
        )
    if saved["config"].get("depth", 1) != 1:
        # A bidirectional stack feeds both directions to each layer above;
        # the language model's stacks never mix them: no weights would fit.
        raise RunMismatchError(
            f"--pretrained {run_dir} has --depth {saved['config']['depth']}; "
            "sentiment starts from a language model of --depth 1"
        )
    return saved["config"]


def settled(config):
    """`config` with the language model's encoder settings where it has the
    defaults; a setting given otherwise is an error naming both values."""
    run_dir = Path(config.pretrained)
    language_model = language_model_settings(run_dir)
    wanted = {name: language_model[name] for name in SHARED} | IMPLIED
    defaults = type(config)()
    conflicts = [
        f"--{name.replace('_', '-')} {getattr(config, name)} (it needs {value})"
        for name, value in wanted.items()
        if getattr(config, name) not in (value, getattr(defaults, name))
    ]
    if conflicts:
        raise RunMismatchError(
            f"--pretrained {run_dir} does not fit "
            + ", ".join(conflicts)
            + ": leave these options out and they follow the language model"
        )
    return dataclasses.replace(config, **wanted)


def pretrained_vocabulary(run_dir: Path) -> list[str]:
    """The language model's words, in its id order (padding and [UNK] first)."""
    return json.loads((run_dir / "state.json").read_text())["words"]


def copy_encoder(model, run_dir: Path) -> None:
    """The language model's embedding and recurrent layers' weights into
    the sentiment model of the same shape (`settled`)."""
    from tasks import restore_model

    _, language_model = restore_model(run_dir)
    model.get_layer("words_embedding").set_weights(
        language_model.get_layer("words_embedding").get_weights()
    )
    encoder = model.get_layer("encoder_bidirectional_0")
    for direction, layer in (
        ("forward", encoder.forward_layer),
        ("backward", encoder.backward_layer),
    ):
        layer.set_weights(language_model.get_layer(f"encoder_{direction}_0").get_weights())
