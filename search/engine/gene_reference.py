"""Read the committed gene reference tables into gene records.

Files (see search/reference/genes/README.md): the NCBI gene table, the 978 L1000 landmarks
with their 2017 symbols, the clue.io gene space of 2019 with each gene's L1000 status, and CMap's
Affymetrix HG-U133A chip file (probe set -> Entrez IDs).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

import pandas as pd

from search.engine.genes import L1000_TYPES, GeneRecord

NCBI_FILE = "human_genes_ncbi_orgHsegdb_2022-09.tsv.gz"
LANDMARK_FILE = "l1000_landmark_genes_978.tsv"
CLUE_FILE = "clue_gene_space_2019-07-02.tsv.gz"
PROBE_FILE = "HG_U133A.chip.gz"
REFERENCE_FILES = (NCBI_FILE, LANDMARK_FILE, CLUE_FILE, PROBE_FILE)
NO_GENE = "-666"  # the chip file's Entrez ID of a probe set that measures no known gene


class _NcbiRow(Protocol):
    """A row of the NCBI table (DataFrame.itertuples): every field a string."""

    entrez_id: str
    symbol: str
    name: str
    gene_type: str
    chromosome: str
    ensembl_gene_ids: str
    aliases: str


class GeneReferenceError(ValueError):
    """A reference table is missing or malformed."""


def reference_checksum(directory: Path) -> str:
    """SHA-256 over the reference files, in a fixed order: the identity of a registry release."""
    digest = hashlib.sha256()
    for name in REFERENCE_FILES:
        digest.update(name.encode())
        digest.update(_path(directory, name).read_bytes())
    return digest.hexdigest()


def read_gene_reference(directory: Path) -> list[GeneRecord]:
    """All genes of the NCBI table, with their L1000 status and platform symbols."""
    ncbi = _read_table(directory, NCBI_FILE, ["entrez_id", "symbol", "ensembl_gene_ids", "aliases"])
    landmarks = _read_table(directory, LANDMARK_FILE, ["pr_gene_id", "pr_gene_symbol"])
    clue = _read_table(directory, CLUE_FILE, ["Entrez ID", "Symbol", "Type"])
    _check_unique(ncbi["entrez_id"], NCBI_FILE)
    unknown_types = set(clue["Type"]) - set(L1000_TYPES)
    if unknown_types:
        raise GeneReferenceError(f"{CLUE_FILE}: unknown L1000 types {sorted(unknown_types)}")
    l1000_type = dict(zip(clue["Entrez ID"], clue["Type"], strict=True))
    platform_symbols: dict[str, set[str]] = {}
    for table, id_col, symbol_col in (
        (landmarks, "pr_gene_id", "pr_gene_symbol"),
        (clue, "Entrez ID", "Symbol"),
    ):
        for entrez_id, symbol in zip(table[id_col], table[symbol_col], strict=True):
            platform_symbols.setdefault(entrez_id, set()).add(symbol)
    for entrez_id in landmarks["pr_gene_id"]:
        if l1000_type.get(entrez_id) != "landmark":
            raise GeneReferenceError(
                f"{LANDMARK_FILE}: {entrez_id} is not a landmark in {CLUE_FILE}"
            )
    probes = probe_sets(directory)
    return [
        _record(
            row,
            l1000_type.get(row.entrez_id, ""),
            platform_symbols.get(row.entrez_id, set()),
            probes.get(row.entrez_id, ()),
        )
        for row in ncbi.itertuples(index=False)
    ]


def probe_sets(directory: Path) -> dict[str, tuple[str, ...]]:
    """Entrez ID -> the HG-U133A probe sets that measure it. A probe set of several genes
    ("3020 /// 440926") is listed under each, so that it resolves as ambiguous; one of no gene
    (NO_GENE) under none, so that it stays unknown."""
    chip = pd.read_csv(
        _path(directory, PROBE_FILE),
        sep="\t",
        dtype=str,
        keep_default_na=False,
        usecols=lambda column: column in ("pr_id", "pr_gene_id"),
    )
    if list(chip.columns) != ["pr_id", "pr_gene_id"]:
        raise GeneReferenceError(f"{PROBE_FILE}: needs the columns pr_id and pr_gene_id")
    repeated = chip["pr_id"][chip["pr_id"].duplicated()]
    if len(repeated):
        raise GeneReferenceError(f"{PROBE_FILE}: probe set {repeated.iloc[0]!r} is listed twice")
    genes: dict[str, list[str]] = {}
    for probe, entrez_ids in zip(chip["pr_id"], chip["pr_gene_id"], strict=True):
        for entrez_id in (part.strip() for part in entrez_ids.split("///")):
            if entrez_id == NO_GENE or not entrez_id:
                continue
            if not entrez_id.isdigit():
                raise GeneReferenceError(
                    f"{PROBE_FILE}: probe set {probe!r} has the Entrez ID {entrez_id!r}"
                )
            genes.setdefault(entrez_id, []).append(probe)
    return {entrez_id: tuple(found) for entrez_id, found in genes.items()}


def _record(
    row: _NcbiRow, l1000_type: str, platform_symbols: set[str], probe_ids: tuple[str, ...]
) -> GeneRecord:
    return GeneRecord(
        entrez_id=int(row.entrez_id),
        symbol=row.symbol,
        name=row.name,
        gene_type=row.gene_type,
        chromosome=row.chromosome,
        ensembl_ids=_split(row.ensembl_gene_ids),
        aliases=_split(row.aliases),
        l1000_type=l1000_type,
        l1000_symbols=tuple(sorted(s for s in platform_symbols if s and s != row.symbol)),
        probe_ids=probe_ids,
    )


def _split(value: str) -> tuple[str, ...]:
    return tuple(item for item in value.split("|") if item)


def _path(directory: Path, name: str) -> Path:
    path = Path(directory) / name
    if not path.is_file():
        raise GeneReferenceError(f"gene reference file {path} is missing")
    return path


def _read_table(directory: Path, name: str, required: list[str]) -> pd.DataFrame:
    table = pd.read_csv(_path(directory, name), sep="\t", dtype=str, keep_default_na=False)
    missing = [column for column in required if column not in table.columns]
    if missing:
        raise GeneReferenceError(f"{name}: missing columns {missing}")
    bad_ids = table[required[0]][~table[required[0]].str.fullmatch(r"\d+")]
    if len(bad_ids):
        raise GeneReferenceError(f"{name}: non-numeric Entrez IDs such as {bad_ids.iloc[0]!r}")
    return table


def _check_unique(ids: pd.Series, name: str) -> None:
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        raise GeneReferenceError(f"{name}: duplicate Entrez IDs such as {duplicated.iloc[0]}")
