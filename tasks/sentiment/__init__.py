"""Many-to-one: a text -> its class; IMDB reviews -> their sentiment by default."""

from core.config import NoOptions as PredictOptions
from tasks.sentiment.config import SentimentConfig as Config
from tasks.sentiment.config import SentimentTraining as Training

__all__ = ["Config", "PredictOptions", "Training", "task_class"]


def task_class():
    """The task; its module loads TensorFlow, so only a command that runs imports it."""
    from tasks.sentiment.task import Sentiment

    return Sentiment
