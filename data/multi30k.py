"""Multi30k task 1 (Elliott et al. 2016): image captions aligned across languages.

The tensorflow-datasets catalog has no Multi30k, so this is the project's own
builder. One config per language pair (`en-de`, `en-fr`, ...), each holding
the three standard splits: train (29,000 pairs), val (1,014) and
test_2016_flickr (1,000), read from the upstream gzip'd raw files (one caption
per line, files of one split aligned line by line). English and German files
are pinned by sha256, read from a mirror or downloaded; French and Czech are
downloaded unpinned (tfds records their checksums on first use).
"""

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download.checksums import UrlInfo

from data.errors import DatasetUnavailableError
from data.mirror import RemoteFile, mirror_root, mirrored_file, require_reachable
from data.options import MULTI30K_LANGUAGES
from data.pipeline import Examples
from data.preparation import prepare_once

BASE_URL = "https://github.com/multi30k/dataset/raw/master/data/task1/raw"
LANGUAGES = MULTI30K_LANGUAGES
SPLITS = {"train": "train", "validation": "val", "test": "test_2016_flickr"}
# sha256 and size of the upstream files (the shared mirror's SHA256SUMS).
PINS = {
    "train.en.gz": (568_929, "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f"),
    "train.de.gz": (637_044, "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6"),
    "val.en.gz": (21_650, "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28"),
    "val.de.gz": (24_681, "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a"),
    "test_2016_flickr.en.gz": (
        21_077,
        "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    ),
    "test_2016_flickr.de.gz": (
        22_890,
        "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    ),
}


def remote_file(name: str) -> RemoteFile:
    return RemoteFile(url=f"{BASE_URL}/{name}", mirror_path=f"multi30k/data/task1/raw/{name}")


def pair_name(first: str, second: str) -> str:
    """The config holding two languages, whichever translates into which."""
    for language in (first, second):
        if language not in LANGUAGES:
            raise ValueError(f"Multi30k has languages {LANGUAGES}, not {language!r}")
    if first == second:
        raise ValueError(f"source and target language are both {first!r}")
    return "-".join(sorted((first, second), key=LANGUAGES.index))


class Multi30k(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Multi30k task 1 captions, one config per language pair."""

    VERSION = tfds.core.Version("1.0.0")
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(name=f"{first}-{second}")
        for index, first in enumerate(LANGUAGES)
        for second in LANGUAGES[index + 1 :]
    ]
    # Files already found in a mirror (and verified); None means download.
    mirrored: dict[str, Path] | None = None

    @property
    def languages(self) -> list[str]:
        return self.builder_config.name.split("-")

    @property
    def url_infos(self) -> dict[str, UrlInfo]:
        return {
            remote_file(name).url: UrlInfo(size=size, checksum=checksum, filename=name)
            for name, (size, checksum) in PINS.items()
        }

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            # The line number keeps the upstream order, which tfds shuffles.
            features=tfds.features.FeaturesDict(
                {
                    "line": np.int32,
                    **{language: tfds.features.Text() for language in self.languages},
                }
            ),
            homepage="https://github.com/multi30k/dataset",
            citation="Elliott et al. 2016, Multi30K: Multilingual English-German Image "
            "Descriptions, Workshop on Vision and Language.",
        )

    def _split_generators(self, dl_manager):
        names = {
            split: {language: f"{stem}.{language}.gz" for language in self.languages}
            for split, stem in SPLITS.items()
        }
        if self.mirrored is not None:
            paths = {s: {k: self.mirrored[n] for k, n in f.items()} for s, f in names.items()}
        else:
            urls = {s: {k: remote_file(n).url for k, n in f.items()} for s, f in names.items()}
            paths = dl_manager.download(urls)
        return {split: self._generate_examples(files) for split, files in paths.items()}

    def _generate_examples(self, files: dict):
        columns = {language: _read_gzip_lines(Path(path)) for language, path in files.items()}
        counts = {language: len(lines) for language, lines in columns.items()}
        if len(set(counts.values())) != 1:
            raise DatasetUnavailableError(f"Multi30k files are not aligned: {counts} lines")
        for index in range(next(iter(counts.values()))):
            yield index, {"line": index, **{k: lines[index] for k, lines in columns.items()}}


def _read_gzip_lines(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as file:
        return [line.rstrip("\n") for line in file]


def _verified(path: Path, name: str) -> Path:
    """The mirror's file, if it matches the upstream pin (when there is one)."""
    if name not in PINS:
        return path
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != PINS[name][1]:
        raise DatasetUnavailableError(
            f"{path} has sha256 {digest}, not the upstream file's {PINS[name][1]}; it was not used"
        )
    return path


def load_multi30k(
    source: str,
    target: str,
    mirror: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
) -> dict[str, Examples]:
    """Train, validation and test pairs (source -> target), preparing tfds once."""
    builder = Multi30k(data_dir=data_dir, config=pair_name(source, target))
    if not builder.is_prepared():
        root = mirror_root(mirror)
        names = [
            f"{stem}.{language}.gz" for stem in SPLITS.values() for language in (source, target)
        ]
        if root is None:
            require_reachable(remote_file(names[0]).url)
        else:
            builder.mirrored = {
                name: _verified(mirrored_file(remote_file(name), root), name) for name in names
            }
        prepare_once(builder)
    splits = {}
    for split in SPLITS:
        tensors = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
        order = np.argsort(tensors["line"])
        splits[split] = Examples(_texts(tensors[source][order]), _texts(tensors[target][order]))
    return splits


def _texts(values: np.ndarray) -> np.ndarray:
    return np.array([value.decode("utf-8") for value in values], dtype=object)
