"""The registry of tasks: `train.py TASK` and `evaluate.py TASK` look here.

Each task is a package of `tasks/` whose `__init__` names its settings'
dataclasses (`Config`, `Training`, `PredictOptions`, importable without
TensorFlow, so that `--help` answers at once) and whose `task_class()`
imports the task itself. Adding a task: a package like `tasks/sentiment/`
and one line here.
"""

import json
from pathlib import Path
from typing import TYPE_CHECKING

from core.config import DataConfig, from_dict
from tasks import forecasting, language_model, memory, music, pos, sentiment, translation

if TYPE_CHECKING:  # at run time the task modules load when a command needs them
    from core.task import Task

TASKS = {
    "sentiment": sentiment,
    "pos": pos,
    "translation": translation,
    "music": music,
    "forecasting": forecasting,
    "memory": memory,
    "language_model": language_model,
}


def load_task(run_dir: Path, data: DataConfig | None = None) -> "Task":
    """Re-creates the task a run was trained with, adapted state included."""
    path = run_dir / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.json)")
    saved = json.loads(path.read_text())
    registered = TASKS[saved["task"]]
    task = registered.task_class()(
        from_dict(registered.Config, saved["config"]),
        from_dict(registered.Training, saved["train"]),
        data or from_dict(DataConfig, saved["data"]),
    )
    task.load_state(run_dir / "state.json")
    return task


def restore_model(run_dir: Path):
    """The task and its best model, as training left them in `run_dir`."""
    task = load_task(run_dir)
    model = task.build_model()
    model.load_weights(run_dir / "best.weights.h5")
    return task, model
