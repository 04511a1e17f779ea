"""Translation data: Multi30k from the mirror, your own parallel files with
clear errors, and subword vocabularies that round-trip text in the graph."""

import gzip
import random

import pytest
import tensorflow as tf

from data import multi30k
from data.errors import DataFormatError, DatasetUnavailableError
from data.mirror import MIRROR_ENV
from data.parallel import read_parallel
from data.subwords import END, Subwords, learn_subwords


@pytest.fixture(scope="module")
def multi30k_en_de(mirror, tfds_dir):
    return multi30k.load_multi30k("en", "de", mirror, tfds_dir)


def test_multi30k_has_the_standard_splits_in_upstream_order(multi30k_en_de):
    sizes = {split: len(examples) for split, examples in multi30k_en_de.items()}
    assert sizes == {"train": 29_000, "validation": 1_014, "test": 1_000}
    train = multi30k_en_de["train"]
    assert train.inputs[0] == "Two young, White males are outside near many bushes."
    assert train.targets[0] == "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche."


def test_multi30k_reversed_pair_reads_the_same_config(mirror, tfds_dir, multi30k_en_de):
    """German -> English swaps the sides of the same prepared en-de data."""
    test = multi30k.load_multi30k("de", "en", mirror, tfds_dir)["test"]
    assert test.inputs.tolist() == multi30k_en_de["test"].targets.tolist()


def test_unknown_language_pair_is_refused():
    with pytest.raises(ValueError, match="not 'xx'"):
        multi30k.pair_name("en", "xx")
    with pytest.raises(ValueError, match="both 'en'"):
        multi30k.pair_name("en", "en")


def test_mirror_without_the_files_names_path_and_url(tmp_path):
    (tmp_path / "mirror").mkdir()
    with pytest.raises(
        DatasetUnavailableError, match="multi30k/data/task1/raw/train.en.gz"
    ) as error:
        multi30k.load_multi30k("en", "de", tmp_path / "mirror", tmp_path / "tfds")
    assert multi30k.BASE_URL in str(error.value)


def test_offline_without_mirror_fails_fast_naming_url_and_mirror_option(tmp_path, offline):
    with pytest.raises(DatasetUnavailableError) as error:
        multi30k.load_multi30k("en", "de", None, tmp_path / "tfds")
    assert f"{multi30k.BASE_URL}/train.en.gz" in str(error.value)
    assert "--data-mirror" in str(error.value) and MIRROR_ENV in str(error.value)


def write(path, lines):
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def test_aligned_files_per_split_are_read(tmp_path):
    """train.fr/train.it (+ dev, test): any language pair, named by suffix."""
    for split, count in (("train", 4), ("dev", 2), ("test", 2)):
        write(tmp_path / f"{split}.fr", [f"bonjour {i}" for i in range(count)])
        write(tmp_path / f"{split}.it", [f"ciao {i}" for i in range(count)])
    splits = read_parallel(tmp_path, "fr", "it")
    assert {name: len(split) for name, split in splits.items()} == {
        "train": 4,
        "validation": 2,
        "test": 2,
    }
    assert splits["train"].inputs[3] == "bonjour 3" and splits["train"].targets[3] == "ciao 3"


def test_one_tsv_file_holds_all_pairs(tmp_path):
    path = write(tmp_path / "pairs.tsv", ["a cat\teine Katze", "a dog\tein Hund"])
    (pairs,) = read_parallel(path, "en", "de").values()
    assert pairs.inputs.tolist() == ["a cat", "a dog"]
    assert pairs.targets.tolist() == ["eine Katze", "ein Hund"]


@pytest.mark.parametrize(
    ("english", "german", "message"),
    [
        (["a", "b", "c"], ["x", "y"], "train.en has 3 lines but .*train.de has 2"),
        (["a", "", "c"], ["x", "y", "z"], r"train.en, line 2: empty sentence"),
        (["a", "b"], ["x", "  "], r"train.de, line 2: empty sentence"),
    ],
)
def test_misaligned_files_and_empty_lines_are_clear_errors(tmp_path, english, german, message):
    write(tmp_path / "train.en", english)
    write(tmp_path / "train.de", german)
    with pytest.raises(DataFormatError, match=message):
        read_parallel(tmp_path, "en", "de")


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["a\tx", "b x"], "pairs.tsv, line 2: expected 2 tab-separated fields"),
        (["a\tx", "\ty"], "pairs.tsv, line 2: empty source sentence"),
    ],
)
def test_malformed_tsv_names_file_and_line(tmp_path, lines, message):
    with pytest.raises(DataFormatError, match=message):
        read_parallel(write(tmp_path / "pairs.tsv", lines), "en", "de")


