"""Time-series forecasting, window -> horizon, under the long-horizon protocol.

Benchmark: ETTh1 / ETTm1 (Zhou et al. 2021) as Informer, Autoformer,
PatchTST and SegRNN use them: chronological 12/4/4-month splits, a scaler
fit on the training rows only, all seven channels in and out, MSE and MAE on
scaled values over every test window. Metrics are named
`<dataset>_<mse|mae>_<horizon>`, so runs of several horizons and datasets
combine into one benchmark.
"""

from dataclasses import dataclass, replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import ops
from sklearn.linear_model import LinearRegression
from tqdm import tqdm

from data.errors import DataFormatError
from data.ett import CONFIGS, FILES, load_ett
from data.series import (
    DAY_SECONDS,
    Series,
    Windows,
    fit_scaler,
    mean_day,
    ratio_ends,
    read_series,
    rows_per_day,
    slots_of_day,
    split_windows,
    window_batches,
)
from models.forecasters import (
    INITIALIZATIONS,
    NORMALIZATIONS,
    recurrent_forecaster,
    require_whole_segments,
    segment_recurrent_forecaster,
)
from models.recurrent import CELLS
from tasks import forecast_plots
from tasks.base import Splits, Task
from tasks.config import TrainConfig, option, require_positive
from tasks.export import Endpoint, Serving

MODELS = ("segment", "plain")


@dataclass
class ForecastingConfig:
    """The series, the protocol and the model; defaults reproduce the ETTh1
    horizon-96 benchmark run."""

    series: str = option("etth1", "benchmark series when no --dataset is given", tuple(FILES))
    target: str = option("", "forecast only this column (from all); empty = every column")
    date_column: str = option("date", "timestamp column of a --dataset CSV ('' = none)")
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
    cell: str = option("gru", "recurrent cell of the plain model", tuple(CELLS))
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
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 < self.decay <= 1.0:
            raise ValueError(f"decay must be in (0, 1], got {self.decay}")
        if self.model == "segment":
            require_whole_segments(self.lookback, self.horizon, self.segment_length)


@dataclass
class ForecastOptions:
    """Options of `evaluate.py forecasting --predict FILE.csv`."""

    plot: str = option("", "also draw history and forecast into this PNG", metavar="PATH")


@dataclass
class ForecastingTrain(TrainConfig):
    """How the forecasting benchmark trains on ETTh1: SegRNN's lookback-96 settings
    and an average of the weights (ETTm1 takes --learning-rate 2e-4,
    --segment-length 48 and --ema 0: there the average did not help)."""

    epochs: int = option(30, "upper bound; early stopping ends sooner")
    batch_size: int = option(256, "windows per batch")
    clipnorm: float = option(0.0, "no gradient clipping, as SegRNN")
    patience: int = option(3, "epochs without validation gain before stopping (SegRNN: 10)")
    ema: float = option(0.95, "momentum of the weight average validated and kept (0 = off)")


BLEND_WEIGHTS = tuple(round(tenth / 10, 1) for tenth in range(11))


def _samples(values: np.ndarray) -> np.ndarray:
    """`(windows, steps, channels)` -> `(windows * channels, steps)`: each channel a sample."""
    return values.swapaxes(1, 2).reshape(-1, values.shape[1])


def _apply(linear: LinearRegression, inputs: np.ndarray, relative: bool) -> np.ndarray:
    """`linear`'s forecast of each channel of `inputs`, measured from the last
    value if `relative`; `(windows, horizon, channels)`."""
    origin = inputs[:, -1:] if relative else 0.0
    predicted = linear.predict(_samples(inputs - origin)).astype(np.float32)
    return predicted.reshape(len(inputs), inputs.shape[2], -1).swapaxes(1, 2) + origin


