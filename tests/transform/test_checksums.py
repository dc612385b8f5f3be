"""The two shared checksums: a gene list's (gene_list_sha256) and a file's (sha256_file).

Indexes, signature folders and model bundles already built carry these values, so each helper is
pinned to its plain definition and to fixed digests: a change would leave them unverifiable.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from transform.gene_space import GeneSpace, gene_list_sha256
from transform.io.files import sha256_file

GENE_LISTS = [
    ((), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (("TP53", "EGFR", "MYC"), "8fae2c8186901e71371724d44510b8a83d83ec067ec03371cd1377a7c9b9b132"),
    (("α-gene", "C9orf72"), "59f1c1a31846df9fb69ea0202ad2465421696c89ab4a24afad040caf7621fae2"),
]


@pytest.mark.parametrize(("genes", "digest"), GENE_LISTS)
def test_gene_list_sha256_is_sha256_of_the_symbols_joined_by_newlines(
    genes: tuple[str, ...], digest: str
) -> None:
    plain = hashlib.sha256("\n".join(genes).encode("utf-8")).hexdigest()
    assert gene_list_sha256(genes) == plain == digest
    assert gene_list_sha256(list(genes)) == digest
    assert GeneSpace("genes", genes).checksum == digest


def test_gene_list_sha256_depends_on_the_order() -> None:
    assert gene_list_sha256(["A", "B"]) != gene_list_sha256(["B", "A"])


@pytest.mark.parametrize("size", [0, 1, 4096, 3 * 4096 + 17])
def test_sha256_file_is_sha256_of_the_bytes_whatever_the_block(tmp_path: Path, size: int) -> None:
    path = tmp_path / "file.bin"
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    path.write_bytes(payload)
    plain = hashlib.sha256(payload).hexdigest()
    assert sha256_file(path) == plain
    assert sha256_file(str(path), block=4096) == plain
    assert sha256_file(path, block=7) == plain
