"""What command lines need of the datasets, importable without TensorFlow:
the names of their variants.

Command lines offer them as choices, so `--help` answers at once.
"""

ETT_SERIES = ("etth1", "ettm1")
TAGSETS = ("upos", "xpos")
MULTI30K_LANGUAGES = ("en", "de", "fr", "cs")
MIDI_SUFFIXES = (".mid", ".midi")
BAD_MIDI_CHOICES = ("skip", "error")
MEMORY_PROBLEMS = ("adding", "copy")
