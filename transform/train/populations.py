"""Which RNA-seq samples come from the cell lines that the L1000 profiles were measured on.

The CycleGAN learns a map between two unpaired collections by making the mapped L1000 profiles
look like the RNA-seq ones. That is only the right map when both collections hold the same kind of
samples: L1000 Level 3 profiles are cell lines, an ARCHS4-like collection is mostly tissues, so a
map that turns cell lines into tissue-like profiles wins the game (docs/training.md). The
`l1000_cell_lines` choice of step 1 keeps the RNA-seq samples whose description (GEO source name
and characteristics) names a cell line of the drawn L1000 profiles.

Names are compared as tokens, ignoring case and punctuation inside a token: "MCF-7 cells" and
"cell line: mcf7" both name MCF7. Cell ids shorter than 3 characters are never matched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

SEPARATORS = re.compile(r"[\s,;:()\[\]/|=]+")
MIN_NAME = 3


def _key(text: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", text.upper())


def named_cell_lines(descriptions: Sequence[str], cell_lines: Iterable[str]) -> list[str]:
    """For each description, the first cell line (as spelled in `cell_lines`) it names, or ""."""
    wanted = {_key(c): c for c in sorted(set(cell_lines)) if len(_key(c)) >= MIN_NAME}
    found = []
    for text in descriptions:
        tokens = (_key(token) for token in SEPARATORS.split(str(text)))
        found.append(next((wanted[t] for t in tokens if t in wanted), ""))
    return found


def l1000_cell_lines(cells: Iterable[str]) -> list[str]:
    """The distinct cell ids of L1000 profiles, sorted ('-666' and empty ids left out)."""
    return sorted({c for c in cells if c and c not in ("-666", "nan", "None")})
