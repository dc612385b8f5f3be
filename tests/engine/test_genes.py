"""Identifier resolution: the tiers on small records, then every landmark on the real tables."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from search.engine.genes import GeneRecord, GeneResolver, MatchKind, ResolutionStatus
from tests.conftest import REFERENCE_DIR

TINY = [
    GeneRecord(
        7157,
        "TP53",
        gene_type="protein-coding",
        ensembl_ids=("ENSG00000141510",),
        aliases=("P53", "LFS1"),
    ),
    GeneRecord(
        976, "ADGRE5", gene_type="protein-coding", aliases=("CD97",), l1000_symbols=("CD97",)
    ),
    GeneRecord(30817, "ADGRE2", gene_type="protein-coding", aliases=("CD97", "EMR2")),
    GeneRecord(5243, "ABCB1", gene_type="protein-coding", aliases=("MDR1", "P-GP")),
    GeneRecord(23158, "TBC1D9", gene_type="protein-coding", aliases=("MDR1",)),
    GeneRecord(3045, "HBD", gene_type="protein-coding"),
    GeneRecord(100187828, "HBD", gene_type="unknown"),
    GeneRecord(111, "EMR2", gene_type="ncRNA"),
]


@pytest.fixture
def tiny() -> GeneResolver:
    return GeneResolver(TINY)


def test_it_resolves_a_symbol_whatever_its_case(tiny: GeneResolver) -> None:
    for query in ("TP53", "tp53", " Tp53 "):
        resolution = tiny.resolve(query)
        assert resolution.status is ResolutionStatus.RESOLVED
        assert resolution.entrez_id == 7157
        assert resolution.matched_by is MatchKind.SYMBOL
        assert resolution.query == query


def test_it_resolves_entrez_and_versioned_ensembl_ids(tiny: GeneResolver) -> None:
    assert tiny.resolve("7157").matched_by is MatchKind.ENTREZ_ID
    versioned = tiny.resolve("ensg00000141510.17")
    assert (versioned.entrez_id, versioned.matched_by) == (7157, MatchKind.ENSEMBL_ID)


def test_a_current_symbol_wins_over_another_genes_alias(tiny: GeneResolver) -> None:
    resolution = tiny.resolve("EMR2")
    assert (resolution.entrez_id, resolution.matched_by) == (111, MatchKind.SYMBOL)


def test_an_l1000_symbol_wins_over_a_shared_alias(tiny: GeneResolver) -> None:
    resolution = tiny.resolve("cd97")
    assert (resolution.entrez_id, resolution.matched_by) == (976, MatchKind.PREVIOUS_SYMBOL)


def test_it_reports_a_shared_alias_as_ambiguous_with_its_candidates(tiny: GeneResolver) -> None:
    resolution = tiny.resolve("mdr1")
    assert resolution.status is ResolutionStatus.AMBIGUOUS
    assert resolution.entrez_ids == (5243, 23158)
    assert resolution.entrez_id is None
    assert resolution.matched_by is MatchKind.ALIAS


def test_a_symbol_shared_with_a_phenotype_locus_names_the_real_gene(tiny: GeneResolver) -> None:
    assert tiny.resolve("HBD").entrez_id == 3045


def test_it_reports_unknown_identifiers_and_keeps_their_order(tiny: GeneResolver) -> None:
    results = tiny.resolve_many(["NOT_A_GENE", "TP53", "", "99999999"])
    assert [r.status for r in results] == [
        ResolutionStatus.UNKNOWN,
        ResolutionStatus.RESOLVED,
        ResolutionStatus.UNKNOWN,
        ResolutionStatus.UNKNOWN,
    ]
    assert [r.query for r in results] == ["NOT_A_GENE", "TP53", "", "99999999"]


def _landmarks() -> list[dict[str, str]]:
    with Path(REFERENCE_DIR, "l1000_landmark_genes_978.tsv").open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_all_978_landmarks_resolve_from_their_2017_symbols(
    reference_resolver: GeneResolver,
) -> None:
    landmarks = _landmarks()
    assert len(landmarks) == 978
    current = {record.symbol for record in reference_resolver.genes.values()}
    renamed = [row for row in landmarks if row["pr_gene_symbol"] not in current]
    assert len(renamed) == 47
    for row in landmarks:
        resolution = reference_resolver.resolve(row["pr_gene_symbol"])
        assert resolution.entrez_id == int(row["pr_gene_id"]), row
    for row in renamed:
        resolution = reference_resolver.resolve(row["pr_gene_symbol"])
        assert resolution.matched_by is MatchKind.PREVIOUS_SYMBOL, row


def test_all_978_landmarks_resolve_from_their_entrez_ids(reference_resolver: GeneResolver) -> None:
    for row in _landmarks():
        resolution = reference_resolver.resolve(row["pr_gene_id"])
        assert resolution.entrez_id == int(row["pr_gene_id"])
        assert reference_resolver.genes[resolution.entrez_id].is_landmark


def test_real_shared_aliases_are_ambiguous(reference_resolver: GeneResolver) -> None:
    mdr1 = reference_resolver.resolve("MDR1")
    assert mdr1.status is ResolutionStatus.AMBIGUOUS
    symbols = {reference_resolver.genes[i].symbol for i in mdr1.entrez_ids}
    assert symbols == {"ABCB1", "TBC1D9"}
    # CD97 is an NCBI alias of ADGRE5 and ADGRE2, but the L1000 platform's symbol of ADGRE5 only.
    assert reference_resolver.resolve("CD97").entrez_id == 976


def test_real_unknown_strings_stay_unknown(reference_resolver: GeneResolver) -> None:
    for query in ("NOT_A_GENE", "TP53X", "ENSG99999999999", "0"):
        assert reference_resolver.resolve(query).status is ResolutionStatus.UNKNOWN, query


def test_a_probe_set_resolves_to_its_gene_or_its_genes_as_ambiguous() -> None:
    """Affymetrix probe sets (any case); one of two genes is ambiguous with both candidates."""
    resolver = GeneResolver(
        [
            GeneRecord(780, "DDR1", probe_ids=("1007_s_at", "207169_x_at")),
            GeneRecord(3020, "H3-3A", probe_ids=("200080_s_at",)),
            GeneRecord(440926, "H3P16", probe_ids=("200080_s_at",)),
        ]
    )
    for query in ("1007_s_at", "207169_X_AT"):
        resolution = resolver.resolve(query)
        assert (resolution.entrez_id, resolution.matched_by) == (780, MatchKind.PROBE_ID)
    shared = resolver.resolve("200080_s_at")
    assert (shared.status, shared.entrez_ids) == (ResolutionStatus.AMBIGUOUS, (3020, 440926))
    assert resolver.resolve("1007_at").status is ResolutionStatus.UNKNOWN


def _chip(name: str) -> list[dict[str, str]]:
    with Path(REFERENCE_DIR, name).open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_the_landmarks_resolve_from_the_l1000_platforms_probe_ids(
    reference_resolver: GeneResolver,
) -> None:
    """GSE92742's Level 3 rows are Affymetrix ids (200814_at): CMap's L1000 chip file says which
    gene each landmark probe measures, and the registry's HG-U133A tier resolves it so."""
    landmarks = [row for row in _chip("L1000_EPSILON.R2.chip") if row["pr_type"] == "LM"]
    assert len(landmarks) == 978
    for row in landmarks:
        resolution = reference_resolver.resolve(row["pr_id"])
        assert resolution.matched_by is MatchKind.PROBE_ID, row
        assert resolution.entrez_id == int(row["pr_gene_id"]), row


def test_cmaps_2006_estradiol_query_resolves_to_the_estrogen_response_genes(
    reference_resolver: GeneResolver,
) -> None:
    """ESTRADIOL_FRASER_UP of the classic CMap queries (cmapR's query_up.gmt) is 63 HG-U133A probe
    sets of 32 genes, among them the estrogen receptor's known targets of Fraser et al."""
    path = Path(__file__).resolve().parents[1] / "data" / "genesets" / "cmapR_query_up.gmt"
    (fields,) = [
        line.split("\t") for line in path.read_text().splitlines() if line.startswith("ESTRADIOL")
    ]
    resolutions = reference_resolver.resolve_many([probe for probe in fields[2:] if probe])
    assert len(resolutions) == 63
    assert {r.status for r in resolutions} == {ResolutionStatus.RESOLVED}
    symbols = {reference_resolver.genes[r.entrez_ids[0]].symbol for r in resolutions}
    assert len(symbols) == 32
    assert {"GREB1", "TFF1", "PDZK1", "CA12", "MYBL1", "NRIP1", "AREG", "CXCL12"} <= symbols
