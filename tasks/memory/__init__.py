"""Long-range memory: the adding and copy problems, for vanishing and exploding gradients."""

from core.config import NoOptions as PredictOptions
from tasks.memory.config import MemoryConfig as Config
from tasks.memory.config import MemoryTraining as Training

__all__ = ["Config", "PredictOptions", "Training", "task_class"]


def task_class():
    """The task; its module loads TensorFlow, so only a command that runs imports it."""
    from tasks.memory.task import Memory

    return Memory
