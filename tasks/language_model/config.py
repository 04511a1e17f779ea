"""The language model's settings: the defaults are the benchmark's."""

from dataclasses import dataclass

from core.config import TrainingConfig, option, require_positive, require_within
from models.options import CELLS


@dataclass
class LanguageModelConfig:
    """Words, as the sentiment task reads them, and a forward and a backward
    model whose pair fits the sentiment model's bidirectional encoder."""

    vocabulary_size: int = option(30_000, "most frequent training words kept; others -> [UNK]")
    embedding_dim: int = option(128, "word vectors, shared by both directions")
    cell: str = option("gru", "recurrent cell of each direction", CELLS)
    units: int = option(256, "state width of each direction")
    depth: int = option(1, "stacked recurrent layers per direction (1 fits --pretrained)")
    dropout: float = option(0.1, "dropout on the embeddings, between layers and on the output")
    samples: int = option(1024, "words drawn per step for the training softmax (full to score)")
    tie_embeddings: bool = option(False, "the softmax's word vectors are the embedding's")

    def __post_init__(self):
        require_positive(self, "vocabulary_size", "embedding_dim", "units", "depth", "samples")
        require_within(self, "[0, 1)", "dropout")


@dataclass
class LanguageModelTraining(TrainingConfig):
    """One pass by default, a compute budget rather than a choice made on
    validation: a pass over IMDB's 16 million training words takes about
    25 minutes on a 2-core CPU, so three seeds of five passes would take
    most of a day (docs/experiments/language_model.md). Validation and test are
    5 % each: the full softmax scores them, and at 10 % that alone was a
    third of an epoch, for a perplexity already measured over about a million words."""

    epochs: int = option(1, "passes over the training documents (more, if time allows)")
    learning_rate: float = option(
        3e-3, "Adam's step size, chosen on validation among 1e-3, 3e-3 and 1e-2 for one pass"
    )
    patience: int = option(2, "epochs without validation gain before stopping")
    validation_fraction: float = option(
        0.05, "share of the documents held out for validation, and again for test"
    )


@dataclass
class GenerateOptions:
    """`evaluate.py language_model --predict PROMPT ...`: each prompt continued."""

    length: int = option(40, "words to generate after each prompt")
    temperature: float = option(1.0, "divides the logits: < 1 plays safer, 0 takes the likeliest")
    top_k: int = option(40, "draw among the k likeliest words (0: all)")
    sample_seed: int = option(0, "seed of the sampling: the same seed gives the same text")

    def __post_init__(self):
        require_positive(self, "length")
        require_positive(self, "temperature", "top_k", or_zero=True)
