"""Language model: the next word from the words before it (IMDB's reviews, your text)."""

from tasks.language_model.config import GenerateOptions as PredictOptions
from tasks.language_model.config import LanguageModelConfig as Config
from tasks.language_model.config import LanguageModelTraining as Training

__all__ = ["Config", "PredictOptions", "Training", "task_class"]


def task_class():
    """The task; its module loads TensorFlow, so only a command that runs imports it."""
    from tasks.language_model.task import LanguageModel

    return LanguageModel
