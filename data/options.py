"""What command lines need of the datasets, importable without TensorFlow:
the names of their variants.

Command lines offer them as choices, so `--help` answers at once.
"""

ETT_SERIES = ("etth1", "ettm1", "etth2", "ettm2")
# How a --dataset series is split in time: 70/10/20%, or the ETT papers'
# 12/4/4 months of hourly or 15-minute rows (data.series.ETT_STEPS).
SERIES_SPLITS = ("ratio", "ett-hourly", "ett-minute")
# What a --dataset series row dated as the row above it is: an error, or a row.
REPEATED_TIMES = ("error", "keep")
TAGSETS = ("upos", "xpos")
MULTI30K_LANGUAGES = ("en", "de", "fr", "cs")
MIDI_SUFFIXES = (".mid", ".midi")
BAD_MIDI_CHOICES = ("skip", "error")
MUSIC_CORPORA = ("jsb", "nottingham", "musedata", "piano_midi")
MEMORY_PROBLEMS = ("adding", "copy")
