"""One-to-many: piano rolls -> new music (JSB chorales, MIDI in and out)."""

from tasks.music.config import GenerateOptions as PredictOptions
from tasks.music.config import MusicConfig as Config
from tasks.music.config import MusicTraining as Training

__all__ = ["Config", "PredictOptions", "Training", "task_class"]


def task_class():
    """The task; its module loads TensorFlow, so only a command that runs imports it."""
    from tasks.music.task import Music

    return Music
