"""Writes of the gene registry: load a release from the reference tables (idempotent)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, transaction

from search.engine.gene_reference import read_gene_reference, reference_checksum
from search.engine.genes import GeneRecord
from search.models import Gene, GeneRegistryRelease

logger = logging.getLogger(__name__)

# Columns of search_gene in the order rows are written, primary key first.
GENE_COLUMNS = (
    "entrez_id",
    "symbol",
    "symbol_key",
    "name",
    "gene_type",
    "chromosome",
    "ensembl_ids",
    "aliases",
    "l1000_type",
    "l1000_symbols",
    "probe_ids",
)


@dataclass(frozen=True, slots=True)
class GeneLoadReport:
    release_id: int | None
    n_genes: int
    n_created: int
    n_updated: int
    n_deleted: int
    skipped: bool


def gene_row(record: GeneRecord) -> tuple[object, ...]:
    return (
        record.entrez_id,
        record.symbol,
        record.symbol.upper(),
        record.name,
        record.gene_type,
        record.chromosome,
        "|".join(record.ensembl_ids),
        "|".join(record.aliases),
        record.l1000_type,
        "|".join(record.l1000_symbols),
        "|".join(record.probe_ids),
    )


def gene_registry_load(*, source_dir: Path, force: bool = False) -> GeneLoadReport:
    """Load the gene registry from the reference tables: idempotent, in bulk, in one transaction.

    Unchanged sources (same checksum as the latest release) are skipped unless `force`.
    """
    checksum = reference_checksum(source_dir)
    latest = GeneRegistryRelease.objects.order_by("-id").first()
    if latest and latest.source_checksum == checksum and not force:
        count = Gene.objects.count()
        if count == latest.n_genes:
            return GeneLoadReport(latest.pk, count, 0, 0, 0, skipped=True)
    rows = [gene_row(record) for record in read_gene_reference(source_dir)]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            created, updated, deleted = _upsert_postgresql(rows)
        else:
            created, updated, deleted = _upsert_portable(rows)
        release = GeneRegistryRelease.objects.create(
            source_checksum=checksum,
            n_genes=len(rows),
            n_created=created,
            n_updated=updated,
            n_deleted=deleted,
        )
    logger.debug("%s: %d created, %d updated, %d deleted", release, created, updated, deleted)
    return GeneLoadReport(release.pk, len(rows), created, updated, deleted, skipped=False)


def _upsert_postgresql(rows: list[tuple[object, ...]]) -> tuple[int, int, int]:
    """COPY into a staging table, then one upsert and one delete; counts from the SQL itself."""
    table = Gene._meta.db_table
    columns = ", ".join(GENE_COLUMNS)
    changed = " OR ".join(f"t.{c} IS DISTINCT FROM s.{c}" for c in GENE_COLUMNS[1:])
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE gene_staging (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        with cursor.cursor.copy(f"COPY gene_staging ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"SELECT count(*) FILTER (WHERE t.entrez_id IS NULL),"
            f" count(*) FILTER (WHERE t.entrez_id IS NOT NULL AND ({changed}))"
            f" FROM gene_staging s LEFT JOIN {table} t ON t.entrez_id = s.entrez_id"
        )
        created, updated = cursor.fetchone()
        assignments = ", ".join(f"{c} = EXCLUDED.{c}" for c in GENE_COLUMNS[1:])
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM gene_staging"
            f" ON CONFLICT (entrez_id) DO UPDATE SET {assignments}"
        )
        cursor.execute(
            f"DELETE FROM {table} t WHERE NOT EXISTS"
            f" (SELECT 1 FROM gene_staging s WHERE s.entrez_id = t.entrez_id)"
        )
        deleted = cursor.rowcount
    return created, updated, deleted


def _upsert_portable(rows: list[tuple[object, ...]]) -> tuple[int, int, int]:
    """The same upsert through the ORM, for SQLite: bulk statements in batches."""
    existing = {row[0]: row for row in Gene.objects.values_list(*GENE_COLUMNS).iterator()}
    incoming = {row[0] for row in rows}
    created = sum(1 for row in rows if row[0] not in existing)
    updated = sum(1 for row in rows if row[0] in existing and existing[row[0]] != row)
    Gene.objects.bulk_create(
        _genes(rows),
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["entrez_id"],
        update_fields=list(GENE_COLUMNS[1:]),
    )
    stale = [entrez_id for entrez_id in existing if entrez_id not in incoming]
    for start in range(0, len(stale), 500):
        Gene.objects.filter(entrez_id__in=stale[start : start + 500]).delete()
    return created, updated, len(stale)


def _genes(rows: Iterable[tuple[object, ...]]) -> Iterable[Gene]:
    for row in rows:
        yield Gene(**dict(zip(GENE_COLUMNS, row, strict=True)))
