"""Loading the registry into the real database (SQLite and PostgreSQL runs of the same tests)."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from django.core.management import call_command
from django.db import connection

from search.engine.gene_reference import CLUE_FILE, NCBI_FILE
from search.models import Gene, GeneRegistryRelease, L1000Type
from search.services.genes import GENE_COLUMNS, gene_registry_load
from tests.conftest import REFERENCE_DIR

pytestmark = pytest.mark.django_db


def test_the_database_is_the_one_the_environment_asks_for() -> None:
    url = os.environ.get("DATABASE_URL", "")
    expected = "postgresql" if url.startswith(("postgres://", "postgresql://")) else "sqlite"
    assert connection.vendor == expected


def test_the_registry_holds_every_gene_with_its_l1000_flags() -> None:
    ncbi = pd.read_csv(REFERENCE_DIR / NCBI_FILE, sep="\t", dtype=str, usecols=["entrez_id"])
    clue = pd.read_csv(REFERENCE_DIR / CLUE_FILE, sep="\t", dtype=str)
    clue = clue[clue["Entrez ID"].isin(set(ncbi["entrez_id"]))]
    assert Gene.objects.count() == len(ncbi) == 65191
    for l1000_type, count in clue["Type"].value_counts().items():
        assert Gene.objects.filter(l1000_type=l1000_type).count() == count, l1000_type
    assert Gene.objects.filter(l1000_type=L1000Type.LANDMARK).count() == 978
    assert Gene.objects.filter(l1000_type="").count() == len(ncbi) - len(clue)
    adgre5 = Gene.objects.get(entrez_id=976)
    assert (adgre5.symbol, adgre5.symbol_key, adgre5.l1000_symbols) == ("ADGRE5", "ADGRE5", "CD97")
    assert adgre5.is_landmark


def _snapshot() -> list[tuple[object, ...]]:
    return list(Gene.objects.order_by("entrez_id").values_list(*GENE_COLUMNS))


def test_loading_unchanged_sources_again_changes_nothing() -> None:
    before = _snapshot()
    skipped = gene_registry_load(source_dir=REFERENCE_DIR)
    assert skipped.skipped
    forced = gene_registry_load(source_dir=REFERENCE_DIR, force=True)
    assert not forced.skipped
    assert (forced.n_genes, forced.n_created, forced.n_updated, forced.n_deleted) == (
        65191,
        0,
        0,
        0,
    )
    assert _snapshot() == before
    assert GeneRegistryRelease.objects.latest().pk == forced.release_id


def test_a_reload_repairs_edits_restores_deletions_and_drops_strays() -> None:
    before = _snapshot()
    Gene.objects.filter(entrez_id=7157).update(symbol="P53", symbol_key="P53")
    Gene.objects.filter(entrez_id=1).delete()
    Gene.objects.create(entrez_id=999999999, symbol="STRAY", symbol_key="STRAY")
    report = gene_registry_load(source_dir=REFERENCE_DIR, force=True)
    assert (report.n_created, report.n_updated, report.n_deleted) == (1, 1, 1)
    assert _snapshot() == before


def test_an_empty_database_is_filled_by_the_command() -> None:
    Gene.objects.all().delete()
    call_command("load_genes", verbosity=0)
    assert Gene.objects.count() == 65191
    assert GeneRegistryRelease.objects.latest().n_created == 65191
