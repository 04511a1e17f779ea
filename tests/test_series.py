"""Series data: the long-horizon protocol's borders and window counts, a scaler
that sees train rows only, batches that keep every window, the ETT builder,
and clear errors for bad CSV files."""

import dataclasses
import hashlib
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ROOT
from tensorflow_datasets.core.download.checksums import UrlInfo

import train
from data import ett
from data.errors import DataFormatError, DatasetUnavailableError
from data.ett import COLUMNS, FILES, load_ett
from data.options import ETT_SERIES
from data.series import (
    Series,
    fit_scaler,
    mean_day,
    month_ends,
    protocol_borders,
    ratio_ends,
    read_series,
    rows_per_day,
    slots_of_day,
    split_ends,
    split_windows,
    window_batches,
)
from tasks.forecasting.task import Forecasting

ETTH_ENDS = (8640, 11520, 14400)


def row_numbers(rows: int, channels: int = 2) -> Series:
    """A series whose every value is its row number, so windows show their rows."""
    values = np.repeat(np.arange(rows, dtype=np.float32)[:, None], channels, axis=1)
    return Series("rows", tuple(f"c{index}" for index in range(channels)), values)


def write_csv(path, rows: int, period: int = 24, start="2020-01-01T00:00"):
    dates = np.datetime64(start) + np.arange(rows) * np.timedelta64(1, "h")
    phase = 2 * np.pi * np.arange(rows) / period
    lines = ["date,load,temperature"]
    for date, angle in zip(dates, phase, strict=True):
        lines.append(f"{str(date).replace('T', ' ')}:00,{np.sin(angle):.6f},{np.cos(angle):.6f}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(("lookback", "horizon"), [(96, 96), (96, 720), (336, 192)])
def test_etth_borders_and_window_counts_follow_the_protocol(lookback, horizon):
    """Train rows [0, 8640), validation [8640-L, 11520), test [11520-L, 14400);
    one window per start row whose forecast stays inside its part."""
    windows = split_windows(row_numbers(17420), ETTH_ENDS, lookback, horizon)
    for name, (first, last) in {
        "train": (0, 8640),
        "validation": (8640 - lookback, 11520),
        "test": (11520 - lookback, 14400),
    }.items():
        part = windows[name]
        assert len(part) == last - first - lookback - horizon + 1
        assert part.inputs[0, 0, 0] == first and part.targets[-1, -1, 0] == last - 1
        assert part.inputs.shape == (len(part), lookback, 2)
        assert part.targets.shape == (len(part), horizon, 2)
        # Targets follow their inputs without a gap.
        assert np.all(part.targets[:, 0, 0] == part.inputs[:, -1, 0] + 1)
    # Validation and test forecasts start right where the previous part ends.
    assert windows["validation"].targets[0, 0, 0] == 8640
    assert windows["test"].targets[0, 0, 0] == 11520
    assert len(windows["test"]) == {96: 2785, 192: 2689, 720: 2161}[horizon]


def test_ettm_borders_are_four_times_etth():
    assert month_ends(3600) == ETTH_ENDS and month_ends(900) == (34560, 46080, 57600)
    assert set(FILES) == set(ETT_SERIES)
    for name in ETT_SERIES:
        assert FILES[name].ends == month_ends(3600 if name.startswith("etth") else 900)
    assert protocol_borders(FILES["ettm1"].ends, 96)["test"] == (46080 - 96, 57600)


def test_other_series_split_70_10_20_in_time_order():
    assert ratio_ends(1000) == (700, 800, 1000)


def dated(rows: int, step_minutes: int) -> Series:
    """Row numbers dated `step_minutes` apart from 2016-07-01."""
    start = np.datetime64("2016-07-01T00:00", "s")
    dates = start + np.arange(rows) * np.timedelta64(step_minutes, "m")
    return dataclasses.replace(row_numbers(rows), dates=dates)


def test_csv_split_as_the_ett_papers_takes_their_borders_from_the_spacing():
    """`--split ett-hourly` / `ett-minute` end the parts where the builder's
    ETTh / ETTm files end them; `ratio` keeps 70/10/20%."""
    assert split_ends(dated(17420, 60), "ett-hourly", "h.csv") == FILES["etth1"].ends
    assert split_ends(dated(57600, 15), "ett-minute", "m.csv") == FILES["ettm1"].ends
    assert split_ends(dated(1000, 60), "ratio", "r.csv") == (700, 800, 1000)


@pytest.mark.parametrize(
    ("split", "content", "message"),
    [
        (
            "ett-hourly",
            "date,a\n2016-07-01 00:00:00,1\n2016-07-01 01:00:00,2\n2016-07-01 03:00:00,3\n",
            r"gap\.csv, line 4: 2016-07-01 03:00:00 comes 2 hours after 2016-07-01 01:00:00; "
            r"--split ett-hourly needs every row 1 hour after the one before",
        ),
        (
            "ett-minute",
            "date,a\n2016-07-01 00:00:00,1\n2016-07-01 01:00:00,2\n",
            r"gap\.csv, line 3: 2016-07-01 01:00:00 comes 1 hour after 2016-07-01 00:00:00; "
            r"--split ett-minute needs every row 15 minutes after",
        ),
    ],
)
def test_ett_split_refuses_rows_at_another_spacing_naming_line_and_dates(
    tmp_path, split, content, message
):
    path = tmp_path / "gap.csv"
    path.write_text(content)
    with pytest.raises(DataFormatError, match=message):
        split_ends(read_series(path), split, path)


def test_ett_split_refuses_too_few_rows_and_undated_rows(tmp_path):
    short = write_csv(tmp_path / "short.csv", 14399)
    with pytest.raises(
        DataFormatError,
        match=r"short\.csv: --split ett-hourly needs 14400 rows \(20 months of rows 1 hour "
        r"apart\), the file has 14399",
    ):
        split_ends(read_series(short), "ett-hourly", short)
    with pytest.raises(DataFormatError, match=r"r\.csv: --split ett-minute needs each row's date"):
        split_ends(row_numbers(60000), "ett-minute", "r.csv")


def test_scaler_sees_train_rows_only():
    """Values after the training rows are huge; the scaler must not notice them."""
    series = row_numbers(17420)
    series.values[8640:] = 1e6
    windows = split_windows(series, ETTH_ENDS, 96, 96)
    scaler = fit_scaler(windows["train"])
    np.testing.assert_allclose(scaler.mean_, np.arange(8640).mean(), rtol=1e-6)
    np.testing.assert_allclose(scaler.scale_, np.arange(8640).std(), rtol=1e-6)


def test_batches_hold_every_window_once_and_training_orders_by_seed():
    """No window is dropped (the last batch is smaller), evaluation keeps time
    order, training visits the same windows in an order fixed by its seed
    (each epoch passes its own)."""
    part = split_windows(row_numbers(600), (300, 400, 600), 24, 12)["test"]
    assert len(part) == 200 - 12 + 1
    batches = window_batches(part.series.values, part, 32, training=False, seed=0, targets=[1])
    inputs, targets = zip(*batches.as_numpy_iterator(), strict=True)
    assert [len(batch) for batch in inputs][-1] == len(part) % 32
    np.testing.assert_array_equal(np.concatenate(inputs), part.inputs)
    np.testing.assert_array_equal(np.concatenate(targets), part.targets[..., [1]])
    first, again, second = (
        np.concatenate(
            [
                batch[:, 0, 0]
                for batch, _ in window_batches(
                    part.series.values, part, 32, training=True, seed=seed
                ).as_numpy_iterator()
            ]
        )
        for seed in (0, 0, 1)
    )
    assert sorted(first.tolist()) == part.starts.tolist() == sorted(second.tolist())
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)


