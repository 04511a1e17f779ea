"""The music task's settings: the defaults are the benchmark's."""

from dataclasses import dataclass

from core.config import TrainingConfig, option, require_positive, require_within
from data.options import BAD_MIDI_CHOICES, MIDI_SUFFIXES, MUSIC_CORPORA
from models.options import CELLS

HEADS = ("sigmoid", "nade")


@dataclass
class MusicConfig:
    """The model and the data's time grid; defaults reproduce the benchmark."""

    head: str = option("sigmoid", "next-frame distribution: sigmoid per key, or NADE", HEADS)
    cell: str = option("gru", "recurrent cell", CELLS)
    units: int = option(256, "recurrent units per layer")
    depth: int = option(1, "stacked recurrent layers")
    dropout: float = option(0.3, "dropout on each recurrent layer's input, the roll included")
    recurrent_dropout: float = option(0.3, "dropout on the recurrent state, inside the cells")
    output_dropout: float = option(0.3, "dropout on the recurrent output, before the head")
    input_skip: bool = option(True, "the head also sees the previous frame directly")
    nade_hidden: int = option(150, "hidden units of the NADE head (ignored by sigmoid)")
    keyboard_units: int = option(
        0, "units of a recurrent stack shared by every key, added to the head (0 = off)"
    )
    transpose: int = option(0, "train on copies shifted up to this many semitones (0 = off)")
    corpus: str = option(
        "jsb",
        "the corpus trained on without --dataset (JSB chorales: the benchmark)",
        MUSIC_CORPORA,
        excludes="dataset",
    )
    frames_per_beat: int = option(
        1,
        "time grid: 1 = quarter notes (JSB benchmark), 2, 4 = 16ths; .mat corpora and "
        "files keep their own grid, and this only times the MIDI written",
    )
    bad_midi: str = option(
        "skip", "--dataset folders: skip unreadable MIDI (named) or reject", BAD_MIDI_CHOICES
    )
    marginal_samples: int = option(100, "NADE samples per frame to estimate expected accuracy")
    lr_decay: float = option(0.3, "scale the learning rate by this when validation NLL stalls")
    lr_patience: int = option(4, "epochs without validation improvement before the decay")

    def __post_init__(self):
        require_positive(self, "units", "depth", "nade_hidden", "frames_per_beat")
        require_positive(self, "marginal_samples", "lr_patience")
        require_within(self, "(0, 1]", "lr_decay")
        require_positive(self, "transpose", "keyboard_units", or_zero=True)
        require_within(self, "[0, 1)", "dropout", "recurrent_dropout", "output_dropout")


@dataclass
class GenerateOptions:
    """`evaluate.py music --predict CHORD ...`: the primer's frames, then these."""

    steps: int = option(64, "frames to generate after the primer")
    temperature: float = option(1.0, "divides the logits: < 1 plays safer, > 1 wilder")
    sample_seed: int = option(0, "seed of the sampling: the same seed gives the same piece")
    out: str = option("", "write the piece as MIDI, a piano-roll PNG beside it", metavar="FILE.mid")
    wav: bool = option(False, "also render a WAV beside --out (pretty_midi's synthesiser)")
    tempo: float = option(80.0, "beats per minute of the written MIDI")

    def __post_init__(self):
        require_positive(self, "steps", "temperature", "tempo")
        if self.out and not self.out.lower().endswith(MIDI_SUFFIXES):
            raise ValueError(f"--out names a MIDI file (.mid), got {self.out!r}")
        if self.wav and not self.out:
            raise ValueError("--wav needs --out FILE.mid to name the files")


@dataclass
class MusicTraining(TrainingConfig):
    """How the music benchmark trains: 229 chorales make short epochs, so many of them."""

    epochs: int = option(300, "upper bound; early stopping ends sooner")
    batch_size: int = option(16, "chorales per batch")
    learning_rate: float = option(3e-3, "Adam's step size, multiplied by lr_decay on plateaus")
    patience: int = option(12, "epochs without validation improvement before stopping")
