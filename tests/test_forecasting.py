"""Forecasting end to end: tiny models learn a sine, every test window is
scored, the export serves raw windows (also after a reload in a fresh
process), the command lines forecast a CSV and reject bad ones clearly."""

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf
from helpers import assert_same_outputs, outputs_in_fresh_process, run_script

import train
from core import runner
from core.config import DataConfig, TrainingConfig
from core.evaluation import combine, evaluate, over_seeds
from core.export import latest_version, load_export
from data.errors import DataFormatError, DatasetUnavailableError
from data.ett import FILES
from models.forecasters import SegmentRecurrence, segment_recurrent_forecaster
from tasks import load_task, restore_model
from tasks.forecasting.task import BLEND_WEIGHTS, Forecasting, ForecastingConfig

TINY = dict(lookback=48, horizon=24, segment_length=12, units=16, dropout=0.0, decay=1.0)


def sine_csv(path, rows=1200, seed=0):
    """Two channels with a daily period (24 hourly rows), a little noise."""
    noise = np.random.default_rng(seed).normal(0, 0.05, size=(rows, 2))
    angle = 2 * np.pi * np.arange(rows) / 24
    values = 10 + 3 * np.stack([np.sin(angle), np.cos(angle)], axis=1) + noise
    dates = np.datetime64("2021-03-01T00:00") + np.arange(rows) * np.timedelta64(1, "h")
    lines = ["date,load,temperature"] + [
        f"{str(date).replace('T', ' ')}:00,{a:.5f},{b:.5f}"
        for date, (a, b) in zip(dates, values, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def tiny_task(dataset="", mirror="", data_dir="", train=None, **config):
    train = dict(epochs=8, batch_size=32, patience=8, learning_rate=1e-2) | (train or {})
    return Forecasting(
        ForecastingConfig(**(TINY | config)),
        TrainingConfig(**train),
        DataConfig(dataset=str(dataset), data_mirror=mirror, data_dir=str(data_dir)),
    )


@pytest.fixture(scope="module")
def sine_run(tmp_path_factory):
    """A tiny segment-recurrent model trained on the sine CSV, and its report."""
    folder = tmp_path_factory.mktemp("sine")
    csv_path = sine_csv(folder / "sine.csv")
    runner.run(tiny_task(csv_path), folder / "run")
    return folder / "run", evaluate(load_task(folder / "run"), folder / "run")


@pytest.mark.parametrize(
    ("model", "settings", "largest_mse"),
    [
        ("segment", {}, 0.02),
        ("plain", {"units": 32, "normalization": "none", "train": {"epochs": 6}}, 0.02),
    ],
)
def test_tiny_models_forecast_a_sine_well(tmp_path, model, settings, largest_mse):
    """Scaled test MSE below a small bound and a tenth of persistence's. The
    daily cycle is off: it would take the daily sine away before the model
    sees it; so is the blend, whose least squares alone forecasts a sine."""
    csv_path = sine_csv(tmp_path / "sine.csv")
    task = tiny_task(csv_path, model=model, daily_cycle=False, linear_blend=False, **settings)
    runner.run(task, tmp_path / "run")
    report = evaluate(load_task(tmp_path / "run"), tmp_path / "run")
    mse = report["metrics"]["sine_mse_24"]
    assert mse < largest_mse, report["metrics"]
    assert mse < 0.1 * report["baselines"]["persistence"]["sine_mse_24"]
    # A daily sine is what seasonal naive and the linear model are made for.
    assert report["baselines"]["seasonal_naive"]["sine_mse_24"] < 0.05
    assert report["baselines"]["linear"]["sine_mse_24"] < 0.05


def test_residual_linear_baseline_puts_the_mean_day_back(sine_run):
    """The sine run keeps the daily cycle, so the sine is its mean day: the
    least squares on the model's view sees only noise, and its forecast is
    the sine again only if the mean day goes back at the right hours."""
    baselines = sine_run[1]["baselines"]
    assert baselines["linear_residual"]["sine_mse_24"] < 0.01, baselines


def test_every_test_window_is_scored(sine_run):
    """240 test rows + 48 lookback rows hold 217 windows of 48 + 24; batches of
    32 do not divide 217, and the last, smaller batch still counts."""
    run_dir, report = sine_run
    assert report["test_examples"] == 240 + 48 - 48 - 24 + 1 == 217
    task, _ = restore_model(run_dir)
    test = task.splits().test
    outputs = task.test_outputs(load_export(latest_version(run_dir / "export")), test)
    assert outputs["forecast"].shape == (217, 24, 2)
    assert (run_dir / "forecast_vs_actual.png").stat().st_size > 0


def test_export_scales_and_places_the_mean_day_inside_the_graph(sine_run):
    """Serving a raw window and the time of its first row equals scaling it,
    taking away the mean day at those hours, averaging the model's forecast
    with the least squares from each channel's last value, adding the mean
    day back over the forecast hours and unscaling."""
    task, model = restore_model(sine_run[0])
    test = task.splits().test
    raw, starts = test.inputs[:5], test.series.dates[test.starts[:5]]
    export = load_export(latest_version(sine_run[0] / "export"))
    served = export.forecast(tf.constant(raw), tf.constant(starts.astype(np.int64)))
    hours = starts.astype("datetime64[h]").astype(np.int64)[:, None] + np.arange(48 + 24)
    day = task.mean_day[hours % 24]
    seen = (raw - task.mean) / task.scale - day[:, :48]
    blend, last = task.saved["blend"], seen[:, -1:]
    straight = np.einsum("blc,lh->bhc", seen - last, blend["kernel"]) + last
    straight += np.array(blend["bias"])[:, None]
    scaled = model(seen, training=False).numpy()
    scaled = blend["weight"] * scaled + (1 - blend["weight"]) * straight
    expected = (scaled + day[:, 48:]) * task.scale + task.mean
    np.testing.assert_allclose(served["forecast"], expected, atol=1e-4)


def test_blend_with_least_squares_is_weighted_on_validation(sine_run):
    """The export averages the model with least squares fit on the training
    windows; of the weights 0, 0.1 .. 1 on the model, the run keeps the one
    whose average has the lowest validation MSE."""
    task, model = restore_model(sine_run[0])
    splits = task.splits()
    validation, blend = splits.validation, task.saved["blend"]
    served = task.test_outputs(load_export(latest_version(sine_run[0] / "export")), validation)
    task.restore({key: value for key, value in task.saved.items() if key != "blend"})
    alone = SimpleNamespace(forecast=task.serving(model).endpoints["forecast"].function)
    alone = task.test_outputs(alone, validation)["forecast"]
    straight = task._linear_forecasts(splits.train, validation, residual=True)
    mse = {
        weight: task.score({"forecast": weight * alone + (1 - weight) * straight}, validation)
        for weight in BLEND_WEIGHTS
    }
    mse = {weight: scores["sine_mse_24"] for weight, scores in mse.items()}
    assert mse[blend["weight"]] <= min(mse.values()) * (1 + 1e-4), (blend["weight"], mse)
    blended = blend["weight"] * alone + (1 - blend["weight"]) * straight
    np.testing.assert_allclose(served["forecast"], blended, atol=1e-3)


def test_mean_day_is_fit_on_training_rows_and_taken_from_every_batch(tmp_path):
    """The training part's hourly means of the scaled rows, and nothing after
    them; the model reads and forecasts what differs from them."""
    task = tiny_task(sine_csv(tmp_path / "sine.csv"))
    splits = task.splits()
    task.adapt(splits.train)
    train = splits.train
    scaled = (train.series.values - task.mean) / task.scale
    hourly = [scaled[hour : train.stop : 24].mean(axis=0) for hour in range(24)]
    np.testing.assert_allclose(task.mean_day, hourly, atol=1e-5)
    inputs, targets = next(iter(task.batches(splits.test, training=False)))
    rows = splits.test.starts[0] + np.arange(48 + 24)
    expected = scaled[rows] - task.mean_day[rows % 24]
    np.testing.assert_allclose(inputs[0], expected[:48], atol=1e-5)
    np.testing.assert_allclose(targets[0], expected[48:], atol=1e-5)


def test_daily_cycle_without_dates_is_refused_before_training(tmp_path):
    undated = tmp_path / "undated.csv"
    lines = sine_csv(tmp_path / "sine.csv").read_text().splitlines()
    undated.write_text("\n".join(line.split(",", 1)[1] for line in lines) + "\n")
    with pytest.raises(DataFormatError, match="no-daily-cycle"):
        tiny_task(undated, date_column="").splits()
    assert len(tiny_task(undated, date_column="", daily_cycle=False).splits().test) == 217


def test_export_reloaded_in_fresh_process_gives_the_same_forecast(sine_run):
    task, model = restore_model(sine_run[0])
    test = task.splits().test
    raw, starts = test.inputs[:7], test.series.dates[test.starts[:7]].astype(np.int64)
    in_process = (
        task.serving(model).endpoints["forecast"].function(tf.constant(raw), tf.constant(starts))
    )
    reloaded = outputs_in_fresh_process(
        latest_version(sine_run[0] / "export"),
        {"window": (raw.tolist(), "float32"), "start": (starts.tolist(), "int64")},
    )
    assert np.asarray(reloaded["forecast"]).shape == (7, 24, 2)
    assert_same_outputs({"forecast": in_process["forecast"].numpy()}, reloaded)


def test_predict_forecasts_the_latest_window_of_a_csv(sine_run, tmp_path):
    """`evaluate.py --predict FILE.csv` prints one JSON line per future step,
    dated after the file's last row, and draws it on request."""
    latest = sine_csv(tmp_path / "latest.csv", rows=60, seed=1)
    result = run_script(
        "evaluate.py", "forecasting", "--model", str(sine_run[0]),
        "--predict", str(latest), "--plot", str(tmp_path / "latest.png"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [row["step"] for row in rows] == list(range(1, 25))
    assert rows[0]["date"] == "2021-03-03 12:00:00" and rows[-1]["date"] == "2021-03-04 11:00:00"
    # Hour 12 of a daily sine around 10 with amplitude 3: load near 10, temperature near 7.
    assert abs(rows[0]["load"] - 10) < 1 and abs(rows[0]["temperature"] - 7) < 1
    assert (tmp_path / "latest.png").stat().st_size > 0


def test_bad_csv_on_the_command_line_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("date,load\n2021-01-01 00:00:00,1\n2021-01-01 01:00:00,n/a\n")
    result = run_script(
        "train.py", "forecasting", "--dataset", str(bad), "--run-dir", str(tmp_path / "run")
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "bad.csv, line 3: column 'load' holds 'n/a', not a number" in result.stderr


def test_too_short_series_is_refused_before_training(tmp_path):
    short = sine_csv(tmp_path / "short.csv", rows=200)
    with pytest.raises(DataFormatError, match="200 rows are too short for lookback 48"):
        tiny_task(short).splits()


def command_line_task(*arguments: str) -> Forecasting:
    """The task that `train.py forecasting ARGUMENTS` trains."""
    return Forecasting(*train.settings(train.parser().parse_args(["forecasting", *arguments])))


def test_etth1_as_a_csv_split_by_hours_is_the_benchmark_series(mirror, tfds_dir):
    """`--dataset ETTh1.csv --split ett-hourly` gives the builder's windows,
    value for value, and the same scaler (and mean day): a user's copy of an
    ETT file is split as the papers split it."""
    csv_path = Path(mirror) / FILES["etth1"].remote.mirror_path
    own = command_line_task("--dataset", str(csv_path), "--split", "ett-hourly")
    benchmark = command_line_task(
        "--series", "etth1", "--data-mirror", mirror, "--data-dir", str(tfds_dir)
    )
    own_splits, benchmark_splits = own.splits(), benchmark.splits()
    assert len(benchmark_splits.test) == 2785
    for part in ("train", "validation", "test"):
        ours, theirs = getattr(own_splits, part), getattr(benchmark_splits, part)
        assert (ours.start, ours.stop) == (theirs.start, theirs.stop)
        np.testing.assert_array_equal(ours.inputs, theirs.inputs)
        np.testing.assert_array_equal(ours.targets, theirs.targets)
    own.adapt(own_splits.train)
    benchmark.adapt(benchmark_splits.train)
    np.testing.assert_array_equal(own.mean, benchmark.mean)
    np.testing.assert_array_equal(own.scale, benchmark.scale)
    assert own.saved == benchmark.saved


def test_ett_split_of_a_csv_at_another_spacing_or_too_short_is_refused(tmp_path):
    sine = str(sine_csv(tmp_path / "sine.csv"))
    with pytest.raises(DataFormatError, match=r"sine\.csv, line 3: .* needs every row 15 minutes"):
        command_line_task("--dataset", sine, "--split", "ett-minute").splits()
    with pytest.raises(DataFormatError, match=r"sine\.csv: --split ett-hourly needs 14400 rows"):
        command_line_task("--dataset", sine, "--split", "ett-hourly").splits()
    assert command_line_task("--dataset", sine).config.split == "ratio"


@pytest.mark.parametrize("split", ["ratio", "ett-hourly"])
def test_split_without_dataset_is_refused_naming_the_option(split, capsys):
    """The benchmark series keep their protocol's split: `--split` there,
    even the default's value, would be ignored, so it is an error."""
    with pytest.raises(SystemExit) as stop:
        train.main(["forecasting", "--split", split])
    assert stop.value.code == 2
    assert "error: --split applies only with --dataset, which was not given" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("series", ["etth2", "ettm2"])
def test_series_etth2_and_ettm2_missing_from_the_mirror_are_named(tmp_path, series):
    """The shared mirror holds ETTh1 and ETTm1 only: asked for ETTh2 or
    ETTm2, it says which file it lacks and where that file comes from."""
    (tmp_path / "mirror").mkdir()
    task = command_line_task(
        "--series", series, "--data-mirror", str(tmp_path / "mirror"),
        "--data-dir", str(tmp_path / "tfds"),
    )  # fmt: skip
    with pytest.raises(DatasetUnavailableError) as error:
        task.splits()
    filename = FILES[series].info.filename
    assert f"has no ETDataset/ETT-small/{filename}" in str(error.value)
    upstream = f"https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/{filename}"
    assert upstream in str(error.value)


def test_target_column_is_forecast_from_all_columns(tmp_path):
    task = tiny_task(sine_csv(tmp_path / "sine.csv"), target="temperature")
    splits = task.splits()
    task.adapt(splits.train)
    inputs, targets = next(iter(task.batches(splits.train, training=False)))
    assert inputs.shape[1:] == (48, 2) and targets.shape[1:] == (24, 1)
    assert task.build_model()(inputs).shape[1:] == (24, 1)
    with pytest.raises(DataFormatError, match="no column 'humidity'"):
        tiny_task(tmp_path / "sine.csv", target="humidity").splits()


def test_parallel_decoding_equals_one_gru_step_per_segment():
    """The broadcast decoder gives the numbers of running the encoder's GRU
    cell on every (sample, channel, segment) one at a time."""
    model = segment_recurrent_forecaster(24, 3, 16, segment_length=8, units=6)
    decoder = next(layer for layer in model.layers if isinstance(layer, SegmentRecurrence))
    state = np.random.default_rng(0).normal(size=(2 * 3, 6)).astype("float32")
    fast = decoder.decode(state).numpy()
    steps = np.concatenate(
        [
            np.tile(decoder.position.numpy()[None], (3, 1, 1)),
            np.tile(decoder.channel.numpy()[:, None], (1, 2, 1)),
        ],
        axis=-1,
    )
    inputs = np.tile(steps[None], (2, 1, 1, 1)).reshape(-1, 6)
    states = np.repeat(state.reshape(2, 3, 1, 6), 2, axis=2).reshape(-1, 6)
    slow, _ = decoder.gru.cell(inputs, [states])
    np.testing.assert_allclose(fast.reshape(-1, 6), slow.numpy(), atol=1e-5)


def test_position_and_channel_embeddings_start_independent():
    model = segment_recurrent_forecaster(96, 7, 192, segment_length=24, units=64)
    decoder = model.get_layer("segment_recurrence")
    position, channel = decoder.position.numpy(), decoder.channel.numpy()
    assert abs(np.corrcoef(position[:7].ravel(), channel.ravel())[0, 1]) < 0.2


def test_pytorch_initialization_draws_within_one_over_root_fan_in():
    """SegRNN's layers keep PyTorch's defaults: U(+-1/sqrt(fan_in)), the GRU's
    fan-in being its width."""
    model = segment_recurrent_forecaster(
        96, 7, 192, segment_length=24, units=64, initialization="pytorch"
    )
    limits = {"segment_embedding": 24**-0.5, "gru_cell": 64**-0.5, "segment_projection": 64**-0.5}
    for weight in model.weights:
        layer = weight.path.split("/")[-2]
        if layer in limits:
            values = np.abs(weight.numpy())
            assert limits[layer] * 0.9 < values.max() <= limits[layer], weight.path


def test_learning_rate_is_held_then_multiplied_by_decay_each_epoch():
    """SegRNN's schedule ('type3'): the initial rate for the held epochs, then x decay."""
    task = tiny_task(hold_epochs=4, decay=0.5, train={"learning_rate": 1.0})
    (scheduler,) = task.callbacks(model=None, splits=None)
    assert [scheduler.schedule(epoch) for epoch in range(6)] == [1, 1, 1, 1, 0.5, 0.25]


def test_ema_validates_and_keeps_the_averaged_weights(tmp_path):
    """With an average that barely moves, validation keeps scoring the starting
    weights while the raw ones learn."""
    run = tmp_path / "run"
    train = {"epochs": 3, "ema": 0.999999}
    metrics = runner.run(tiny_task(sine_csv(tmp_path / "sine.csv"), train=train), run)
    history = runner.read_history(run / "history.csv")
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    scores = [row["val_mse"] for row in history]
    np.testing.assert_allclose(scores, scores[0], rtol=1e-3)
    np.testing.assert_allclose(metrics["validation"]["mse"], scores[0], rtol=1e-3)


def test_with_ema_the_task_callbacks_score_the_averaged_weights(tmp_path, monkeypatch):
    """A task callback's validation metric (say BLEU) picks epochs, so it must
    see the weights that are saved: with --ema, the average."""
    import keras

    seen = []

    class ScoreTheModel(keras.callbacks.Callback):
        def __init__(self, validation):
            super().__init__()
            self.validation = validation

        def on_epoch_end(self, epoch, logs=None):
            seen.append(self.model.evaluate(self.validation, verbose=0, return_dict=True)["mse"])

    task = tiny_task(sine_csv(tmp_path / "sine.csv"), train={"epochs": 2, "ema": 0.9})
    callbacks = Forecasting.callbacks
    monkeypatch.setattr(
        Forecasting,
        "callbacks",
        lambda self, model, splits: [
            *callbacks(self, model, splits),
            ScoreTheModel(self.batches(splits.validation, training=False)),
        ],
    )
    runner.run(task, tmp_path / "run")
    history = runner.read_history(tmp_path / "run" / "history.csv")
    np.testing.assert_allclose(seen, [row["val_mse"] for row in history], rtol=1e-6)
    task, model = restore_model(tmp_path / "run")
    model.compile(**task.compile_arguments())
    validation = task.batches(task.splits().validation, training=False)
    kept = model.evaluate(validation, verbose=0, return_dict=True)["mse"]
    best = min(history, key=lambda row: row["val_loss"])
    np.testing.assert_allclose(kept, best["val_mse"], rtol=1e-6)


def test_mae_loss_is_what_training_minimises(tmp_path):
    """`--loss mae` (ETTh1 336 and 720 train with it): the loss logged is the MAE, not the MSE."""
    task = tiny_task(sine_csv(tmp_path / "sine.csv"), loss="mae", train={"epochs": 2})
    runner.run(task, tmp_path / "run")
    history = runner.read_history(tmp_path / "run" / "history.csv")
    for epoch in history:
        assert epoch["loss"] == pytest.approx(epoch["mae"], rel=1e-4)
        assert epoch["val_loss"] == pytest.approx(epoch["val_mae"], rel=1e-4)
        assert epoch["val_loss"] != pytest.approx(epoch["val_mse"], rel=1e-2)


def test_segments_must_tile_lookback_and_horizon():
    with pytest.raises(ValueError, match="horizon 20 is not a multiple of segment_length 8"):
        segment_recurrent_forecaster(24, 3, 20, segment_length=8)


def test_segment_length_that_does_not_tile_the_horizon_is_refused_before_any_run_dir(tmp_path):
    result = run_script(
        "train.py", "forecasting", "--horizon", "720", "--segment-length", "32",
        "--run-dir", str(tmp_path / "run"),
    )  # fmt: skip
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "horizon 720 is not a multiple of segment_length 32" in result.stderr
    assert not (tmp_path / "run").exists()


def test_reference_runs_land_under_baselines_when_runs_combine(sine_run):
    """The plain model's metrics join the baselines; the best model's stay
    metrics, and only its figures and baselines are kept (the plain run's
    residual baseline would lack the best model's daily cycle)."""
    report = sine_run[1]
    settings = report["settings"]
    reference = report | {
        "reference": "plain_gru",
        "metrics": {"sine_mse_24": 9.0},
        "baselines": {"linear_residual": {"sine_mse_24": 5.0}},
        "figures": ["runs/plain/forecast_vs_actual.png"],
        "settings": settings | {"config": settings["config"] | {"model": "plain"}},
    }
    combined = combine([report, reference], "python evaluate.py forecasting --benchmark")
    assert combined["metrics"] == over_seeds([report["metrics"]])
    assert combined["figures"] == report["figures"]
    assert combined["baselines"] == {
        name: over_seeds([scores]) for name, scores in report["baselines"].items()
    } | {"plain_gru": over_seeds([{"sine_mse_24": 9.0}])}


def test_real_etth1_run_scores_all_2785_test_windows(tmp_path, mirror, tfds_dir):
    """A few steps on real ETTh1 (from the mirror), scored through the export
    on the full protocol test part at lookback 96, horizon 96."""
    task = tiny_task(
        mirror=mirror, data_dir=tfds_dir, lookback=96, horizon=96, segment_length=48,
        train={"epochs": 1, "steps_per_epoch": 3, "limit": 512, "batch_size": 256},
    )  # fmt: skip
    runner.run(task, tmp_path)
    report = evaluate(load_task(tmp_path), tmp_path)
    assert report["test_examples"] == 2785
    assert set(report["metrics"]) == {"etth1_mse_96", "etth1_mae_96"}
    baselines = report["baselines"]
    assert set(baselines) == {"persistence", "seasonal_naive", "linear", "linear_residual"}
    # Least squares is deterministic: these are the benchmark's baseline rows.
    assert baselines["linear"]["etth1_mse_96"] == pytest.approx(0.3815, abs=1e-3)
    assert baselines["linear_residual"]["etth1_mse_96"] == pytest.approx(0.3711, abs=1e-3)
    # Persistence under the protocol is a published number (Zeng et al. 2023: 1.295).
    assert baselines["persistence"]["etth1_mse_96"] == pytest.approx(1.2944, abs=1e-3)
    # Another copy of the file, through `evaluate.py --dataset`, is cut as the
    # papers cut hourly files (the run's series was), with the run's scaler.
    elsewhere = evaluate(
        load_task(tmp_path), tmp_path, str(Path(mirror) / FILES["etth1"].remote.mirror_path)
    )
    assert elsewhere["test_examples"] == 2785
    assert elsewhere["metrics"] == report["metrics"]  # ETTh1.csv names its series etth1


def test_a_run_is_scored_on_another_csv_in_its_own_column_order(sine_run, tmp_path):
    """`evaluate.py --dataset`: another CSV with the run's columns in another
    order is scored with the run's scaler, beside the run's own evaluation;
    a column the run never saw, or one it reads that is missing, is refused by name."""
    run_dir, own = sine_run
    path = sine_csv(tmp_path / "later.csv", seed=3)
    header, *rows = path.read_text().splitlines()
    swapped = [",".join((date, temperature, load)) for date, load, temperature in
               (row.split(",") for row in rows)]  # fmt: skip
    path.write_text("\n".join(["date,temperature,load", *swapped]) + "\n")
    report = evaluate(load_task(run_dir), run_dir, str(path))
    assert report["test_examples"] == own["test_examples"]
    assert report["metrics"]["later_mse_24"] < 0.02, report["metrics"]
    assert (run_dir / "elsewhere" / "later.csv" / "evaluation.json").exists()

    wider = tmp_path / "wider.csv"
    wider.write_text("\n".join([header + ",wind", *(row + ",3.0" for row in rows)]) + "\n")
    with pytest.raises(DataFormatError, match="wider.csv: columns this run never saw: wind"):
        evaluate(load_task(run_dir), run_dir, str(wider))
    narrower = tmp_path / "narrower.csv"
    narrower.write_text("\n".join(line.rsplit(",", 1)[0] for line in [header, *rows]) + "\n")
    with pytest.raises(DataFormatError, match=r"narrower.csv: no columns \['temperature'\]"):
        evaluate(load_task(run_dir), run_dir, str(narrower))
