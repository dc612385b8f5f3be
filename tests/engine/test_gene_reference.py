"""Reading the gene reference tables: the real files, and malformed copies refused by name."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from search.engine.gene_reference import (
    CLUE_FILE,
    LANDMARK_FILE,
    NCBI_FILE,
    PROBE_FILE,
    GeneReferenceError,
    read_gene_reference,
    reference_checksum,
)
from search.engine.genes import GeneRecord
from tests.conftest import REFERENCE_DIR


def test_it_reads_every_ncbi_gene_with_its_l1000_status(reference_genes: list[GeneRecord]) -> None:
    assert len(reference_genes) == 65191
    by_type: dict[str, int] = {}
    for record in reference_genes:
        by_type[record.l1000_type] = by_type.get(record.l1000_type, 0) + 1
    assert by_type["landmark"] == 978
    # 12,328 genes make the L1000 space; 9 of their Entrez IDs were retired by NCBI before 2022.
    assert by_type["landmark"] + by_type["best inferred"] + by_type["inferred"] == 12319
    tp53 = next(r for r in reference_genes if r.entrez_id == 7157)
    assert (tp53.symbol, tp53.ensembl_ids, tp53.is_landmark) == ("TP53", ("ENSG00000141510",), True)
    assert "P53" in tp53.aliases


def _copy(tmp_path: Path) -> Path:
    for name in (NCBI_FILE, LANDMARK_FILE, CLUE_FILE, PROBE_FILE):
        shutil.copy(REFERENCE_DIR / name, tmp_path / name)
    return tmp_path


def _rewrite_ncbi(directory: Path, edit: callable) -> None:
    path = directory / NCBI_FILE
    lines = gzip.decompress(path.read_bytes()).decode().splitlines(keepends=True)
    path.write_bytes(gzip.compress("".join(edit(lines)).encode()))


def test_the_checksum_changes_with_the_content(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    before = reference_checksum(directory)
    assert before == reference_checksum(REFERENCE_DIR)
    _rewrite_ncbi(directory, lambda lines: lines[:-1])
    assert reference_checksum(directory) != before


def test_it_refuses_a_missing_file(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    (directory / CLUE_FILE).unlink()
    with pytest.raises(GeneReferenceError, match=r"clue_gene_space.*missing"):
        read_gene_reference(directory)


def test_it_refuses_duplicate_entrez_ids(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    _rewrite_ncbi(directory, lambda lines: [*lines, lines[1]])
    with pytest.raises(GeneReferenceError, match="duplicate Entrez IDs such as 1"):
        read_gene_reference(directory)


def test_it_refuses_a_table_without_its_columns(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    _rewrite_ncbi(directory, lambda lines: [lines[0].replace("aliases", "synonyms"), *lines[1:]])
    with pytest.raises(GeneReferenceError, match=r"missing columns \['aliases'\]"):
        read_gene_reference(directory)


def test_it_refuses_non_numeric_entrez_ids(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    _rewrite_ncbi(directory, lambda lines: [lines[0], "x1" + lines[1][1:], *lines[2:]])
    with pytest.raises(GeneReferenceError, match="non-numeric Entrez IDs"):
        read_gene_reference(directory)


def test_it_reads_the_hg_u133a_probe_sets_of_each_gene(reference_genes: list[GeneRecord]) -> None:
    """22,283 probe sets; one of several genes listed under each, one of no gene (-666) under
    none."""
    by_id = {record.entrez_id: record for record in reference_genes}
    assert {"201746_at", "211300_s_at"} <= set(by_id[7157].probe_ids)  # TP53
    assert "200080_s_at" in by_id[3020].probe_ids  # "3020 /// 440926"
    listed = {probe for record in reference_genes for probe in record.probe_ids}
    assert "AFFX-BioB-5_at" not in listed  # a spike-in control: -666
    assert 20_000 < len(listed) < 22_283


def _rewrite_chip(directory: Path, edit: callable) -> None:
    path = directory / PROBE_FILE
    lines = gzip.decompress(path.read_bytes()).decode().splitlines(keepends=True)
    path.write_bytes(gzip.compress("".join(edit(lines)).encode()))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda lines: [lines[0].replace("pr_gene_id", "gene"), *lines[1:]],
            "pr_id and pr_gene_id",
        ),
        (lambda lines: [*lines, lines[1]], "probe set '1007_s_at' is listed twice"),
        (
            lambda lines: [lines[0], lines[1].replace("\t780\t", "\tDDR1\t"), *lines[2:]],
            "probe set '1007_s_at' has the Entrez ID 'DDR1'",
        ),
    ],
)
def test_it_refuses_a_chip_file_it_cannot_read_whole(
    tmp_path: Path, edit: callable, message: str
) -> None:
    directory = _copy(tmp_path)
    _rewrite_chip(directory, edit)
    with pytest.raises(GeneReferenceError, match=message):
        read_gene_reference(directory)
