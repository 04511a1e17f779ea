"""The registry of tasks: `train.py TASK` and `evaluate.py TASK` look here."""

from tasks.forecasting import Forecasting
from tasks.music import Music
from tasks.pos_tagging import PosTagging
from tasks.sentiment import Sentiment
from tasks.translation import Translation

TASKS = {task.name: task for task in (Sentiment, PosTagging, Translation, Music, Forecasting)}
