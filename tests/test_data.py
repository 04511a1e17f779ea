"""Data layer: the IMDB builder on a generated archive, mirrors, offline
failures, bring-your-own files, seeded splits and bucketing."""

import hashlib
import io
import tarfile

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_datasets.core.download.checksums import UrlInfo

from data import imdb
from data.errors import DataFormatError, DatasetUnavailableError
from data.imdb import load_imdb, read_reviews
from data.labels import BINARY, class_ids, class_names
from data.mirror import MIRROR_ENV
from data.pipeline import Examples, bucketed_batches, carve

REVIEWS = {
    "aclImdb/train/pos/0_9.txt": "A joy.<br /><br />Loved it.",
    "aclImdb/train/pos/1_8.txt": "Great cast, great script.",
    "aclImdb/train/neg/2_1.txt": "Dull and far too long.",
    "aclImdb/test/pos/3_10.txt": "Wonderful — a film for everyone.",
    "aclImdb/test/neg/4_2.txt": "I want those two hours back.",
    "aclImdb/train/unsup/5_0.txt": "No label here.",
}


def write_archive(mirror, reviews=REVIEWS):
    """An aclImdb_v1.tar.gz with the upstream member layout, in `mirror`."""
    path = mirror / "aclImdb" / "aclImdb_v1.tar.gz"
    path.parent.mkdir(parents=True)
    with tarfile.open(path, "w:gz") as archive:
        for name, text in reviews.items():
            data = text.encode("utf-8")
            member = tarfile.TarInfo(name)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return path


def pin(monkeypatch, archive):
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    info = UrlInfo(size=archive.stat().st_size, checksum=digest, filename=archive.name)
    monkeypatch.setattr(imdb, "MIRROR_ARCHIVE_INFO", info)


def test_generated_archive_is_prepared_and_parsed(tmp_path, monkeypatch):
    """The builder reads a mirror's archive into labelled train/test splits."""
    pin(monkeypatch, write_archive(tmp_path / "mirror"))
    splits = load_imdb(mirror=tmp_path / "mirror", data_dir=tmp_path / "tfds")
    train = dict(zip(splits["train"].inputs, splits["train"].targets, strict=True))
    assert train == {
        "A joy.<br /><br />Loved it.": 1,
        "Great cast, great script.": 1,
        "Dull and far too long.": 0,
    }
    test = dict(zip(splits["test"].inputs, splits["test"].targets, strict=True))
    assert test == {"Wonderful — a film for everyone.": 1, "I want those two hours back.": 0}


def test_mirror_archive_matching_neither_pin_is_rejected(tmp_path):
    """An archive that is neither the official release nor the repack is not used."""
    archive = write_archive(tmp_path / "mirror")
    with pytest.raises(DatasetUnavailableError, match=f"{archive}.*neither the official"):
        load_imdb(mirror=tmp_path / "mirror", data_dir=tmp_path / "tfds")
    assert not (tmp_path / "tfds" / "imdb_reviews" / "plain_text" / "1.0.0").exists()


def test_tfds_verifies_the_archive_against_the_matched_pin(tmp_path, monkeypatch):
    """Should the file change after it was identified, tfds's own check refuses it."""
    archive = write_archive(tmp_path / "mirror")
    pin(monkeypatch, archive)
    identify = imdb.known_archive

    def identify_then_change(path):
        info = identify(path)
        archive.write_bytes(archive.read_bytes() + b"tampered")
        return info

    monkeypatch.setattr(imdb, "known_archive", identify_then_change)
    with pytest.raises(DatasetUnavailableError, match="wrong checksum"):
        load_imdb(mirror=tmp_path / "mirror", data_dir=tmp_path / "tfds")


def test_mirror_without_the_file_names_the_missing_path(tmp_path):
    (tmp_path / "mirror").mkdir()
    with pytest.raises(DatasetUnavailableError, match="aclImdb/aclImdb_v1.tar.gz"):
        load_imdb(mirror=tmp_path / "mirror", data_dir=tmp_path / "tfds")


def test_offline_without_mirror_fails_before_any_download(tmp_path, offline):
    """No network and no mirror: our probe fails; tfds's retrying download never starts."""
    with pytest.raises(DatasetUnavailableError) as error:
        load_imdb(mirror=None, data_dir=tmp_path / "tfds")
    assert imdb.ARCHIVE.url in str(error.value)
    assert "--data-mirror" in str(error.value) and MIRROR_ENV in str(error.value)


