"""The tagging task's settings: the defaults are the benchmark's."""

from dataclasses import dataclass

from core.config import TrainingConfig, option, require_positive, require_within
from data.options import TAGSETS
from models.options import CELLS, CHARACTER_ENCODERS


@dataclass
class PosConfig:
    """The tagger and its preprocessing; defaults reproduce the benchmark."""

    tagset: str = option(
        "upos", "tags to learn: UPOS (17 universal) or the treebank's XPOS", TAGSETS
    )
    min_word_count: int = option(1, "training words seen this often get their own vector")
    word_embedding_dim: int = option(100, "width of the learned word vectors (no pretraining)")
    word_dropout: float = option(
        0.25, "share of training words hidden as unknown, so unseen words are learned"
    )
    character_encoder: str = option("lstm", "how a word's characters are read", CHARACTER_ENCODERS)
    character_embedding_dim: int = option(50, "width of the character vectors")
    character_units: int = option(100, "character encoder units (per direction if recurrent)")
    max_word_characters: int = option(
        20, "characters read per word; longer words keep their first and last halves"
    )
    cell: str = option("lstm", "recurrent cell of the tagger", CELLS)
    units: int = option(192, "tagger units per direction and layer")
    depth: int = option(2, "stacked bidirectional layers")
    dropout: float = option(0.33, "dropout on each recurrent layer's input")
    residual: bool = option(False, "residual connections between stacked layers")
    output_dropout: float = option(0.33, "dropout before the per-word classifier")
    learning_rate_decay: float = option(
        0.5, "multiply the step size by this after an epoch without validation gain (1 = never)"
    )

    def __post_init__(self):
        require_positive(
            self, "min_word_count", "word_embedding_dim", "character_embedding_dim", "units"
        )
        require_positive(self, "character_units", "max_word_characters", "depth")
        require_within(self, "[0, 1)", "word_dropout", "dropout", "output_dropout")
        require_within(self, "(0, 1]", "learning_rate_decay")


@dataclass
class PosTraining(TrainingConfig):
    """How the POS benchmark trains: long enough for the halved step sizes to pay off."""

    epochs: int = option(30, "upper bound; the step size halves on a plateau, patience stops")
    patience: int = option(4, "epochs without validation improvement before stopping")
