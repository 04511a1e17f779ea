"""Time-series forecasting, window -> horizon, under the long-horizon protocol.

Benchmark: ETTh1 / ETTm1 (Zhou et al. 2021) as Informer, Autoformer,
PatchTST and SegRNN use them: chronological 12/4/4-month splits, a scaler
fit on the training rows only, all seven channels in and out, MSE and MAE on
scaled values over every test window. Metrics are named
`<dataset>_<mse|mae>_<horizon>`, so runs of several horizons and datasets
combine into one benchmark.
"""

from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import ops
from sklearn.linear_model import LinearRegression

from core.export import Endpoint, Serving, predict
from core.task import Splits, Task
from data.errors import DataFormatError
from data.ett import CONFIGS, FILES, load_ett
from data.series import (
    Series,
    Windows,
    fit_scaler,
    mean_day,
    read_series,
    rows_per_day,
    slots_of_day,
    split_ends,
    split_windows,
    window_batches,
)
from models.forecasters import (
    recurrent_forecaster,
    segment_recurrent_forecaster,
)
from tasks.forecasting import plots
from tasks.forecasting.config import ForecastingConfig, ForecastingTraining, ForecastOptions
from tasks.forecasting.transforms import dated_seconds, mean_day_at, straight_line

BLEND_WEIGHTS = tuple(round(tenth / 10, 1) for tenth in range(11))


def _samples(values: np.ndarray) -> np.ndarray:
    """`(windows, steps, channels)` -> `(windows * channels, steps)`: each channel a sample."""
    return values.swapaxes(1, 2).reshape(-1, values.shape[1])


