"""Plain-text documents: your own, and IMDB's unlabelled reviews."""

import pytest

from data.documents import read_documents
from data.errors import DataFormatError
from data.imdb import load_imdb


def test_a_folder_holds_one_document_per_file_in_name_order(tmp_path):
    (tmp_path / "b.txt").write_text("Second one.\n\nStill the second.\n")
    (tmp_path / "a.txt").write_text("First document.")
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "notes.md").write_text("not read")
    assert read_documents(tmp_path).tolist() == [
        "First document.",
        "Second one.\n\nStill the second.",
    ]


def test_a_file_holds_documents_separated_by_blank_lines(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("One line.\nAnd its next.\n\n\n  \nAnother document.\n")
    assert read_documents(path).tolist() == ["One line.\nAnd its next.", "Another document."]


def test_bytes_that_are_not_utf8_are_named_by_file_and_line(tmp_path):
    (tmp_path / "good.txt").write_text("fine\n")
    (tmp_path / "latin1.txt").write_bytes("first line\nna\xefve second\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match=r"latin1\.txt, line 2: not UTF-8"):
        read_documents(tmp_path)


@pytest.mark.parametrize("name", ["corpus.csv", "missing-folder"])
def test_anything_else_is_refused_saying_what_is_expected(tmp_path, name):
    path = tmp_path / name
    if path.suffix:
        path.write_text("text")
    with pytest.raises(DataFormatError, match=r"\.txt file or a folder"):
        read_documents(path)


def test_an_empty_folder_is_refused(tmp_path):
    with pytest.raises(DataFormatError, match="found none"):
        read_documents(tmp_path)


def test_imdb_offers_its_50000_unlabelled_reviews(mirror, tfds_dir):
    splits = load_imdb(mirror, tfds_dir, unlabelled=True)
    assert len(splits["unsupervised"]) == 50_000 and set(splits["unsupervised"].targets) == {-1}
    assert len(splits["train"]) == len(splits["test"]) == 25_000
