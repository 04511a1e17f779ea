"""Encoder-decoder: a sentence -> its translation (Multi30k)."""

from tasks.translation.config import TranslateOptions as PredictOptions
from tasks.translation.config import TranslationConfig as Config
from tasks.translation.config import TranslationTraining as Training

__all__ = ["Config", "PredictOptions", "Training", "task_class"]


def task_class():
    """The task; its module loads TensorFlow, so only a command that runs imports it."""
    from tasks.translation.task import Translation

    return Translation
