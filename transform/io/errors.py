"""The errors of the file readers and writers: a bad file, or a request for ids it does not hold."""

from __future__ import annotations

from collections.abc import Sequence

SHOWN_IDS = 10


class FileFormatError(ValueError):
    """A file that cannot be read as its format, with a message that names the problem."""


class GctxFormatError(FileFormatError):
    """A GCTX (CMap HDF5) file that breaks the layout or is damaged."""


class GctFormatError(FileFormatError):
    """A GCT 1.2 / 1.3 text file that breaks the format; the message names the line."""


class Archs4FormatError(FileFormatError):
    """An ARCHS4 HDF5 file whose layout or orientation cannot be read safely."""


class LincsTableError(FileFormatError):
    """A LINCS metadata table (inst_info, sig_info, ...) with missing columns or duplicate ids."""


class UnknownIdError(ValueError):
    """Requested row or column ids (or positions) that the file does not hold."""


def name_some(items: Sequence[object], limit: int = SHOWN_IDS) -> str:
    """`'a', 'b', 'c'` for the first `limit` items, then how many more there are."""
    shown = ", ".join(repr(item) for item in items[:limit])
    if len(items) > limit:
        shown += f" and {len(items) - limit} more"
    return shown
