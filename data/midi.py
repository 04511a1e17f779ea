"""Piano rolls <-> standard MIDI files, and a folder of your own MIDI files.

A piano roll is a `(frames, 88)` binary array; column `k` is MIDI pitch
`21 + k` (A0 .. C8), one frame per `1 / frames_per_beat` of a beat. MIDI is
quantised on the file's own tick grid (its pulses per quarter note), so the
tempo never moves a note to another frame. Like the JSB data, a roll does
not tell a held note from a repeated one: writing MIDI merges consecutive
frames of a pitch into one note.
"""

import os
import sys
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pretty_midi
import scipy.io.wavfile
from matplotlib.figure import Figure
from tqdm import tqdm

from data.errors import DataFormatError
from data.options import MIDI_SUFFIXES

LOWEST_PITCH, KEYS = 21, 88
# Divisible by 1, 2, 3, 4, 6, 8, 12 and 16: every usual grid lands on ticks.
WRITE_RESOLUTION = 480


def frames_from_pitches(piece: list[list[int]]) -> np.ndarray:
    """A roll from per-frame lists of sounding MIDI pitches (the JSB JSON form)."""
    roll = np.zeros((len(piece), KEYS), dtype=np.uint8)
    for index, pitches in enumerate(piece):
        for pitch in pitches:
            if not LOWEST_PITCH <= int(pitch) < LOWEST_PITCH + KEYS:
                raise ValueError(f"frame {index}: pitch {pitch} is outside MIDI 21-108")
            roll[index, int(pitch) - LOWEST_PITCH] = 1
    return roll


def parse_chord(text: str) -> np.ndarray:
    """One frame from pitch names or numbers: "C4 E4 G4", "60 64 67"; "rest" is silence."""
    frame = np.zeros(KEYS, dtype=np.uint8)
    for token in text.replace(",", " ").split():
        if token.lower() in ("rest", "-"):
            continue
        try:
            pitch = int(token) if token.isdigit() else pretty_midi.note_name_to_number(token)
        except ValueError:
            raise ValueError(
                f"{token!r} is neither a pitch name like C4 or F#3 nor a MIDI number"
            ) from None
        if not LOWEST_PITCH <= pitch < LOWEST_PITCH + KEYS:
            raise ValueError(f"{token!r} (MIDI {pitch}) is outside the piano's 21-108 (A0-C8)")
        frame[pitch - LOWEST_PITCH] = 1
    return frame


def pitch_names(frame: np.ndarray) -> list[str]:
    """The sounding pitches of one frame, low to high, as names like "C4"."""
    return [pretty_midi.note_number_to_name(LOWEST_PITCH + int(k)) for k in np.flatnonzero(frame)]


def read_midi(path: str | os.PathLike, frames_per_beat: int) -> np.ndarray:
    """A MIDI file's non-drum notes as a roll, quantised to `frames_per_beat`.

    Notes outside the piano's range are dropped; a note shorter than a frame
    still sounds for one frame.
    """
    try:
        with warnings.catch_warnings():
            # "Tempo ... on non-zero tracks": harmless here, frames come from ticks.
            warnings.simplefilter("ignore", RuntimeWarning)
            midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as error:  # the parsers raise many types on a corrupt file
        raise DataFormatError(f"{path}: not a readable MIDI file ({error})") from None
    ticks_per_frame = midi.resolution / frames_per_beat
    spans = [
        (note.pitch, *(round(midi.time_to_tick(time) / ticks_per_frame) for time in span))
        for instrument in midi.instruments
        if not instrument.is_drum
        for note in instrument.notes
        if LOWEST_PITCH <= note.pitch < LOWEST_PITCH + KEYS
        for span in [(note.start, note.end)]
    ]
    if not spans:
        raise DataFormatError(f"{path}: no notes in the piano range (MIDI 21-108)")
    roll = np.zeros((max(max(end, start + 1) for _, start, end in spans), KEYS), np.uint8)
    for pitch, start, end in spans:
        roll[start : max(end, start + 1), pitch - LOWEST_PITCH] = 1
    return roll


def roll_to_midi(
    roll: np.ndarray, frames_per_beat: int, tempo: float = 100.0, program: int = 0
) -> pretty_midi.PrettyMIDI:
    """A one-instrument MIDI of the roll; runs of a pitch become one note."""
    midi = pretty_midi.PrettyMIDI(resolution=WRITE_RESOLUTION, initial_tempo=tempo)
    instrument = pretty_midi.Instrument(program=program)
    seconds = 60.0 / tempo / frames_per_beat
    padded = np.pad(np.asarray(roll, dtype=np.int8), ((1, 1), (0, 0)))
    changes = np.diff(padded, axis=0)
    for key in range(KEYS):
        starts, ends = np.flatnonzero(changes[:, key] == 1), np.flatnonzero(changes[:, key] == -1)
        for start, end in zip(starts, ends, strict=True):
            instrument.notes.append(
                pretty_midi.Note(80, LOWEST_PITCH + key, start * seconds, end * seconds)
            )
    midi.instruments.append(instrument)
    return midi


