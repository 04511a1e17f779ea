"""The forecasting task's settings: the defaults are the ETTh1 horizon-96 benchmark's."""

from dataclasses import dataclass

from core.config import TrainingConfig, option, require_positive, require_within
from data.options import ETT_SERIES, REPEATED_TIMES, SERIES_SPLITS
from models.options import CELLS, INITIALIZATIONS, NORMALIZATIONS, require_whole_segments

MODELS = ("segment", "plain")


@dataclass
class ForecastingConfig:
    """The series, the protocol and the model; defaults reproduce the ETTh1
    horizon-96 benchmark run."""

    series: str = option("etth1", "benchmark series when no --dataset is given", ETT_SERIES)
    target: str = option("", "forecast only this column (from all); empty = every column")
    date_column: str = option("date", "timestamp column of a --dataset CSV ('' = none)")
    split: str = option(
        "ratio",
        "how a --dataset CSV is cut in time: 70/10/20%%, or as the ETT papers do, "
        "12/4/4 months of rows 1 hour (ett-hourly) or 15 minutes (ett-minute) apart",
        SERIES_SPLITS,
        needs="dataset",
    )
    repeated_times: str = option(
        "error",
        "a --dataset CSV row dated as the row above it: an error, or kept as a row "
        "of its own, in file order, as the published loaders do",
        REPEATED_TIMES,
        needs="dataset",
    )
    lookback: int = option(96, "input rows per window; 96 is the literature's short setting")
    horizon: int = option(96, "rows forecast at once; the protocol uses 96/192/336/720")
    model: str = option("segment", "segment: SegRNN-style; plain: point-wise reference", MODELS)
    segment_length: int = option(24, "rows per segment (segment model); one day of ETTh1")
    units: int = option(512, "recurrent state width; SegRNN's d_model")
    dropout: float = option(0.5, "dropout before the output projection; SegRNN's setting")
    normalization: str = option(
        "last", "per-window normalisation, undone on the output", NORMALIZATIONS
    )
    channel_embedding: bool = option(True, "decode with a channel embedding beside the position")
    initialization: str = option(
        "keras",
        "segment model's weights: Keras's defaults or PyTorch's (SegRNN's)",
        INITIALIZATIONS,
    )
    cell: str = option("gru", "recurrent cell of the plain model", CELLS)
    depth: int = option(1, "stacked recurrent layers of the plain model")
    loss: str = option("mse", "training loss on scaled values", ("mse", "mae"))
    hold_epochs: int = option(4, "epochs at the initial learning rate; SegRNN's code holds 4")
    decay: float = option(0.8, "learning rate x this per epoch after the held ones (1 = constant)")
    season: int = option(0, "seasonal-naive period in rows (0 = one day, from the dates)")
    daily_cycle: bool = option(
        True,
        "the model forecasts what differs from the training rows' mean day, "
        "added back by time of day (needs dated rows, several per day)",
    )
    linear_blend: bool = option(
        True,
        "average the forecast with least squares on what the model reads, "
        "the model's weight chosen on validation",
    )

    def __post_init__(self):
        require_positive(self, "lookback", "horizon", "segment_length", "units", "depth")
        require_positive(self, "season", "hold_epochs", or_zero=True)
        require_within(self, "[0, 1)", "dropout")
        require_within(self, "(0, 1]", "decay")
        if self.model == "segment":
            require_whole_segments(self.lookback, self.horizon, self.segment_length)


@dataclass
class ForecastOptions:
    """Options of `evaluate.py forecasting --predict FILE.csv`."""

    plot: str = option("", "also draw history and forecast into this PNG", metavar="PATH")


@dataclass
class ForecastingTraining(TrainingConfig):
    """How the forecasting benchmark trains on ETTh1: SegRNN's lookback-96 settings
    and an average of the weights (ETTm1 takes --learning-rate 2e-4,
    --segment-length 48 and --ema 0: there the average did not help)."""

    epochs: int = option(30, "upper bound; early stopping ends sooner")
    batch_size: int = option(256, "windows per batch")
    clipnorm: float = option(0.0, "no gradient clipping, as SegRNN")
    patience: int = option(3, "epochs without validation gain before stopping (SegRNN: 10)")
    ema: float = option(0.95, "momentum of the weight average validated and kept (0 = off)")
