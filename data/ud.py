"""UD English EWT, release 2.16, as a tensorflow-datasets builder.

The catalog's `universal_dependencies/en_ewt` pins release 2.10, whose files
differ, so the project has its own builder: tfds's CoNLL-U builder
(`ConllUDatasetBuilder`, its config and dataset info) with three files pinned
by URL, size and sha256 at tag r2.16. Sentences are parsed by `data.conllu`,
which skips multi-word tokens and empty nodes and names the file and line of
anything malformed. EWT's own dev file is the validation split.
"""

import os

import tensorflow_datasets as tfds
from tensorflow_datasets.core.dataset_builders.conll.conllu_dataset_builder import (
    ConllUBuilderConfig,
    ConllUDatasetBuilder,
)
from tensorflow_datasets.core.download.checksums import UrlInfo
from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError

from data.conllu import UPOS, Sentence, read_conllu
from data.errors import DatasetUnavailableError
from data.mirror import RemoteFile, mirror_root, mirrored_file, require_reachable
from data.preparation import prepare_once

RELEASE = "2.16"
REPOSITORY = "https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT"
# split -> (file, size in bytes, sha256) of tag r2.16.
PINS = {
    "train": (
        "en_ewt-ud-train.conllu",
        14_203_025,
        "3fb78e2b55482c8ee00caa653af436c88c9e5bc9a73ce26e4ae3ddc79d2b7e7b",
    ),
    "validation": (
        "en_ewt-ud-dev.conllu",
        1_805_545,
        "531a54ff90d6ab12201c5a50c3e78e6ddac4de69abc4bce5d275d3cd29efe2b6",
    ),
    "test": (
        "en_ewt-ud-test.conllu",
        1_804_515,
        "e266e515a0a7547657ed3d90d9ba46487d6bd251f27ad4269d4e8a427c8555cd",
    ),
}
FILES = {
    split: RemoteFile(f"{REPOSITORY}/r{RELEASE}/{name}", f"UD_English-EWT/{name}")
    for split, (name, _, _) in PINS.items()
}
FEATURES = {
    "idx": tfds.features.Text(),
    "text": tfds.features.Text(),
    "tokens": tfds.features.Sequence(tfds.features.Text()),
    "upos": tfds.features.Sequence(tfds.features.ClassLabel(names=UPOS)),
    "xpos": tfds.features.Sequence(tfds.features.Text()),
}


class UdEnglishEwt(ConllUDatasetBuilder, skip_registration=True):
    """English Web Treebank, UD 2.16: 12,544 / 2,001 / 2,077 sentences."""

    name = "ud_english_ewt"
    VERSION = tfds.core.Version("2.16.0")
    RELEASE_NOTES = {"2.16.0": "UD release 2.16 (tag r2.16)."}
    BUILDER_CONFIGS = [ConllUBuilderConfig(name="en_ewt", features=FEATURES, language="en")]
    url_infos = {
        FILES[split].url: UrlInfo(size=size, checksum=checksum, filename=name)
        for split, (name, size, checksum) in PINS.items()
    }

    def _info(self) -> tfds.core.DatasetInfo:
        return self.create_dataset_info(
            homepage="https://universaldependencies.org/treebanks/en_ewt/"
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        paths = dl_manager.download({split: remote.url for split, remote in FILES.items()})
        return {split: self._generate_examples(path) for split, path in paths.items()}

    def _generate_examples(self, filepaths):
        for index, sentence in enumerate(read_conllu(filepaths)):
            yield (
                index,
                {
                    "idx": sentence.sent_id or str(index),
                    "text": sentence.text or " ".join(sentence.tokens),
                    "tokens": list(sentence.tokens),
                    "upos": list(sentence.upos),
                    "xpos": list(sentence.xpos),
                },
            )


def load_ewt(
    mirror: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None
) -> dict[str, list[Sentence]]:
    """EWT's train, validation (dev) and test sentences, preparing tfds once."""
    builder = UdEnglishEwt(data_dir=data_dir)
    if not builder.is_prepared():
        root = mirror_root(mirror)
        if root is None:
            require_reachable(FILES["train"].url)
            config = tfds.download.DownloadConfig()
        else:
            folder = {mirrored_file(remote, root).parent for remote in FILES.values()}
            config = tfds.download.DownloadConfig(manual_dir=str(folder.pop()))
        try:
            prepare_once(builder, config)
        except NonMatchingChecksumError as error:
            raise DatasetUnavailableError(f"A UD English EWT file was not used: {error}") from None
    upos = builder.info.features["upos"].feature.names
    return {split: _sentences(builder, split, upos) for split in FILES}


def _sentences(builder: UdEnglishEwt, split: str, upos: list[str]) -> list[Sentence]:
    """One split read in one piece: padded columns, cut back to each sentence's length."""
    columns = tfds.as_numpy(builder.as_dataset(split, batch_size=-1))
    lengths = (columns["tokens"] != b"").sum(axis=1)  # a word's FORM is never empty
    return [
        Sentence(
            tokens=tuple(token.decode() for token in columns["tokens"][row, :length]),
            upos=tuple(upos[tag] for tag in columns["upos"][row, :length]),
            xpos=tuple(tag.decode() for tag in columns["xpos"][row, :length]),
            sent_id=columns["idx"][row].decode(),
            text=columns["text"][row].decode(),
        )
        for row, length in enumerate(lengths)
    ]