class Forecasting(Task):
    """Window -> horizon: multivariate forecasting (ETTh1, ETTm1, your CSV)."""

    name = "forecasting"
    Config = ForecastingConfig
    Training = ForecastingTraining
    PredictOptions = ForecastOptions
    headline_metric = "etth1_mse_96"
    higher_is_better = False

    @property
    def dataset_name(self) -> str:
        key = self.config.series
        return f"{FILES[key].info.filename[:-4]} (tfds ett/{CONFIGS[key]} 1.0.0)"

    # Raw data: the protocol's chronological parts, never a random carve.
    def load(self) -> dict[str, Windows]:
        config = self.config
        if self.data.dataset:
            series = read_series(self.data.dataset, config.date_column, config.repeated_times)
            ends = split_ends(series, config.split, self.data.dataset)
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

    def test_split_of(self, dataset: str) -> Windows:
        """A run trained on a builder's ETT file cuts another file as the
        papers cut files of that spacing; a run trained on a CSV, by its `--split`."""
        if not self.data.dataset:
            self.config = replace(self.config, split=FILES[self.config.series].split)
        return super().test_split_of(dataset)

    def in_run_terms(self, test: Windows) -> Windows:
        series, path = test.series, self.data.dataset
        unseen = [name for name in series.columns if name not in self.columns]
        if unseen:
            raise DataFormatError(
                f"{path}: columns this run never saw: {', '.join(unseen)} "
                f"(it reads {', '.join(self.columns)})"
            )
        return replace(test, series=self._in_run_order(series, path))

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
        if self.training.limit:
            windows = windows.first(self.training.limit)
        scaled = (windows.series.values - self.mean) / self.scale
        return window_batches(
            scaled - self._cycle(windows.series),
            windows,
            self.training.batch_size,
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
        rate, decay, hold = self.training.learning_rate, self.config.decay, self.config.hold_epochs
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
        if self.training.limit:
            train, validation = (
                train.first(self.training.limit),
                validation.first(self.training.limit),
            )
        line = self._least_squares(train, residual=True)
        inputs, actual, _ = self._model_view(validation, residual=True)
        straight = straight_line(inputs, *line, relative=True).numpy()
        forecast = model.predict(self.batches(validation, training=False), verbose=0)
        errors = {
            weight: float(np.mean(np.square(weight * forecast + (1 - weight) * straight - actual)))
            for weight in BLEND_WEIGHTS
        }
        weight = min(errors, key=errors.get)
        print(f"validation MSE by the model's weight in the blend: {errors}; chose {weight}")
        self.saved["blend"] = {
            "weight": weight,
            "kernel": line[0].tolist(),
            "bias": line[1].tolist(),
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

        rows = lookback + self.config.horizon

        def forecast_from(window, start):
            cycle = mean_day_at(self.mean_day, start, rows)
            predicted = blended((window - mean) / scale - cycle[:, :lookback])
            return unscale(predicted + tf.gather(cycle[:, lookback:], self.targets, axis=2))

        start = tf.TensorSpec([None], tf.int64, name="start")
        return Serving({"forecast": Endpoint(forecast_from, [window, start])}, [])

    def _blended(self, model: keras.Model):
        """The model's forecast from what it reads, averaged with the least
        squares (both in the graph) when the run has a blend that gives them a share."""
        if self.blend is None or self.blend["weight"] == 1.0:
            return lambda inputs: model(inputs, training=False)
        line = np.array(self.blend["kernel"]), np.array(self.blend["bias"])
        weight, targets = self.blend["weight"], self.targets

        def blended(inputs):
            straight = straight_line(tf.gather(inputs, targets, axis=2), *line, relative=True)
            return weight * model(inputs, training=False) + (1 - weight) * straight

        return blended

    def _cycle(self, series: Series) -> np.ndarray | float:
        """The mean day at each row of `series` (0 without the daily cycle)."""
        if self.mean_day is None:
            return 0.0
        first = dated_seconds(series.dates[:1])
        return mean_day_at(self.mean_day, first, len(series.values))[0].numpy()

    def _served(self, export, windows: np.ndarray, starts: np.ndarray | None) -> np.ndarray:
        """The export's raw forecast of raw `windows` whose first rows are dated `starts`."""
        arguments = [tf.constant(windows)]
        if self.mean_day is not None:
            arguments.append(tf.constant(dated_seconds(starts)))
        return export.forecast(*arguments)["forecast"].numpy()

    # Scores, on scaled values, over every test window.
    def test_outputs(self, export, windows: Windows) -> dict[str, np.ndarray]:
        dates = windows.series.dates

        def arguments(chosen):
            arguments = [tf.constant(windows.inputs[chosen])]
            if self.mean_day is not None:
                arguments.append(tf.constant(dated_seconds(dates[windows.starts[chosen]])))
            return arguments

        return predict(
            export.forecast,
            windows.inputs,
            arguments=arguments,
            batch_size=self.training.batch_size,
        )

    def score(self, outputs: dict, windows: Windows) -> dict[str, float]:
        actual = windows.targets[..., self.targets]
        error = (outputs["forecast"] - actual) / self.scale[self.targets]
        # Named after the series scored: the run's own, or another file's.
        prefix = f"{windows.series.name}_{{}}_{self.config.horizon}"
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
        line = self._least_squares(train, residual)
        predicted = straight_line(inputs, *line, relative=residual).numpy()
        targets = self.targets
        return (predicted + cycle) * self.scale[targets] + self.mean[targets]

    def _least_squares(self, train: Windows, residual: bool) -> tuple[np.ndarray, np.ndarray]:
        """The line's `(kernel, bias)`, fit on the training windows: `(lookback,
        horizon)` and `(horizon,)`, for `straight_line`."""
        inputs, outputs, _ = self._model_view(train, residual)
        origin = inputs[:, -1:] if residual else 0.0
        fit = LinearRegression().fit(_samples(inputs - origin), _samples(outputs - origin))
        return fit.coef_.T, fit.intercept_

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
        plots.windows_figure(
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
            series = read_series(path, self.config.date_column, self.config.repeated_times)
            window = self._latest_window(series, path)
            start = None if series.dates is None else series.dates[[-len(window)]]
            forecast = self._served(export, window[None], start)[0]
            dates = plots.future_dates(series.dates, len(forecast))
            names = [self.columns[index] for index in self.targets]
            for step, values in enumerate(forecast):
                row = {"input": str(path), "step": step + 1}
                if dates is not None:
                    row[self.config.date_column] = str(dates[step]).replace("T", " ")
                row |= {name: float(value) for name, value in zip(names, values, strict=True)}
                rows.append(row)
            if options.plot:
                plots.latest_figure(
                    series, window, forecast, self.columns, self.targets, options.plot
                )
        return rows

    def _latest_window(self, series: Series, path: str) -> np.ndarray:
        """The last `lookback` rows, columns in the order the model was trained on."""
        lookback = self.config.lookback
        if len(series.values) < lookback:
            raise DataFormatError(
                f"{path}: {len(series.values)} rows, fewer than the {lookback} the model reads"
            )
        return self._in_run_order(series, path).values[-lookback:]

    def _in_run_order(self, series: Series, where: str) -> Series:
        """The series' columns that the model reads, in its order; one missing is an error."""
        missing = [name for name in self.columns if name not in series.columns]
        if missing:
            raise DataFormatError(f"{where}: no columns {missing}, which the model reads")
        order = [series.columns.index(name) for name in self.columns]
        return replace(series, columns=tuple(self.columns), values=series.values[:, order])
