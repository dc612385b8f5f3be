"""Gene records and identifier resolution.

A query identifier is matched case-insensitively, tier by tier: current symbol, Entrez ID, Ensembl
ID, Affymetrix HG-U133A probe set (the ids of CMap's 2006 queries and of L1000's probe rows, such
as `200814_at`), a symbol the L1000 platform used (previous symbol), then any NCBI alias. The first
tier that matches decides: one gene resolves; several genes are reported as ambiguous with their
candidates; no tier matching reports the identifier as unknown. Nothing is dropped or guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

L1000_TYPES = ("landmark", "best inferred", "inferred", "not inferred")
# NCBI gene_type of phenotype loci ("HBD: hypophosphatemic bone disease") that share a symbol with
# a real gene; a symbol match prefers the real gene over these.
PHENOTYPE_GENE_TYPE = "unknown"

_ENSEMBL = re.compile(r"^ENSG\d{11}(\.\d+)?$", re.IGNORECASE)


class MatchKind(StrEnum):
    SYMBOL = "symbol"
    ENTREZ_ID = "entrez_id"
    ENSEMBL_ID = "ensembl_id"
    PROBE_ID = "probe_id"
    PREVIOUS_SYMBOL = "previous_symbol"
    ALIAS = "alias"


class ResolutionStatus(StrEnum):
    RESOLVED = "resolved"
    AMBIGUOUS = "ambiguous"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class GeneRecord:
    entrez_id: int
    symbol: str
    name: str = ""
    gene_type: str = ""
    chromosome: str = ""
    ensembl_ids: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    l1000_type: str = ""  # one of L1000_TYPES, or "" outside the clue gene space
    l1000_symbols: tuple[str, ...] = ()  # symbols the L1000 platform used, where not current
    probe_ids: tuple[str, ...] = ()  # Affymetrix HG-U133A probe sets of the gene

    @property
    def is_landmark(self) -> bool:
        return self.l1000_type == "landmark"

    def as_dict(self) -> dict[str, object]:
        return {
            "entrez_id": self.entrez_id,
            "symbol": self.symbol,
            "name": self.name,
            "gene_type": self.gene_type,
            "chromosome": self.chromosome,
            "ensembl_ids": list(self.ensembl_ids),
            "aliases": list(self.aliases),
            "l1000_type": self.l1000_type,
            "is_landmark": self.is_landmark,
            "l1000_symbols": list(self.l1000_symbols),
            "probe_ids": list(self.probe_ids),
        }


@dataclass(frozen=True, slots=True)
class Resolution:
    query: str
    status: ResolutionStatus
    matched_by: MatchKind | None = None
    entrez_ids: tuple[int, ...] = field(
        default=()
    )  # one when resolved, the candidates when ambiguous

    @property
    def entrez_id(self) -> int | None:
        return self.entrez_ids[0] if self.status is ResolutionStatus.RESOLVED else None


class GeneResolver:
    """Resolves identifiers against a fixed set of gene records, held in memory."""

    def __init__(self, records: Iterable[GeneRecord]) -> None:
        self.genes: dict[int, GeneRecord] = {}
        self._tiers: dict[MatchKind, dict[str, list[int]]] = {kind: {} for kind in MatchKind}
        for record in records:
            self._add(record)

    def __len__(self) -> int:
        return len(self.genes)

    def _add(self, record: GeneRecord) -> None:
        self.genes[record.entrez_id] = record
        keys = {
            MatchKind.SYMBOL: [record.symbol],
            MatchKind.ENTREZ_ID: [str(record.entrez_id)],
            MatchKind.ENSEMBL_ID: list(record.ensembl_ids),
            MatchKind.PROBE_ID: list(record.probe_ids),
            MatchKind.PREVIOUS_SYMBOL: list(record.l1000_symbols),
            MatchKind.ALIAS: list(record.aliases),
        }
        for kind, values in keys.items():
            tier = self._tiers[kind]
            for value in values:
                ids = tier.setdefault(value.upper(), [])
                if record.entrez_id not in ids:
                    ids.append(record.entrez_id)

    def resolve(self, identifier: str) -> Resolution:
        key = identifier.strip().upper()
        if _ENSEMBL.match(key):
            key = key.split(".")[0]
        for kind in MatchKind:  # the tiers, in the order of the contract
            ids = self._tiers[kind].get(key)
            if ids:
                return self._decide(identifier, kind, ids)
        return Resolution(query=identifier, status=ResolutionStatus.UNKNOWN)

    def resolve_many(self, identifiers: Sequence[str]) -> list[Resolution]:
        return [self.resolve(identifier) for identifier in identifiers]

    def _decide(self, query: str, kind: MatchKind, ids: list[int]) -> Resolution:
        if kind is MatchKind.SYMBOL and len(ids) > 1:
            real = [i for i in ids if self.genes[i].gene_type != PHENOTYPE_GENE_TYPE]
            ids = real or ids
        status = ResolutionStatus.RESOLVED if len(ids) == 1 else ResolutionStatus.AMBIGUOUS
        return Resolution(
            query=query, status=status, matched_by=kind, entrez_ids=tuple(sorted(ids))
        )
