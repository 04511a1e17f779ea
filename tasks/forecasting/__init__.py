"""Window -> horizon: multivariate forecasting (ETTh1, ETTm1, your CSV)."""

from tasks.forecasting.config import ForecastingConfig as Config
from tasks.forecasting.config import ForecastingTraining as Training
from tasks.forecasting.config import ForecastOptions as PredictOptions

__all__ = ["Config", "PredictOptions", "Training", "task_class"]


def task_class():
    """The task; its module loads TensorFlow, so only a command that runs imports it."""
    from tasks.forecasting.task import Forecasting

    return Forecasting
