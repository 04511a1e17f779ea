"""Many-to-many, aligned: a sentence's words -> their part-of-speech tags."""

from core.config import NoOptions as PredictOptions
from tasks.pos.config import PosConfig as Config
from tasks.pos.config import PosTraining as Training

__all__ = ["Config", "PredictOptions", "Training", "task_class"]


def task_class():
    """The task; its module loads TensorFlow, so only a command that runs imports it."""
    from tasks.pos.task import PosTagging

    return PosTagging
