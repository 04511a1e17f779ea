"""Errors about the user's data, reported on the command line without a traceback."""


class DatasetUnavailableError(RuntimeError):
    """A dataset can be neither read from the mirror nor downloaded."""


class DataFormatError(ValueError):
    """A data file is malformed; the message names the file and line."""


class RunMismatchError(ValueError):
    """Another run named on the command line (say `--pretrained`) does not
    fit this one's settings; the message names the settings."""


# What the command lines report as one line, not a traceback: problems with
# the user's data, or with a run directory (finished, foreign or missing).
USER_ERRORS = (
    DatasetUnavailableError,
    DataFormatError,
    RunMismatchError,
    FileExistsError,
    FileNotFoundError,
)
