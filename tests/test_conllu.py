"""CoNLL-U: parsing generated files, line-numbered errors, your own treebanks,
and the UD English EWT 2.16 builder on generated and on real files."""

import hashlib

import pytest
from tensorflow_datasets.core.download.checksums import UrlInfo

from data import ud
from data.conllu import as_examples, parse_conllu, read_conllu, read_treebank
from data.errors import DataFormatError, DatasetUnavailableError
from data.mirror import MIRROR_ENV
from data.ud import UdEnglishEwt, load_ewt

# Two sentences: a multi-word token ("don't" = "do" + "n't") and an empty
# node (5.1), which a tagger must skip, and no blank line at the very end.
TREEBANK = (
    "# sent_id = first\n"
    "# text = I don't know, Ann.\n"
    "1\tI\tI\tPRON\tPRP\t_\t4\tnsubj\t_\t_\n"
    "2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_\n"
    "3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_\n"
    "4\tknow\tknow\tVERB\tVB\t_\t0\troot\t_\t_\n"
    "5\t,\t,\tPUNCT\t,\t_\t6\tpunct\t_\t_\n"
    "5.1\tknows\tknow\tVERB\tVBZ\t_\t_\t_\t4:conj\t_\n"
    "6\tAnn\tAnn\tPROPN\tNNP\t_\t4\tvocative\t_\t_\n"
    "7\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_\n"
    "\n"
    "# comment without a key\n"
    "1\tHello\thello\tINTJ\tUH\t_\t0\troot\t_\t_\n"
)


def write(path, text=TREEBANK):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_generated_file_keeps_words_and_skips_multiword_tokens_and_empty_nodes(tmp_path):
    first, second = read_conllu(write(tmp_path / "tiny.conllu"))
    assert first.tokens == ("I", "do", "n't", "know", ",", "Ann", ".")
    assert first.upos == ("PRON", "AUX", "PART", "VERB", "PUNCT", "PROPN", "PUNCT")
    assert first.xpos == ("PRP", "VBP", "RB", "VB", ",", "NNP", ".")
    assert (first.sent_id, first.text) == ("first", "I don't know, Ann.")
    assert second.tokens == ("Hello",) and second.upos == ("INTJ",)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("2\tworld\tworld\tNOUN\tNN\t_\t1", r"line 5: expected 10 tab-separated fields .*got 7"),
        ("two\tworld\tworld\tNOUN\tNN\t_\t1\tobj\t_\t_", r"line 5: ID 'two' is neither"),
        ("3\tworld\tworld\tNOUN\tNN\t_\t1\tobj\t_\t_", r"line 5: word ID 3 out of order"),
        ("2\tworld\tworld\tNOUNS\tNN\t_\t1\tobj\t_\t_", r"line 5: UPOS 'NOUNS' is not one"),
        ("2\t\tworld\tNOUN\tNN\t_\t1\tobj\t_\t_", r"line 5: the FORM field is empty"),
    ],
)
def test_malformed_line_is_reported_with_file_and_line(tmp_path, line, message):
    """The second word of the second sentence, on line 5, is broken."""
    word = "1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n"
    path = write(tmp_path / "bad.conllu", f"# sent_id = s\n{word}\n{word}{line}\n")
    with pytest.raises(DataFormatError, match=r"bad\.conllu, " + message):
        read_conllu(path)


def test_non_utf8_and_empty_files_are_rejected(tmp_path):
    bad = tmp_path / "latin1.conllu"
    bad.write_bytes(b"# ok\n1\tcaf\xe9\tcafe\tNOUN\tNN\t_\t0\troot\t_\t_\n")
    with pytest.raises(DataFormatError, match=r"latin1\.conllu, line 2: not UTF-8"):
        read_conllu(bad)
    with pytest.raises(DataFormatError, match=r"empty\.conllu: no sentences"):
        read_conllu(write(tmp_path / "empty.conllu", "# only a comment\n\n"))