def test_csv_is_read_with_dates_and_named_columns(tmp_path):
    series = read_series(write_csv(tmp_path / "Plant Load.csv", 50))
    assert series.name == "plant_load" and series.columns == ("load", "temperature")
    assert series.values.shape == (50, 2) and series.values.dtype == np.float32
    assert str(series.dates[1]) == "2020-01-01T01:00:00"
    assert rows_per_day(series.dates) == 24
    undated = tmp_path / "undated.csv"
    undated.write_text("a,b\n1,2\n3,4\n")
    assert read_series(undated, date_column="").dates is None


def test_slots_of_day_count_rows_from_midnight():
    """Hourly rows from midnight: the hour; quarter hours from 06:00: 24 onwards."""
    hourly = np.datetime64("2016-07-01T00:00", "s") + np.arange(50) * np.timedelta64(1, "h")
    assert slots_of_day(hourly, 24).tolist() == [row % 24 for row in range(50)]
    quarters = np.datetime64("2016-07-01T06:00", "s") + np.arange(200) * np.timedelta64(15, "m")
    assert slots_of_day(quarters, 96).tolist() == [(24 + row) % 96 for row in range(200)]


def test_mean_day_averages_the_rows_of_each_slot():
    values = np.array([[1.0], [10.0], [3.0], [20.0], [5.0]])
    slots = np.array([0, 1, 0, 1, 0])
    np.testing.assert_allclose(mean_day(values, slots, 3), [[3.0], [15.0], [0.0]])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("date,a\n2020-01-01,1\n2020-01-02,\n", r"line 3: missing value in column 'a'"),
        ("date,a\n2020-01-01,1\n2020-01-02,NaN\n", r"line 3: missing value in column 'a'"),
        ("date,a,site\n2020-01-01,1,north\n", r"line 2: column 'site' holds 'north', not a number"),
        ("date,a\n2020-01-01,1\n2020-01-02,2,3\n", r"line 3: expected 2 fields"),
        ("date,a\n2020-01-02,1\n2020-01-01,2\n", r"line 3: date 2020-01-01T00:00:00 does not come"),
        ("date,a\nyesterday,1\n", r"line 2: date 'yesterday' is not a date"),
        ("time,a\n1,2\n", r"line 1: no date column 'date' among \['time', 'a'\]"),
        ("date\n2020-01-01\n", r"no value columns besides the date"),
        ("date,a\n", r"no rows after the header"),
        ("", r"empty file"),
    ],
)
def test_bad_csv_is_rejected_naming_file_line_and_column(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataFormatError, match=r"bad\.csv.*" + message):
        read_series(path)


