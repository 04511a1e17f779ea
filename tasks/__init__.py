"""The registry of tasks: `train.py TASK` and `evaluate.py TASK` look here."""

from tasks.sentiment import Sentiment
from tasks.translation import Translation

TASKS = {task.name: task for task in (Sentiment, Translation)}