def write_midi(midi: pretty_midi.PrettyMIDI, path: Path) -> None:
    """Writes atomically: a crash never leaves half a MIDI file at `path`."""
    staging = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    midi.write(str(staging))
    os.replace(staging, path)


def write_wav(midi: pretty_midi.PrettyMIDI, path: Path, sample_rate: int = 22_050) -> None:
    """Renders with pretty_midi's sine synthesiser (no soundfont needed), 16-bit."""
    wave = midi.synthesize(fs=sample_rate)
    wave = wave / max(np.abs(wave).max(), 1e-9) * 0.8
    staging = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    scipy.io.wavfile.write(staging, sample_rate, (wave * 32767).astype(np.int16))
    os.replace(staging, path)


def plot_roll(
    roll: np.ndarray, path: Path, frames_per_beat: int, title: str = "", primer: int = 0
) -> None:
    """The roll as a picture: time across, pitch up, one row per key; a dashed
    line ends the first `primer` frames (the seed of a generated piece)."""
    figure = Figure(figsize=(max(6.0, len(roll) / 12), 4))
    axis = figure.subplots()
    sounding = np.flatnonzero(np.asarray(roll).any(axis=0))
    low, high = (sounding.min() - 2, sounding.max() + 3) if len(sounding) else (27, 63)
    axis.imshow(
        np.asarray(roll)[:, low:high].T,
        origin="lower",
        aspect="auto",
        cmap="Greys",
        interpolation="nearest",
        extent=(0, len(roll) / frames_per_beat, low - 0.5, high - 0.5),
    )
    octaves = [key for key in range(low, high) if (LOWEST_PITCH + key) % 12 == 0]
    axis.set_yticks(octaves, [pretty_midi.note_number_to_name(LOWEST_PITCH + k) for k in octaves])
    if primer:
        axis.axvline(primer / frames_per_beat, color="tab:red", linestyle="--", label="seed")
        axis.legend(loc="upper right")
    axis.set_xlabel("beat")
    axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def write_piece(
    roll: np.ndarray,
    out: Path,
    frames_per_beat: int,
    tempo: float,
    wav: bool = False,
    primer: int = 0,
) -> dict[str, str]:
    """`out` as MIDI, a piano-roll PNG beside it and, if asked, a WAV; their paths.

    `primer` frames at the start are the seed, marked in the PNG."""
    out.parent.mkdir(parents=True, exist_ok=True)
    midi = roll_to_midi(roll, frames_per_beat, tempo)
    write_midi(midi, out)
    paths = {"midi": str(out), "png": str(out.with_suffix(".png"))}
    plot_roll(roll, out.with_suffix(".png"), frames_per_beat, out.name, primer)
    if wav:
        paths["wav"] = str(out.with_suffix(".wav"))
        write_wav(midi, out.with_suffix(".wav"))
    return paths


class MidiFolder(NamedTuple):
    """The readable files of a folder as rolls, and the skipped ones with reasons."""

    rolls: list[np.ndarray]
    names: list[str]
    skipped: list[str]


def read_midi_folder(
    folder: str | os.PathLike, frames_per_beat: int, bad_midi: str = "skip"
) -> MidiFolder:
    """Every `*.mid` / `*.midi` under `folder`, quantised to `frames_per_beat`.

    All files are read before deciding, so the report names every unreadable
    file at once: `bad_midi="error"` rejects the folder, `"skip"` trains on the
    rest and says on stderr what it left out.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataFormatError(f"{folder}: expected a folder of MIDI files (*.mid, *.midi)")
    paths = sorted(path for path in folder.rglob("*") if path.suffix.lower() in MIDI_SUFFIXES)
    if not paths:
        raise DataFormatError(f"{folder}: no MIDI files (*.mid, *.midi) in this folder")
    rolls, names, skipped = [], [], []
    for path in tqdm(paths, desc="reading MIDI", unit="file", disable=None):
        try:
            rolls.append(read_midi(path, frames_per_beat))
            names.append(str(path.relative_to(folder)))
        except DataFormatError as error:
            skipped.append(str(error))
    if skipped and (bad_midi == "error" or not rolls):
        raise DataFormatError(
            f"{len(skipped)} of {len(paths)} MIDI files in {folder} are unreadable: "
            + "; ".join(skipped)
            + (" (pass --bad-midi skip to train on the rest)" if rolls else "")
        )
    if skipped:
        report = "; ".join(skipped)
        print(f"skipped {len(skipped)} unreadable MIDI files: {report}", file=sys.stderr)
    return MidiFolder(rolls, names, skipped)