def test_too_short_series_names_the_rows_it_needs(tmp_path):
    series = read_series(write_csv(tmp_path / "short.csv", 150))
    with pytest.raises(DataFormatError, match=r"150 rows are too short for lookback 96 \+ horizon"):
        split_windows(series, ratio_ends(150), 96, 24)


def weather_csv(path, rows: int, repeat: int | None = None, step_minutes: int = 10):
    """Rows `step_minutes` apart, like the long-horizon weather file; row
    `repeat` (0-based, on line `repeat + 2`) is an extra row dated as the row
    above it, and the rows after it carry on the regular step. Each value is
    its row number."""
    steps = np.arange(rows)
    if repeat is not None:
        steps[repeat:] -= 1
    dates = np.datetime64("2020-01-01T00:00", "s") + steps * np.timedelta64(step_minutes, "m")
    lines = ["date,pressure,temperature"] + [
        f"{str(date).replace('T', ' ')},{row},{row / 10}" for row, date in enumerate(dates)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_repeated_time_is_named_as_a_duplicate_with_the_option_that_reads_it(tmp_path):
    path = weather_csv(tmp_path / "weather.csv", 300, repeat=151)
    with pytest.raises(
        DataFormatError,
        match=r"weather\.csv, line 153: duplicate date 2020-01-02 01:00:00, already on line 152 "
        r"\(the file has 1 repeated time\); .* pass --repeated-times keep",
    ):
        read_series(path)


def test_repeated_times_keep_reads_every_row_in_file_order(tmp_path):
    """As the published loaders do: the repeated row is a row of its own, the
    dates stay as written, and a day still holds 144 ten-minute rows."""
    series = read_series(weather_csv(tmp_path / "weather.csv", 300, repeat=151), "date", "keep")
    np.testing.assert_array_equal(series.values[:, 0], np.arange(300))
    assert series.dates[151] == series.dates[150] < series.dates[152]
    assert rows_per_day(series.dates) == 144


def test_repeated_times_keep_still_refuses_an_earlier_time(tmp_path):
    path = tmp_path / "weather.csv"
    path.write_text("date,a\n2020-01-01 00:10:00,1\n2020-01-01 00:10:00,2\n2020-01-01 00:00:00,3\n")
    with pytest.raises(
        DataFormatError,
        match=r"weather\.csv, line 4: date 2020-01-01T00:00:00 does not come after "
        r"2020-01-01T00:10:00; rows must be in time order",
    ):
        read_series(path, repeated_times="keep")


def test_ett_split_of_kept_repeats_counts_rows_and_refuses_any_other_gap(tmp_path):
    """The ETT months are counted in rows, as the published loaders count
    them, so a kept repeat is one more row; a missing row is still a gap."""
    regular = weather_csv(tmp_path / "m.csv", 57_700, repeat=1000, step_minutes=15)
    series = read_series(regular, repeated_times="keep")
    assert split_ends(series, "ett-minute", regular) == FILES["ettm1"].ends
    later = series.dates + (np.arange(57_700) >= 5000) * np.timedelta64(15, "m")
    gap = dataclasses.replace(series, dates=later)
    with pytest.raises(
        DataFormatError,
        match=r"gap\.csv, line 5002: .* comes 30 minutes after .*; --split ett-minute needs",
    ):
        split_ends(gap, "ett-minute", "gap.csv")


def test_command_line_repeated_times_reaches_the_reader(tmp_path):
    """`train.py forecasting --dataset weather.csv --repeated-times keep`
    reads the file; the default refuses it before any training."""
    path = str(weather_csv(tmp_path / "weather.csv", 2000, repeat=151))
    tiny = ["--lookback", "24", "--horizon", "24", "--segment-length", "12"]

    def task(*arguments: str) -> Forecasting:
        options = train.parser().parse_args(["forecasting", "--dataset", path, *tiny, *arguments])
        return Forecasting(*train.settings(options))

    # The last 20% of the rows, 400, hold one test window per forecast of 24 rows.
    assert len(task("--repeated-times", "keep").splits().test) == 400 - 24 + 1
    with pytest.raises(DataFormatError, match=r"weather\.csv, line 153: duplicate date"):
        task().splits()


def write_ett(mirror, monkeypatch, rows: int = 40, name: str = "etth1"):
    """A small ETTh1.csv (or the file of `name`) in the mirror's layout,
    pinned as the builder's file."""
    filename = FILES[name].info.filename
    path = mirror / "ETDataset" / "ETT-small" / filename
    path.parent.mkdir(parents=True)
    dates = np.datetime64("2016-07-01T00:00") + np.arange(rows) * np.timedelta64(1, "h")
    lines = [",".join(("date", *COLUMNS))]
    for index, date in enumerate(dates):
        values = ",".join(str(index + channel / 10) for channel in range(len(COLUMNS)))
        lines.append(f"{str(date).replace('T', ' ')}:00,{values}")
    path.write_text("\n".join(lines) + "\n")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    info = UrlInfo(size=path.stat().st_size, checksum=digest, filename=filename)
    pinned = dataclasses.replace(ett.FILES[name], info=info, rows=rows)
    monkeypatch.setitem(ett.FILES, name, pinned)
    return path


def test_ett_builder_prepares_a_mirror_file_in_time_order(tmp_path, monkeypatch):
    """The tfds builder keeps the whole series, row order and float32 values."""
    write_ett(tmp_path / "mirror", monkeypatch)
    series = load_ett("etth1", tmp_path / "mirror", tmp_path / "tfds")
    assert series.columns == COLUMNS and series.values.shape == (40, 7)
    np.testing.assert_allclose(series.values[:, 0], np.arange(40))
    assert str(series.dates[-1]) == "2016-07-02T15:00:00"
    assert (tmp_path / "tfds" / "ett" / "h1" / "1.0.0").is_dir()


@pytest.mark.parametrize(("name", "config"), [("etth2", "h2"), ("ettm2", "m2")])
def test_etth2_and_ettm2_are_configs_of_their_own(tmp_path, monkeypatch, name, config):
    """Each file is prepared under its own config, from its own mirror path."""
    write_ett(tmp_path / "mirror", monkeypatch, name=name)
    series = load_ett(name, tmp_path / "mirror", tmp_path / "tfds")
    assert series.name == name and series.values.shape == (40, 7)
    assert (tmp_path / "tfds" / "ett" / config / "1.0.0").is_dir()
    assert not (tmp_path / "tfds" / "ett" / "h1").exists()
    assert FILES[name].remote.url.endswith(f"/ETT-small/{FILES[name].info.filename}")


def test_ett_file_that_differs_from_the_pin_is_refused(tmp_path, monkeypatch):
    path = write_ett(tmp_path / "mirror", monkeypatch)
    path.write_text(path.read_text().replace("2016-07-01 00:00:00,0.0", "2016-07-01 00:00:00,9.0"))
    with pytest.raises(DatasetUnavailableError, match="etth1 file was not used.*wrong checksum"):
        load_ett("etth1", tmp_path / "mirror", tmp_path / "tfds")


def test_ett_offline_without_mirror_fails_fast_naming_url_and_option(tmp_path, offline):
    with pytest.raises(DatasetUnavailableError) as error:
        load_ett("ettm1", None, tmp_path / "tfds")
    assert FILES["ettm1"].remote.url in str(error.value) and "--data-mirror" in str(error.value)


def test_real_ett_files_give_the_protocol_window_counts(mirror, tfds_dir):
    """The real ETTh1 and ETTm1 (from the mirror): 2785 and 11425 test windows
    at lookback 96, horizon 96, as the literature counts them."""
    for name, expected in (("etth1", (8449, 2785, 2785)), ("ettm1", (34369, 11425, 11425))):
        series = load_ett(name, mirror, tfds_dir)
        assert len(series.values) == FILES[name].rows
        windows = split_windows(series, FILES[name].ends, 96, 96)
        assert tuple(len(windows[part]) for part in ("train", "validation", "test")) == expected
    assert rows_per_day(series.dates) == 96


RACER = """
import pathlib, sys, time
from data.ett import load_ett
folder = pathlib.Path(sys.argv[1])
(folder / f"ready-{sys.argv[2]}").touch()
while not (folder / "go").exists():
    time.sleep(0.01)
print(len(load_ett("etth1", sys.argv[3], folder / "tfds").values))
"""


def test_processes_preparing_ett_at_once_all_get_it(tmp_path, mirror):
    """Two trainings started together on a fresh machine: one prepares the
    tfds copy, the other waits for it instead of failing on half-written files."""
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(tmp_path), str(number), mirror],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for number in range(3)
    ]
    while len(list(tmp_path.glob("ready-*"))) < len(racers):
        assert all(racer.poll() is None for racer in racers), racers[0].communicate()
        time.sleep(0.05)
    (tmp_path / "go").touch()
    for racer in racers:
        out, err = racer.communicate(timeout=300)
        assert racer.returncode == 0, err[-2000:]
        assert out.split()[-1] == str(FILES["etth1"].rows)
