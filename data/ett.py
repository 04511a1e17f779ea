"""ETT, the Electricity Transformer Temperature dataset (Zhou et al. 2021), as a
tensorflow-datasets builder of the project's (the catalog has no ETT).

Four configs, one per file of ETT-small: `h1`, `h2` (ETTh1, ETTh2: hourly)
and `m1`, `m2` (ETTm1, ETTm2: every 15 minutes), 1 and 2 being two
transformers: their load (HUFL, HULL, MUFL, MULL, LUFL, LULL) and oil
temperature (OT), July 2016 to June 2018. The builder stores each file as
one example, the whole series in time order; the forecasting protocol's
splits overlap by the lookback, so they are cut later
(`data.series.split_windows`). Downloads, and files read from a mirror, are
verified against the pinned size and sha256 by tensorflow-datasets.
"""

import os
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download.checksums import UrlInfo
from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError

from data.errors import DataFormatError, DatasetUnavailableError
from data.mirror import RemoteFile, mirror_root, mirrored_file, require_reachable
from data.preparation import prepare_once
from data.series import ETT_STEPS, Series, month_ends, read_series

COLUMNS = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
UPSTREAM = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small"


@dataclass(frozen=True)
class EttFile:
    """One ETT file: where it lives, its pin, and the protocol's split ends."""

    remote: RemoteFile
    info: UrlInfo
    rows: int
    # The file's spacing as `--split` names it, and its train / validation /
    # test end rows: 12/4/4 months of 30 days.
    split: str
    ends: tuple[int, int, int]


def _ett_file(name: str, size: int, checksum: str, rows: int, split: str) -> EttFile:
    """`split` names the file's spacing as `--split` does, for the month ends."""
    filename = f"{name}.csv"
    return EttFile(
        RemoteFile(f"{UPSTREAM}/{filename}", f"ETDataset/ETT-small/{filename}"),
        UrlInfo(size=size, checksum=checksum, filename=filename),
        rows,
        split,
        month_ends(ETT_STEPS[split]),
    )


# Pins: ETTh1's and ETTm1's are the shared mirror's files. The mirror has
# no ETTh2 or ETTm2: their sha256 are the issue's, their sizes those of
# Hugging Face's download record for `ett` (huggingface/datasets,
# datasets/ett/dataset_infos.json), which pairs them with the same sha256
# and gives ETTh1's and ETTm1's exactly as here. Not measured on the files.
FILES = {
    "etth1": _ett_file(
        "ETTh1",
        2_589_657,
        "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066",
        17_420,
        "ett-hourly",
    ),
    "ettm1": _ett_file(
        "ETTm1",
        10_360_719,
        "6ce1759b1a18e3328421d5d75fadcb316c449fcd7cec32820c8dafda71986c9e",
        69_680,
        "ett-minute",
    ),
    "etth2": _ett_file(
        "ETTh2",
        2_417_960,
        "a3dc2c597b9218c7ce1cd55eb77b283fd459a1d09d753063f944967dd6b9218b",
        17_420,
        "ett-hourly",
    ),
    "ettm2": _ett_file(
        "ETTm2",
        9_677_236,
        "db973ca252c6410a30d0469b13d696cf919648d0f3fd588c60f03fdbdbadd1fd",
        69_680,
        "ett-minute",
    ),
}
# `--series etth1` is the builder's config `h1`.
CONFIGS = {key: key.removeprefix("ett") for key in FILES}


class Ett(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """ETTh1, ETTm1, ETTh2, ETTm2: one example per file, `date` strings and `values` rows."""

    name = "ett"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {
        "1.0.0": "ETT-small's files from zhouhaoyi/ETDataset, whole series (h2, m2 added later)."
    }
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(name=config, description=f"{key} ({FILES[key].rows} rows)")
        for key, config in CONFIGS.items()
    ]

    @property
    def ett_file(self) -> EttFile:
        return FILES[f"ett{self.builder_config.name}"]

    @property
    def url_infos(self) -> dict[str, UrlInfo]:
        return {file.remote.url: file.info for file in FILES.values()}

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "date": tfds.features.Tensor(shape=(None,), dtype=tf.string),
                    "values": tfds.features.Tensor(shape=(None, len(COLUMNS)), dtype=tf.float32),
                }
            ),
            homepage="https://github.com/zhouhaoyi/ETDataset",
            citation="Zhou et al., Informer, AAAI 2021",
            metadata=tfds.core.MetadataDict(columns=list(COLUMNS)),
        )

    def _split_generators(self, dl_manager):
        return {"series": self._generate_examples(dl_manager.download(self.ett_file.remote.url))}

    def _generate_examples(self, path):
        series = read_series(path, date_column="date")
        if series.columns != COLUMNS or len(series.values) != self.ett_file.rows:
            raise DataFormatError(
                f"{path}: expected {self.ett_file.rows} rows of {COLUMNS}, got "
                f"{len(series.values)} rows of {series.columns}"
            )
        dates = np.datetime_as_string(series.dates, unit="s")
        dates = [text.replace("T", " ").encode() for text in dates]
        yield 0, {"date": np.array(dates, dtype=object), "values": series.values}


def load_ett(
    name: str, mirror: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None
) -> Series:
    """ETTh1 (`etth1`), ETTm1, ETTh2 or ETTm2, preparing the tfds copy once."""
    ett_file = FILES[name]
    builder = Ett(config=CONFIGS[name], data_dir=data_dir)
    if not builder.is_prepared():
        root = mirror_root(mirror)
        if root is None:
            require_reachable(ett_file.remote.url)
            config = tfds.download.DownloadConfig()
        else:
            path = mirrored_file(ett_file.remote, root)
            config = tfds.download.DownloadConfig(manual_dir=str(path.parent))
        try:
            prepare_once(builder, config)
        except NonMatchingChecksumError as error:
            raise DatasetUnavailableError(f"The {name} file was not used: {error}") from None
    example = tfds.as_numpy(builder.as_dataset(split="series", batch_size=-1))
    dates = np.array([text.decode() for text in example["date"][0]], dtype="datetime64[s]")
    return Series(name, COLUMNS, example["values"][0], dates)