def test_csv_rows_become_examples(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('text,label\n"Loved it, truly.",pos\n"Two\nlines",0\nMeh, Negative \n')
    (examples,) = read_reviews(path).values()
    assert examples.inputs.tolist() == ["Loved it, truly.", "Two\nlines", "Meh"]
    assert examples.targets.tolist() == ["pos", "0", "Negative"]
    assert class_ids(examples.targets, BINARY, "reviews.csv").tolist() == [1, 0, 0]


def test_named_columns_of_a_tsv_are_read(tmp_path):
    """GLUE's copy of SST-2 names its columns `sentence` and `label`."""
    path = tmp_path / "sst.tsv"
    path.write_text("sentence\tlabel\nhide new secretions\t0\nwarm , funny\t1\n")
    (examples,) = read_reviews(path, text_column="sentence").values()
    assert examples.inputs.tolist() == ["hide new secretions", "warm , funny"]
    assert examples.targets.tolist() == ["0", "1"]


def test_a_review_of_several_megabytes_in_one_cell_is_read_whole(tmp_path):
    """Beyond the csv module's default limit of 131,072 characters a field."""
    review = "a long review " * 300_000
    path = tmp_path / "long.csv"
    path.write_text(f'text,label\n"{review}",pos\nshort,neg\n')
    (examples,) = read_reviews(path).values()
    assert examples.inputs.tolist() == [review, "short"]


@pytest.mark.parametrize(
    ("labels", "classes"),
    [
        ([0, 1, 1], BINARY),
        (["neg", "Positive", "1"], BINARY),
        (["7", "10", "1", "2", "10"], ("1", "2", "7", "10")),
        (["-1", "0", "1"], ("-1", "0", "1")),
        (["world", "Sports", "business"], ("business", "Sports", "world")),
        (["0", "1", "2"], ("0", "1", "2")),
    ],
)
def test_classes_are_named_by_the_training_labels_in_a_sensible_order(labels, classes):
    """Numbers in numeric order, names alphabetically; IMDB's spellings of its
    two classes stay negative and positive."""
    assert class_names(np.array(labels, dtype=object), "train.csv") == classes


def test_a_label_never_seen_in_training_is_named_with_its_file():
    labels = np.array(["b", "z", "a", "y"], dtype=object)
    with pytest.raises(DataFormatError, match=r"test\.csv: labels 'y', 'z' never seen in training"):
        class_ids(labels, ("a", "b"), "test.csv")


def test_a_label_as_rare_as_a_typo_is_pointed_out(capsys):
    """A class with under 1 % of the largest class's examples looks like a
    misspelling; the user is told, with the class it resembles, and it trains."""
    labels = np.array(["positive"] * 150 + ["negative"] * 140 + ["postive"], dtype=object)
    assert class_names(labels, "reviews.csv") == ("negative", "positive", "postive")
    assert capsys.readouterr().err == (
        "reviews.csv: class 'postive' has only 1 training example (the largest has 150); "
        "a misspelling of 'positive'? It trains as a class of its own.\n"
    )
    class_names(np.array(["a"] * 300 + ["b"] * 2, dtype=object), "topics.csv")
    assert "class 'b' has only 2" in capsys.readouterr().err
    class_names(np.array(["a"] * 150 + ["b"] * 2 + ["c"] * 148, dtype=object), "fine.csv")
    class_names(np.array(["a"] * 100 + ["b"] * 1, dtype=object), "edge.csv")
    assert capsys.readouterr().err == ""


def test_one_class_is_not_a_classifier():
    with pytest.raises(DataFormatError, match=r"train\.csv: .* one class only \(positive\)"):
        class_names(np.array(["1", "pos"], dtype=object), "train.csv")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("text,label\ngood,1\nbad,0,extra\n", r"bad\.csv, line 3: expected 2 fields"),
        ('text,label\ngood,1\n"multi\nline",1\nbad, \n', r"bad\.csv, line 5: empty label"),
        (
            "review,score\ngood,1\n",
            r"bad\.csv, line 1: no column 'text' \(--text-column\); "
            r"the header names \['review', 'score'\]",
        ),
        ("text,label\n", r"bad\.csv: no examples"),
    ],
)
def test_malformed_csv_names_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataFormatError, match=message):
        read_reviews(path)


def test_non_utf8_file_names_the_line(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_bytes(b"text\tlabel\ngood\t1\n\xff\xfe\t0\n")
    with pytest.raises(DataFormatError, match=r"bad\.tsv, line 3: not UTF-8"):
        read_reviews(path)


def test_aclimdb_like_folder_is_read(tmp_path):
    for name, text in REVIEWS.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    splits = read_reviews(tmp_path / "aclImdb")
    assert len(splits["train"]) == 3 and len(splits["test"]) == 2


def test_carve_is_seeded_and_disjoint():
    examples = Examples(np.arange(100), np.arange(100) % 2)
    kept, held = carve(examples, 0.1, seed=7)
    again, _ = carve(examples, 0.1, seed=7)
    assert len(held) == 10 and len(kept) == 90
    assert sorted([*kept.inputs, *held.inputs]) == list(range(100))
    np.testing.assert_array_equal(kept.inputs, again.inputs)


def test_buckets_pad_per_batch_never_truncate_and_order_by_seed():
    """Each epoch's seed fixes its order: the same seed, the same batches
    (a resumed epoch); another seed, another order."""
    lengths = np.random.default_rng(0).integers(1, 3000, size=200)
    sequences = tf.ragged.constant([[1] * int(n) for n in lengths])
    dataset = tf.data.Dataset.from_tensor_slices((sequences, tf.range(200))).map(
        lambda sequence, index: (sequence, index)
    )

    def order(seed):
        batches = bucketed_batches(
            dataset, lambda sequence, _: tf.shape(sequence)[0], 8, training=True, seed=seed
        )
        return list(batches.as_numpy_iterator())

    first = order(seed=0)
    seen = np.concatenate([index for _, index in first])
    assert sorted(seen.tolist()) == list(range(200))
    for padded, index in first:
        assert padded.shape[1] == lengths[index].max()
        assert padded.sum() == lengths[index].sum()
    np.testing.assert_array_equal(seen, np.concatenate([index for _, index in order(seed=0)]))
    assert not np.array_equal(seen, np.concatenate([index for _, index in order(seed=1)]))
