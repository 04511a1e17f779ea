"""The memory task's settings: the defaults are one rung of its benchmark's ladder."""

from dataclasses import dataclass

from core.config import TrainingConfig, option, require_positive
from data.options import MEMORY_PROBLEMS
from models.options import CELLS, RECURRENT_INITS


@dataclass
class MemoryConfig:
    """The problem, how long a memory it asks for, and the model."""

    problem: str = option(
        "adding", "adding: sum two marked numbers; copy: recall 10 symbols", MEMORY_PROBLEMS
    )
    length: int = option(100, "T: adding's sequence length, or copy's delay in blanks")
    cell: str = option("lstm", "recurrent cell", CELLS)
    units: int = option(128, "state width")
    init: str = option(
        "orthogonal",
        "orthogonal (Keras's defaults), glorot (not orthogonal), irnn (ReLU SimpleRNN, "
        "identity recurrent weights), chrono (LSTM/GRU gate biases for memories of 1..T steps)",
        RECURRENT_INITS,
    )

    def __post_init__(self):
        require_positive(self, "length", "units")
        if self.problem == "adding" and self.length < 2:
            raise ValueError(f"length must be 2 or more for the adding problem, got {self.length}")
        if self.init == "irnn" and self.cell != "simple":
            raise ValueError("init 'irnn' is for cell 'simple' (a ReLU SimpleRNN)")
        if self.init == "chrono" and self.cell == "simple":
            raise ValueError("init 'chrono' sets gate biases: cell 'lstm' or 'gru'")


@dataclass
class MemoryTraining(TrainingConfig):
    """A fixed budget of training steps on fresh examples; a run stops early
    once validation says the problem is solved (see `tasks.memory.task`)."""

    epochs: int = option(30, "x --steps-per-epoch = the budget of training steps")
    steps_per_epoch: int = option(100, "batches of fresh examples between validations")
    batch_size: int = option(32, "examples per batch")
    patience: int = option(30, "no early stopping on a plateau: these problems sit on one first")
    validation_examples: int = option(1000, "examples drawn (from --seed) to validate")

    def __post_init__(self):
        super().__post_init__()
        require_positive(self, "validation_examples", "steps_per_epoch")