def test_a_file_without_its_partner_is_named(tmp_path):
    write(tmp_path / "train.en", ["a"])
    with pytest.raises(DataFormatError, match="train.en has no partner"):
        read_parallel(tmp_path, "en", "de")


def test_gzipped_files_are_read_like_plain_ones(tmp_path):
    write(tmp_path / "train.en", ["a cat", "a dog early"])
    (tmp_path / "train.de.gz").write_bytes(gzip.compress("eine Katze\nein Hund früh\n".encode()))
    (pairs,) = read_parallel(tmp_path, "en", "de").values()
    assert pairs.targets.tolist() == ["eine Katze", "ein Hund früh"]


def gzipped_sentences(count: int) -> bytes:
    return gzip.compress("".join(f"ein Satz {i}\n" for i in range(count)).encode())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (random.Random(0).randbytes(64), r"train\.de\.gz: not a gzip file"),
        (
            gzipped_sentences(50_000)[:40_000],
            r"train\.de\.gz: the gzip stream ends early \(truncated\?\) after line \d{2},\d{3}",
        ),
        (gzipped_sentences(3)[:-8] + bytes(8), r"train\.de\.gz: damaged gzip data after line 3"),
        (gzip.compress(b"gut\nnicht \xff gut\n"), r"train\.de\.gz, line 2: not UTF-8"),
    ],
    ids=["random-bytes", "truncated", "bad-checksum", "bad-utf8"],
)
def test_broken_gzip_files_name_the_file_not_a_traceback(tmp_path, content, message):
    """Random bytes, a download cut short, a damaged stream and bad UTF-8
    inside a `.gz` each say which file and how far it could be read."""
    write(tmp_path / "train.en", ["a"] * 50_000)
    (tmp_path / "train.de.gz").write_bytes(content)
    with pytest.raises(DataFormatError, match=message):
        read_parallel(tmp_path, "en", "de")


def test_subwords_round_trip_cased_text_inside_the_graph():
    """Detokenizing the tokens gives the text back, case and spacing included;
    everything after END is ignored; unseen characters do not fail."""
    texts = [f"A dog runs after {count} red Balls, quickly." for count in range(50)]
    subwords = Subwords(learn_subwords(texts, 60))
    ids = subwords.tokenize(tf.constant(texts[:3])).to_tensor()
    assert subwords.detokenize(ids).numpy().tolist() == [t.encode() for t in texts[:3]]
    closed = tf.concat([ids, tf.fill([3, 1], END), ids], axis=1)
    assert subwords.detokenize(closed).numpy().tolist() == [t.encode() for t in texts[:3]]
    unseen = subwords.tokenize(tf.constant(["Ж 😡", ""]))
    assert unseen.shape[0] == 2


def test_two_vocabularies_stay_apart_in_a_reloaded_saved_model(tmp_path):
    """A source and a target vocabulary in one export keep their own models."""
    english = Subwords(learn_subwords([f"a cat and a dog {i}" for i in range(40)], 30))
    german = Subwords(learn_subwords([f"eine Katze und ein Hund {i}" for i in range(40)], 40))
    module = tf.Module()
    module.english, module.german = english, german
    module.ids = tf.function(
        lambda texts: (english.tokenize(texts).to_tensor(), german.tokenize(texts).to_tensor()),
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    expected = module.ids(tf.constant(["eine Katze"]))
    tf.saved_model.save(module, str(tmp_path / "export"))
    reloaded = tf.saved_model.load(str(tmp_path / "export")).ids(tf.constant(["eine Katze"]))
    for before, after in zip(expected, reloaded, strict=True):
        assert before.numpy().tolist() == after.numpy().tolist()
    assert expected[0].numpy().tolist() != expected[1].numpy().tolist()