class Forecasting(Task):
    """Window -> horizon: multivariate forecasting (ETTh1, ETTm1, your CSV)."""

    name = "forecasting"
    Config = ForecastingConfig
    Train = ForecastingTrain
    PredictOptions = ForecastOptions
    headline_metric = "etth1_mse_96"
    higher_is_better = False
    endpoint = "forecast"

    @property
    def dataset_name(self) -> str:
        key = self.config.series
        return f"{FILES[key].info.filename[:-4]} (tfds ett/{CONFIGS[key]} 1.0.0)"

    # Raw data: the protocol's chronological parts, never a random carve.
    def load(self) -> dict[str, Windows]:
        config = self.config
        if self.data.dataset:
            series = read_series(self.data.dataset, config.date_column)
            ends = ratio_ends(len(series.values))
        else:
            data = self.data
            series = load_ett(config.series, data.data_mirror or None, data.data_dir or None)
            ends = FILES[config.series].ends
        if config.daily_cycle and rows_per_day(series.dates) is None:
            raise DataFormatError(
                f"{series.name}: --daily-cycle needs each row's time of day, from dates "
                "several rows a day apart at a regular step; this series has "
                f"{'none' if series.dates is None else 'other dates'}: give --date-column "
                "or train with --no-daily-cycle"
            )
        if config.target and config.target not in series.columns:
            raise DataFormatError(
                f"{series.name}: no column {config.target!r} to forecast among {series.columns}"
            )
        return split_windows(series, ends, config.lookback, config.horizon)

    def splits(self) -> Splits:
        return Splits(**self.load())

    # Preprocessing: the scaler sees the training rows only.
    def adapt(self, train: Windows) -> None:
        scaler = fit_scaler(train)
        series, per_day = train.series, rows_per_day(train.series.dates)
        state = {
            "name": series.name,
            "columns": list(series.columns),
            "mean": scaler.mean_.tolist(),
            "scale": scaler.scale_.tolist(),
            "season": self.config.season or per_day,
        }
        if self.config.daily_cycle:
            rows = slice(train.start, train.stop)
            scaled = scaler.transform(series.values[rows])
            slots = slots_of_day(series.dates[rows], per_day)
            state["mean_day"] = mean_day(scaled, slots, per_day).tolist()
        self.restore(state)

    def state(self) -> dict:
        return self.saved

    def restore(self, state: dict) -> None:
        self.saved = state
        self.columns = state["columns"]
        self.mean = np.array(state["mean"], dtype=np.float32)
        self.scale = np.array(state["scale"], dtype=np.float32)
        target = self.config.target
        self.targets = [self.columns.index(target)] if target else list(range(len(self.columns)))
        self.mean_day = np.array(state["mean_day"], np.float32) if "mean_day" in state else None
        self.blend = state.get("blend")

    def batches(self, windows: Windows, training: bool, epoch: int = 0) -> tf.data.Dataset:
        """Batches of scaled windows; `--limit` keeps the first windows (the
        scaler still saw every training row, so scores stay comparable)."""
        if self.train.limit:
            windows = windows.first(self.train.limit)
        scaled = (windows.series.values - self.mean) / self.scale
        return window_batches(
            scaled - self._cycle(windows.series),
            windows,
            self.train.batch_size,
            training=training,
            seed=self.shuffle_seed(epoch),
            targets=self.targets,
        )

    # Model.
    def build_model(self) -> keras.Model:
        config, channels = self.config, len(self.columns)
        shape = (config.lookback, channels, config.horizon)
        common = {"units": config.units, "dropout": config.dropout}
        if config.model == "segment":
            model = segment_recurrent_forecaster(
                *shape,
                segment_length=config.segment_length,
                normalization=config.normalization,
                channel_embedding=config.channel_embedding,
                initialization=config.initialization,
                **common,
            )
        else:
            model = recurrent_forecaster(
                *shape,
                cell=config.cell,
                depth=config.depth,
                normalization=config.normalization,
                **common,
            )
        if len(self.targets) == channels:
            return model
        forecast = ops.take(model.output, self.targets, axis=2)
        return keras.Model(model.input, forecast, name=model.name)

    def compile_arguments(self) -> dict:
        return {"loss": self.config.loss, "metrics": ["mse", "mae"]}

    def callbacks(self, model, splits) -> list:
        """SegRNN's schedule: the initial rate for `hold_epochs` epochs, then x `decay` each."""
        rate, decay, hold = self.train.learning_rate, self.config.decay, self.config.hold_epochs
        schedule = keras.callbacks.LearningRateScheduler(
            lambda epoch: rate * decay ** max(0, epoch + 1 - hold)
        )
        return [schedule]

    def tune(self, model: keras.Model, splits: Splits) -> None:
        """Fits least squares on the training windows as the model reads them
        and keeps the model's weight (0 to 1 by tenths) whose average with it
        has the lowest validation MSE: the two err differently, so the
        average tends to beat both."""
        if not self.config.linear_blend:
            return
        train, validation = splits.train, splits.validation
        if self.train.limit:
            train, validation = train.first(self.train.limit), validation.first(self.train.limit)
        linear = self._least_squares(train, residual=True)
        inputs, actual, _ = self._model_view(validation, residual=True)
        straight = _apply(linear, inputs, relative=True)
        forecast = model.predict(self.batches(validation, training=False), verbose=0)
        errors = {
            weight: float(np.mean(np.square(weight * forecast + (1 - weight) * straight - actual)))
            for weight in BLEND_WEIGHTS
        }
        weight = min(errors, key=errors.get)
        print(f"validation MSE by the model's weight in the blend: {errors}; chose {weight}")
        self.saved["blend"] = {
            "weight": weight,
            "kernel": linear.coef_.T.tolist(),
            "bias": linear.intercept_.tolist(),
        }
        self.restore(self.saved)

    @property
    def reference(self) -> str | None:
        """The plain model is the tutorial-level reference, reported among baselines."""
        return f"plain_{self.config.cell}" if self.config.model == "plain" else None

    # Serving: raw window in, raw forecast out; the scaler is in the graph.
    # With the daily cycle it also takes each window's `start`, the time of its
    # first row in seconds since 1970-01-01 (on the series' clock), to place the
    # mean day.
    def serving(self, model: keras.Model) -> Serving:
        mean, scale = tf.constant(self.mean), tf.constant(self.scale)
        target_mean, target_scale = tf.gather(mean, self.targets), tf.gather(scale, self.targets)
        lookback, channels = self.config.lookback, len(self.columns)
        window = tf.TensorSpec([None, lookback, channels], tf.float32, name="window")

        def unscale(predicted):
            return {"forecast": predicted * target_scale + target_mean}

        blended = self._blended(model)
        if self.mean_day is None:

            def forecast(window):
                return unscale(blended((window - mean) / scale))

            return Serving({"forecast": Endpoint(forecast, [window])}, [])

        day, per_day = tf.constant(self.mean_day), len(self.mean_day)
        rows = tf.range(lookback + self.config.horizon, dtype=tf.int64)

        def forecast_from(window, start):
            first_slot = tf.math.floormod(start, DAY_SECONDS) * per_day // DAY_SECONDS
            cycle = tf.gather(day, tf.math.floormod(first_slot[:, None] + rows, per_day))
            predicted = blended((window - mean) / scale - cycle[:, :lookback])
            return unscale(predicted + tf.gather(cycle[:, lookback:], self.targets, axis=2))

        start = tf.TensorSpec([None], tf.int64, name="start")
        return Serving({"forecast": Endpoint(forecast_from, [window, start])}, [])

    def _blended(self, model: keras.Model):
        """The model's forecast from what it reads, averaged with the least
        squares (both in the graph) when the run has a blend that gives them a share."""
        if self.blend is None or self.blend["weight"] == 1.0:
            return lambda inputs: model(inputs, training=False)
        kernel = tf.constant(self.blend["kernel"], tf.float32)
        bias = tf.constant(self.blend["bias"], tf.float32)[:, None]
        weight, targets = self.blend["weight"], self.targets

        def blended(inputs):
            seen = tf.gather(inputs, targets, axis=2)
            last = seen[:, -1:]
            straight = tf.einsum("blc,lh->bhc", seen - last, kernel) + bias + last
            return weight * model(inputs, training=False) + (1 - weight) * straight

        return blended

    def _cycle(self, series: Series) -> np.ndarray | float:
        """The mean day at each row of `series` (0 without the daily cycle)."""
        if self.mean_day is None:
            return 0.0
        return self.mean_day[slots_of_day(series.dates, len(self.mean_day))]

    def _served(self, export, windows: np.ndarray, starts: np.ndarray | None) -> np.ndarray:
        """The export's raw forecast of raw `windows` whose first rows are dated `starts`."""
        arguments = [tf.constant(windows)]
        if self.mean_day is not None:
            arguments.append(tf.constant(starts.astype(np.int64)))
        return export.forecast(*arguments)["forecast"].numpy()

    # Scores, on scaled values, over every test window.
    def test_outputs(self, export, windows: Windows) -> dict[str, np.ndarray]:
        size, dates, pieces = self.train.batch_size, windows.series.dates, []
        for first in tqdm(range(0, len(windows), size), desc="forecast", unit="batch"):
            chunk = slice(first, first + size)
            starts = None if dates is None else dates[windows.starts[chunk]]
            pieces.append(self._served(export, windows.inputs[chunk], starts))
        return {"forecast": np.concatenate(pieces)}

    def score(self, outputs: dict, windows: Windows) -> dict[str, float]:
        actual = windows.targets[..., self.targets]
        error = (outputs["forecast"] - actual) / self.scale[self.targets]
        prefix = f"{self.saved['name']}_{{}}_{self.config.horizon}"
        return {
            prefix.format("mse"): float(np.mean(np.square(error), dtype=np.float64)),
            prefix.format("mae"): float(np.mean(np.abs(error), dtype=np.float64)),
        }

    def baselines(self, splits: Splits) -> dict[str, dict[str, float]]:
        """Persistence, seasonal naive (one day back) and two linear models of
        the lookback window (scaled, and as the model reads it), each
        forecasting every test window."""
        test = splits.test
        inputs = test.inputs[..., self.targets]
        horizon, season = self.config.horizon, self.saved["season"]
        forecasts = {"persistence": np.repeat(inputs[:, -1:], horizon, axis=1)}
        if season and season <= self.config.lookback:
            steps = inputs.shape[1] - season + np.arange(horizon) % season
            forecasts["seasonal_naive"] = inputs[:, steps]
        forecasts["linear"] = self._linear_forecasts(splits.train, test, residual=False)
        forecasts["linear_residual"] = self._linear_forecasts(splits.train, test, residual=True)
        return {name: self.score({"forecast": values}, test) for name, values in forecasts.items()}

    def _linear_forecasts(self, train: Windows, test: Windows, residual: bool) -> np.ndarray:
        """Least squares from a channel's scaled lookback to its horizon, one
        model shared by all channels (each channel is a sample). `residual`
        gives it what the default segment model reads: the run's mean day taken
        out and each window measured from its last value, so the two differ
        only in the map from lookback to horizon."""
        inputs, _, cycle = self._model_view(test, residual)
        predicted = _apply(self._least_squares(train, residual), inputs, relative=residual)
        targets = self.targets
        return (predicted + cycle) * self.scale[targets] + self.mean[targets]

    def _least_squares(self, train: Windows, residual: bool) -> LinearRegression:
        inputs, outputs, _ = self._model_view(train, residual)
        origin = inputs[:, -1:] if residual else 0.0
        return LinearRegression().fit(_samples(inputs - origin), _samples(outputs - origin))

    def _model_view(self, windows: Windows, residual: bool) -> tuple[np.ndarray, ...]:
        """Scaled inputs and targets of the forecast channels, less the mean
        day if `residual` (and the run has one), and that mean day at the targets."""
        series = windows.series
        scaled = (series.values - self.mean) / self.scale
        cycle = np.broadcast_to(self._cycle(series) if residual else 0.0, scaled.shape)
        cut = [windows.start, windows.stop, windows.lookback, windows.horizon]
        seen = Windows(replace(series, values=scaled - cycle), *cut)
        taken = Windows(replace(series, values=cycle), *cut).targets
        targets = self.targets
        return seen.inputs[..., targets], seen.targets[..., targets], taken[..., targets]

    def figures(self, outputs: dict, windows: Windows, folder: Path) -> list[Path]:
        """Forecast against actual for four test windows spread over the test part."""
        chosen = np.linspace(0, len(windows) - 1, 4).astype(int)
        column = self.targets[-1]
        path = folder / "forecast_vs_actual.png"
        forecast_plots.windows_figure(
            windows, outputs["forecast"][..., -1], chosen, column, self.columns[column], path
        )
        return [path]

    def count_tokens(self, batches: tf.data.Dataset) -> tuple[int, int]:
        """Input timesteps per pass (windows x lookback); nothing is padded."""
        steps = sum(int(np.prod(inputs.shape[:2])) for inputs, _ in batches)
        return steps, steps

    # A forecast for the latest window of a CSV.
    def predict(self, export, raw: list[str], options: ForecastOptions) -> list[dict]:
        rows = []
        for path in raw:
            series = read_series(path, self.config.date_column)
            window = self._latest_window(series, path)
            start = None if series.dates is None else series.dates[[-len(window)]]
            forecast = self._served(export, window[None], start)[0]
            dates = forecast_plots.future_dates(series.dates, len(forecast))
            names = [self.columns[index] for index in self.targets]
            for step, values in enumerate(forecast):
                row = {"input": str(path), "step": step + 1}
                if dates is not None:
                    row[self.config.date_column] = str(dates[step]).replace("T", " ")
                row |= {name: float(value) for name, value in zip(names, values, strict=True)}
                rows.append(row)
            if options.plot:
                forecast_plots.latest_figure(
                    series, window, forecast, self.columns, self.targets, options.plot
                )
        return rows

    def _latest_window(self, series: Series, path: str) -> np.ndarray:
        """The last `lookback` rows, columns in the order the model was trained on."""
        missing = [name for name in self.columns if name not in series.columns]
        if missing:
            raise DataFormatError(f"{path}: no columns {missing}, which the model reads")
        lookback = self.config.lookback
        if len(series.values) < lookback:
            raise DataFormatError(
                f"{path}: {len(series.values)} rows, fewer than the {lookback} the model reads"
            )
        order = [series.columns.index(name) for name in self.columns]
        return series.values[-lookback:, order]
