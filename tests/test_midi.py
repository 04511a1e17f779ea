"""Piano rolls and MIDI: round trips, quantisation, real files, bad files, chords."""

from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import scipy.io.wavfile
from helpers import run_script

from data.errors import DataFormatError
from data.midi import (
    KEYS,
    LOWEST_PITCH,
    parse_chord,
    pitch_names,
    read_midi,
    read_midi_folder,
    roll_to_midi,
    write_midi,
    write_piece,
)

GOLDBERG = "midi-goldberg-mutopia"


def random_roll(frames=40, seed=0):
    """Notes of 1-4 frames with rests between them, on a few keys: no key has
    two notes back to back, the one thing a roll cannot tell apart."""
    rng = np.random.default_rng(seed)
    roll = np.zeros((frames, KEYS), dtype=np.uint8)
    for key in rng.choice(KEYS, size=6, replace=False):
        start = int(rng.integers(0, 3))
        while start < frames:
            length = int(rng.integers(1, 5))
            roll[start : start + length, key] = 1
            start += length + int(rng.integers(1, 4))
    return roll


@pytest.mark.parametrize("frames_per_beat", [1, 2, 4, 3])
def test_roll_midi_roll_round_trip_keeps_pitches_onsets_and_durations(tmp_path, frames_per_beat):
    """Every note survives a write and a read at the chosen resolution."""
    roll = random_roll(seed=frames_per_beat)
    write_midi(roll_to_midi(roll, frames_per_beat, tempo=97.0), tmp_path / "piece.mid")
    back = read_midi(tmp_path / "piece.mid", frames_per_beat)
    np.testing.assert_array_equal(back, roll[: len(back)])
    assert not roll[len(back) :].any(), "only trailing silence may be lost"


def test_written_notes_sit_on_the_frame_grid(tmp_path):
    """A chord held 4 frames (2 beats) at 120 bpm, 2 frames per beat, sounds 0.25-1.25 s."""
    roll = np.zeros((6, KEYS), dtype=np.uint8)
    roll[1:5, [60 - LOWEST_PITCH, 64 - LOWEST_PITCH]] = 1
    write_midi(roll_to_midi(roll, frames_per_beat=2, tempo=120.0), tmp_path / "chord.mid")
    notes = pretty_midi.PrettyMIDI(str(tmp_path / "chord.mid")).instruments[0].notes
    assert sorted((note.pitch, note.start, note.end) for note in notes) == [
        (60, 0.25, 1.25),
        (64, 0.25, 1.25),
    ]


def test_quantisation_follows_ticks_not_seconds(tmp_path):
    """Off-grid notes in a file with its own PPQ and tempo snap to the nearest frame."""
    midi = pretty_midi.PrettyMIDI(resolution=384, initial_tempo=73.0)
    piano = pretty_midi.Instrument(program=0)
    beat = 60.0 / 73.0
    piano.notes.append(pretty_midi.Note(90, 62, 1.02 * beat, 1.49 * beat))  # ~beat 1 to 1.5
    piano.notes.append(pretty_midi.Note(90, 69, 2.0 * beat, 2.1 * beat))  # shorter than a frame
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes.append(pretty_midi.Note(90, 38, 0.0, beat))
    midi.instruments += [piano, drums]
    midi.write(str(tmp_path / "loose.mid"))
    roll = read_midi(tmp_path / "loose.mid", frames_per_beat=2)
    assert [pitch_names(frame) for frame in roll] == [[], [], ["D4"], [], ["A4"]]


def test_real_midi_folder_reads_every_file(mirror):
    """The 30 Goldberg variations parse, in order, with notes in every piece."""
    folder = read_midi_folder(Path(mirror) / GOLDBERG, frames_per_beat=4)
    assert len(folder.rolls) == 30 and not folder.skipped
    assert folder.names[0] == "bwv-988-v01.mid" and folder.names[-1] == "bwv-988-v30.mid"
    assert all(roll.shape[1] == KEYS and roll.sum() > 100 for roll in folder.rolls)


def test_corrupt_midi_is_named_and_skipped_or_rejected(tmp_path, mirror, capsys):
    """A broken file never stops the reading halfway: it is reported by name."""
    source = Path(mirror) / GOLDBERG
    for name in ("bwv-988-v01.mid", "bwv-988-v02.mid"):
        (tmp_path / name).write_bytes((source / name).read_bytes())
    (tmp_path / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    skipped = read_midi_folder(tmp_path, 1, bad_midi="skip")
    assert len(skipped.rolls) == 2 and "broken.mid" in skipped.skipped[0]
    assert "broken.mid" in capsys.readouterr().err
    with pytest.raises(DataFormatError, match=r"1 of 3 MIDI files .*broken\.mid"):
        read_midi_folder(tmp_path, 1, bad_midi="error")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no MIDI files"),
        ({"notes.txt": b"not music"}, "no MIDI files"),
        ({"only.mid": b"\x00\x01"}, r"1 of 1 .*only\.mid.*not a readable MIDI"),
    ],
)
def test_folder_without_usable_midi_is_a_clear_error(tmp_path, files, message):
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    with pytest.raises(DataFormatError, match=message):
        read_midi_folder(tmp_path, 1)


def test_empty_folder_on_the_command_line_is_one_clear_line(tmp_path):
    result = run_script(
        "train.py", "music", "--run-dir", str(tmp_path / "run"), "--dataset", str(tmp_path)
    )
    assert result.returncode != 0
    assert "no MIDI files" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("text", "pitches"),
    [("C4 E4 G4", [60, 64, 67]), ("60, 64,67", [60, 64, 67]), ("F#3 Bb3", [54, 58]), ("rest", [])],
)
def test_chords_are_parsed_from_names_or_numbers(text, pitches):
    frame = parse_chord(text)
    assert (np.flatnonzero(frame) + LOWEST_PITCH).tolist() == pitches


@pytest.mark.parametrize(
    ("text", "message"), [("C4 H4", "'H4' is neither"), ("C9", "outside the piano")]
)
def test_bad_chords_say_which_note(text, message):
    with pytest.raises(ValueError, match=message):
        parse_chord(text)


def test_a_piece_is_written_as_midi_png_and_wav(tmp_path):
    """Four quarter-note frames at 120 bpm: a 2-second piece (pretty_midi's
    synthesiser adds a second of release), a PNG, the same roll back from the MIDI."""
    roll = np.stack([parse_chord(chord) for chord in ("C4 E4 G4", "C4 F4 A4", "B3 D4 G4", "C4")])
    paths = write_piece(roll, tmp_path / "out" / "piece.mid", 1, tempo=120.0, wav=True)
    assert sorted(paths) == ["midi", "png", "wav"]
    np.testing.assert_array_equal(read_midi(paths["midi"], 1), roll)
    rate, wave = scipy.io.wavfile.read(paths["wav"])
    assert wave.dtype == np.int16 and 2.0 <= len(wave) / rate <= 3.05
    assert Path(paths["png"]).read_bytes()[:4] == b"\x89PNG"
