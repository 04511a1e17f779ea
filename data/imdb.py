"""IMDB Large Movie Review dataset (Maas et al. 2011), and your own reviews.

The data comes from the tensorflow-datasets catalog builder `imdb_reviews`
(config `plain_text`, same name, version and data directory, so a copy that
tfds already prepared is reused). The catalog pins the Stanford archive's
sha256; the shared mirror holds a content-exact repack with another sha256.
So `ImdbReviews` differs from the catalog builder in one way: an archive
read from a mirror may match either pin, the official one or the repack's,
and tfds then verifies it against the pin it matched. Downloads are
verified against the official checksum, exactly as in the catalog.
"""

import hashlib
import os
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download.checksums import UrlInfo
from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError
from tensorflow_datasets.datasets.imdb_reviews import imdb_reviews_dataset_builder as catalog

from data.errors import DataFormatError, DatasetUnavailableError
from data.mirror import RemoteFile, mirror_root, mirrored_file, require_reachable
from data.preparation import prepare_once
from data.tables import Examples, read_labelled_table, read_utf8

ARCHIVE = RemoteFile(url=catalog._DOWNLOAD_URL, mirror_path="aclImdb/aclImdb_v1.tar.gz")
OFFICIAL_ARCHIVE_INFO = catalog.Builder.url_infos[ARCHIVE.url]
# The shared mirror's repack (shared/datasets/SHA256SUMS): the same 100,000
# reviews as the Stanford release, packed again.
MIRROR_ARCHIVE_INFO = UrlInfo(
    size=56_794_761,
    checksum="6f54868fe47379a9133308be157c0fff95eec8180007de04778d80ab264acb13",
    filename="aclImdb_v1.tar.gz",
)
LABELS = ("neg", "pos")


class ImdbReviews(catalog.Builder, skip_registration=True):
    """The catalog's `imdb_reviews`, able to prepare from a verified mirror."""

    name = "imdb_reviews"
    # The pin a mirror's archive matched; None keeps the catalog's pin.
    archive_info: UrlInfo | None = None

    @property
    def url_infos(self) -> dict[str, UrlInfo]:
        infos = dict(catalog.Builder.url_infos)
        if self.archive_info is not None:
            infos[ARCHIVE.url] = self.archive_info
        return infos


def load_imdb(
    mirror: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    unlabelled: bool = False,
) -> dict[str, Examples]:
    """Train and test reviews as `Examples`, preparing the tfds copy once;
    with `unlabelled`, also the 50,000 unlabelled reviews (`unsupervised`,
    label -1)."""
    root = mirror_root(mirror)
    builder = ImdbReviews(data_dir=data_dir, config="plain_text")
    if not builder.is_prepared():
        if root is None:
            require_reachable(ARCHIVE.url)
            config = tfds.download.DownloadConfig()
        else:
            archive = mirrored_file(ARCHIVE, root)
            builder.archive_info = known_archive(archive)
            config = tfds.download.DownloadConfig(manual_dir=str(archive.parent))
        try:
            prepare_once(builder, config)
        except NonMatchingChecksumError as error:
            raise DatasetUnavailableError(f"The IMDB archive was not used: {error}") from None
    splits = {}
    for split in ("train", "test", "unsupervised") if unlabelled else ("train", "test"):
        tensors = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
        texts = np.array([text.decode("utf-8") for text in tensors["text"]], dtype=object)
        splits[split] = Examples(texts, tensors["label"].astype("int64"))
    return splits


def known_archive(path: Path) -> UrlInfo:
    """The pin `path` matches: the official release's or the mirror repack's."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    for info in (OFFICIAL_ARCHIVE_INFO, MIRROR_ARCHIVE_INFO):
        if digest.hexdigest() == info.checksum:
            return info
    raise DatasetUnavailableError(
        f"{path} has sha256 {digest.hexdigest()}, which is neither the official release's "
        f"({OFFICIAL_ARCHIVE_INFO.checksum}) nor the shared mirror repack's "
        f"({MIRROR_ARCHIVE_INFO.checksum}); it was not used"
    )


def read_review_folder(folder: Path) -> Examples:
    """One split of an aclImdb-like folder: `{neg,pos}/*.txt`, one review each."""
    texts, labels = [], []
    for label, name in enumerate(LABELS):
        if not (folder / name).is_dir():
            raise DataFormatError(
                f"{folder}: expected the aclImdb layout, folders neg/ and pos/ "
                "holding one review per .txt file"
            )
        for path in sorted((folder / name).glob("*.txt")):
            texts.append(read_utf8(path).strip())
            labels.append(label)
    return Examples(np.array(texts, dtype=object), np.array(labels, dtype="int64"))


def review_files(path: str | os.PathLike) -> dict[str, Path]:
    """Where each split of your own reviews is, in one of three layouts.

    A CSV/TSV file (`all`: test is carved from it by the caller), a folder
    with `train.csv` and `test.csv` (or `.tsv`), or an aclImdb-like folder
    with `train/` and `test/`.
    """
    path = Path(path)
    if path.is_file():
        return {"all": path}
    if (path / "train").is_dir():
        return {split: path / split for split in ("train", "test")}
    for suffix in (".csv", ".tsv"):
        if (path / f"train{suffix}").is_file() and (path / f"test{suffix}").is_file():
            return {split: path / f"{split}{suffix}" for split in ("train", "test")}
    raise DataFormatError(
        f"{path}: expected a CSV/TSV file, a folder with train.csv and test.csv, "
        "or an aclImdb-like folder with train/ and test/"
    )


def read_reviews(
    path: str | os.PathLike, text_column: str = "text", label_column: str = "label"
) -> dict[str, Examples]:
    """Your own labelled texts (`review_files` names the layouts). A table's
    labels come as written, any number of classes (`data.labels`); an
    aclImdb-like folder's are 0 (neg) and 1 (pos)."""
    return {
        split: read_review_folder(place)
        if place.is_dir()
        else read_labelled_table(place, text_column, label_column)
        for split, place in review_files(path).items()
    }
