"""GMT gene-set files: one set per line, `name<TAB>description<TAB>gene<TAB>gene...`.

Enrichr writes an empty description (`name<TAB><TAB>genes`); both forms read the same. Empty
fields (trailing tabs) are not genes; a gene given twice is kept twice, so that a search reports
it as repeated rather than losing it unsaid. Some of Enrichr's libraries give each gene a weight
(`TP53,1.0`, as its geneSetLibrary text serves them; GSEApy reads the part before the comma): the
gene is read and the weight left, since a gene set's search does not weigh its genes. An entry
whose part after the comma is not a number stays whole, to be reported unknown.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from transform.io.files import is_gzip


class GmtFormatError(ValueError):
    """A GMT file that cannot be read, with the line that broke it."""


@dataclass(frozen=True)
class GeneSet:
    name: str
    description: str
    genes: tuple[str, ...]


def parse_gmt(text: str, *, source: str = "GMT") -> list[GeneSet]:
    sets: list[GeneSet] = []
    seen: set[str] = set()
    text = text.removeprefix("\ufeff")  # a byte-order mark (Windows editors) is not a name
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.rstrip("\r").split("\t")
        if len(fields) < 3:
            raise GmtFormatError(
                f"{source} line {number}: expected name, description and genes separated by tabs"
            )
        name = fields[0].strip()
        if not name:
            raise GmtFormatError(f"{source} line {number}: the gene set has no name")
        if name in seen:
            raise GmtFormatError(f"{source} line {number}: duplicate gene set name {name!r}")
        seen.add(name)
        # repeats kept: a query reports them (query_resolution); a reader that needs a set
        # takes its own
        genes = tuple(_gene(entry) for entry in map(str.strip, fields[2:]) if entry)
        sets.append(GeneSet(name, fields[1].strip(), genes))
    return sets


def _gene(entry: str) -> str:
    """An entry's gene: `TP53,1.0` (Enrichr's weighted form) is TP53; anything else as given."""
    gene, comma, weight = entry.partition(",")
    if not comma:
        return entry
    try:
        float(weight)
    except ValueError:
        return entry
    return gene.strip()


def read_gmt(path: str | Path) -> list[GeneSet]:
    """The gene sets of a GMT file, plain or gzip-compressed."""
    raw = Path(path).read_bytes()
    text = (gzip.decompress(raw) if is_gzip(path) else raw).decode("utf-8")
    return parse_gmt(text, source=str(path))


def format_gmt(sets: Iterable[GeneSet]) -> str:
    lines = []
    for gene_set in sets:
        for text in (gene_set.name, gene_set.description, *gene_set.genes):
            if "\t" in text or "\n" in text:
                raise GmtFormatError(f"gene set {gene_set.name!r}: {text!r} holds a tab or newline")
        lines.append("\t".join([gene_set.name, gene_set.description, *gene_set.genes]))
    return "\n".join(lines) + "\n" if lines else ""


def write_gmt(path: str | Path, sets: Iterable[GeneSet]) -> None:
    Path(path).write_text(format_gmt(sets), encoding="utf-8")
