"""The errors of the file readers and writers: a bad file, or a request for ids it does not hold."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SHOWN_IDS = 10
SHOWN_IN_VALUES = 5  # profiles and genes named when values are refused


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


class NonFiniteValuesError(FileFormatError):
    """A matrix holding NaN or infinite values, which would spread through every computation."""


class UnknownIdError(ValueError):
    """Requested row or column ids (or positions) that the file does not hold."""


def name_some(items: Sequence[object], limit: int = SHOWN_IDS) -> str:
    """`'a', 'b', 'c'` for the first `limit` items, then how many more there are."""
    shown = ", ".join(repr(item) for item in items[:limit])
    if len(items) > limit:
        shown += f" and {len(items) - limit} more"
    return shown


def refuse_non_finite(
    values: np.ndarray, source: object, genes: Sequence[object], profiles: Sequence[object]
) -> None:
    """Refuse values (genes x profiles, labelled by `genes` and `profiles`) holding NaN or
    infinity, naming how many, in which profiles and which genes (the first few of each)."""
    finite = np.isfinite(values)
    if finite.all():
        return
    bad = ~finite
    n_bad, n_nan = int(bad.sum()), int(np.isnan(values).sum())
    named_profiles = [profiles[i] for i in np.flatnonzero(bad.any(axis=0)).tolist()]
    named_genes = [genes[i] for i in np.flatnonzero(bad.any(axis=1)).tolist()]
    raise NonFiniteValuesError(
        f"{source}: non-finite values (NaN {n_nan:,}, infinite {n_bad - n_nan:,}) in "
        f"{len(named_profiles):,} profile(s) ({name_some(named_profiles, SHOWN_IN_VALUES)}) and "
        f"{len(named_genes):,} gene(s) ({name_some(named_genes, SHOWN_IN_VALUES)}); every value "
        "of a profile must be a number: repair those profiles or leave them out"
    )
