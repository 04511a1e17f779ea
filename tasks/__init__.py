"""The registry of tasks: `train.py TASK` and `evaluate.py TASK` look here."""

from tasks.forecasting import Forecasting
from tasks.sentiment import Sentiment

TASKS = {task.name: task for task in (Sentiment, Forecasting)}