def test_treebank_folder_gives_train_validation_test_and_a_file_gives_all(tmp_path):
    """Any UD treebank folder works; its dev file becomes the validation split."""
    for part in ("train", "dev", "test"):
        write(tmp_path / "UD_Tiny" / f"xx_tiny-ud-{part}.conllu")
    splits = read_treebank(tmp_path / "UD_Tiny")
    assert sorted(splits) == ["test", "train", "validation"]
    assert splits["train"].inputs[1] == ("Hello",) and splits["test"].targets[1] == ("INTJ",)
    single = read_treebank(tmp_path / "UD_Tiny" / "xx_tiny-ud-train.conllu", tagset="xpos")
    assert list(single) == ["all"] and single["all"].targets[0][0] == "PRP"
    (tmp_path / "UD_Tiny" / "xx_tiny-ud-test.conllu").unlink()
    with pytest.raises(DataFormatError, match=r"no \*-ud-test\.conllu"):
        read_treebank(tmp_path / "UD_Tiny")


def test_examples_stay_one_dimensional_for_equal_length_sentences():
    """Numpy would turn equal-length token tuples into a 2-D array; we do not."""
    sentences = list(parse_conllu(["1\ta\ta\tDET\tDT\t_\t0\troot\t_\t_"], "inline"))
    examples = as_examples(sentences * 3, "upos")
    assert examples.inputs.shape == (3,) and examples.inputs[0] == ("a",)


def generated_mirror(root, monkeypatch):
    """A mirror holding generated EWT-named files, pinned by their own checksums."""
    infos = {}
    for remote in ud.FILES.values():
        path = write(root / remote.mirror_path)
        infos[remote.url] = UrlInfo(
            size=path.stat().st_size,
            checksum=hashlib.sha256(path.read_bytes()).hexdigest(),
            filename=path.name,
        )
    monkeypatch.setattr(UdEnglishEwt, "url_infos", infos)
    return root


def test_builder_prepares_generated_files_from_a_mirror(tmp_path, monkeypatch):
    """tfds's CoNLL-U builder with our parser: words only, tags as class names."""
    mirror = generated_mirror(tmp_path / "mirror", monkeypatch)
    splits = load_ewt(mirror, tmp_path / "tfds")
    assert sorted(splits) == ["test", "train", "validation"]
    by_id = {sentence.sent_id: sentence for sentence in splits["validation"]}
    assert by_id["first"].tokens == ("I", "do", "n't", "know", ",", "Ann", ".")
    assert by_id["first"].upos[:3] == ("PRON", "AUX", "PART")
    assert by_id["1"].text == "Hello"


def test_builder_refuses_a_file_that_does_not_match_its_pin(tmp_path, monkeypatch):
    mirror = generated_mirror(tmp_path / "mirror", monkeypatch)
    write(mirror / ud.FILES["test"].mirror_path, TREEBANK + "\n")
    with pytest.raises(DatasetUnavailableError, match="wrong checksum"):
        load_ewt(mirror, tmp_path / "tfds")


def test_offline_without_mirror_fails_fast_naming_url_and_option(tmp_path, offline):
    with pytest.raises(DatasetUnavailableError) as error:
        load_ewt(None, tmp_path / "tfds")
    assert "r2.16/en_ewt-ud-train.conllu" in str(error.value)
    assert "--data-mirror" in str(error.value) and MIRROR_ENV in str(error.value)


def test_real_ewt_has_the_release_sizes(mirror, tfds_dir):
    """UD 2.16 EWT: 12,544 / 2,001 / 2,077 sentences, 204,577 / 25,147 / 25,094 words."""
    splits = load_ewt(mirror, tfds_dir)
    sentences = {split: len(part) for split, part in splits.items()}
    words = {split: sum(len(s.tokens) for s in part) for split, part in splits.items()}
    assert sentences == {"train": 12_544, "validation": 2_001, "test": 2_077}
    assert words == {"train": 204_577, "validation": 25_147, "test": 25_094}
