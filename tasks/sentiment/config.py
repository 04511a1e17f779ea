"""The sentiment (text classification) task's settings: the defaults are the benchmark's."""

from dataclasses import dataclass

from core.config import TrainingConfig, option, require_positive, require_within
from models.options import CELLS, POOLINGS


@dataclass
class SentimentConfig:
    """The model and its preprocessing; defaults reproduce the benchmark."""

    vocabulary_size: int = option(30_000, "most frequent training words kept; others -> [UNK]")
    bigram_vocabulary_size: int = option(
        100_000, "most frequent training bigrams embedded beside the words (0 = words only)"
    )
    embedding_dim: int = option(128, "width of the learned word vectors (no pretraining)")
    cell: str = option("gru", "recurrent cell", CELLS)
    units: int = option(64, "units per direction and layer")
    depth: int = option(1, "stacked recurrent layers")
    bidirectional: bool = option(True, "read the review both ways")
    dropout: float = option(0.4, "dropout on each recurrent layer's input")
    residual: bool = option(False, "residual connections between stacked layers")
    pooling: str = option("max_mean", "how the sequence is reduced to one vector", POOLINGS)
    head_dropout: float = option(0.5, "dropout on the pooled vector before the classifier")
    pretrained: str = option(
        "",
        "a language_model run directory: start the vocabulary, embedding and encoder from it "
        "(its encoder's settings replace the ones above)",
        metavar="RUN_DIR",
    )
    text_column: str = option("text", "column of a --dataset CSV/TSV holding the texts")
    label_column: str = option(
        "label", "column of a --dataset CSV/TSV holding the labels (numbers or names, any count)"
    )

    def __post_init__(self):
        require_positive(self, "vocabulary_size", "embedding_dim", "units", "depth")
        require_positive(self, "bigram_vocabulary_size", or_zero=True)
        require_within(self, "[0, 1)", "dropout", "head_dropout")
        if self.text_column.strip().lower() == self.label_column.strip().lower():
            raise ValueError(f"text_column and label_column are both {self.text_column!r}")


@dataclass
class SentimentTraining(TrainingConfig):
    """How the sentiment benchmark trains: batches of 128 with twice the step size
    reach the batch-32 model's best validation accuracy 3.5x sooner and chose
    themselves on validation (docs/experiments/throughput.md)."""

    batch_size: int = option(128, "examples per batch, padded to the batch's longest")
    learning_rate: float = option(2e-3, "Adam's step size")
