"""The translation task's settings: the defaults are the benchmark's."""

from dataclasses import dataclass

from core.config import TrainingConfig, option, require_positive, require_within
from models.options import ATTENTIONS, DECODER_CELLS


@dataclass
class TranslationConfig:
    """The model, its vocabularies and decoding; defaults reproduce the benchmark."""

    source_language: str = option("en", "Multi30k language read (or file suffix of your data)")
    target_language: str = option("de", "Multi30k language written (or file suffix)")
    vocabulary_size: int = option(6000, "SentencePiece pieces per language, learned on train")
    embedding_dim: int = option(256, "width of source and target piece vectors")
    cell: str = option("gru", "recurrent cell of encoder and decoder", DECODER_CELLS)
    encoder_units: int = option(256, "units per direction of the bidirectional encoder")
    encoder_depth: int = option(1, "stacked bidirectional encoder layers")
    decoder_units: int = option(256, "decoder state and attentional vector width")
    attention: str = option("bahdanau", "attention scoring: additive or multiplicative", ATTENTIONS)
    dropout: float = option(0.3, "dropout on embeddings, encoder inputs and attentional vectors")
    label_smoothing: float = option(0.1, "share of each target's probability spread uniformly")
    learning_rate_decay: float = option(0.5, "learning rate factor when validation BLEU stalls")
    beam_width: int = option(5, "beam width the test score and --predict use by default")
    length_penalty: float = option(
        -1.0, "GNMT length penalty alpha; -1 = choose it on validation after training"
    )
    max_output_length: int = option(200, "upper bound on output pieces (also 2 x source + 10)")

    def __post_init__(self):
        require_positive(self, "vocabulary_size", "embedding_dim", "encoder_units")
        require_positive(self, "encoder_depth", "decoder_units", "beam_width", "max_output_length")
        require_within(self, "[0, 1)", "dropout", "label_smoothing")
        require_within(self, "(0, 1]", "learning_rate_decay")
        if self.source_language == self.target_language:
            raise ValueError(f"source and target language are both {self.source_language!r}")
        if self.length_penalty < 0 and self.length_penalty != -1.0:
            raise ValueError(f"length_penalty must be >= 0 or -1, got {self.length_penalty}")


@dataclass
class TranslateOptions:
    """Options of `evaluate.py translation --predict`."""

    beam_width: int = option(5, "1 = greedy")
    attention_map: str = option(
        "", "write an attention heat-map PNG per input here", metavar="PATH"
    )

    def __post_init__(self):
        require_positive(self, "beam_width")


@dataclass
class TranslationTraining(TrainingConfig):
    """How the translation benchmark trains."""

    epochs: int = option(30, "upper bound; validation BLEU stops training sooner")
    batch_size: int = option(128, "sentence pairs per batch, of similar length")
    learning_rate: float = option(2e-3, "Adam's step size, halved when validation BLEU stalls")
    patience: int = option(3, "epochs without a validation BLEU gain before stopping")
