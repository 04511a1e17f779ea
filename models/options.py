"""What command lines need of the builders, importable without TensorFlow:
the names of their variants (offered as choices, so `--help` answers at
once; each builder maps the names to its layers) and checks of settings.
"""

CELLS = ("simple", "lstm", "gru")
DECODER_CELLS = ("gru", "lstm")
CHARACTER_ENCODERS = (*CELLS, "cnn")
POOLINGS = ("last", "max", "mean", "max_mean", "attention")
ATTENTIONS = ("bahdanau", "luong")
NORMALIZATIONS = ("none", "last", "revin")
INITIALIZATIONS = ("keras", "pytorch")
# A recurrent layer's own initialisation (models.recurrent.initialized).
RECURRENT_INITS = ("orthogonal", "glorot", "irnn", "chrono")


def require_whole_segments(lookback: int, horizon: int, segment_length: int) -> None:
    """Raises `ValueError` unless segments tile both the lookback and the horizon."""
    for what, length in (("lookback", lookback), ("horizon", horizon)):
        if length % segment_length:
            raise ValueError(
                f"{what} {length} is not a multiple of segment_length {segment_length}: "
                "the segment model cuts both into segments"
            )
