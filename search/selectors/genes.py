"""Reads of the gene registry: records, the resolver, autocomplete, lookup."""

from __future__ import annotations

import threading

from django.db import connection
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.db.models.functions import Length

from search.engine.errors import AmbiguousGeneError, UnknownGeneError
from search.engine.genes import GeneRecord, GeneResolver, Resolution, ResolutionStatus
from search.models import Gene, GeneRegistryRelease, L1000Type

AUTOCOMPLETE_MAX = 50

_resolver_lock = threading.Lock()
_resolver_cache: dict[str, tuple[tuple[object, ...], GeneResolver]] = {}


def gene_record(gene: Gene) -> GeneRecord:
    return GeneRecord(
        entrez_id=gene.entrez_id,
        symbol=gene.symbol,
        name=gene.name,
        gene_type=gene.gene_type,
        chromosome=gene.chromosome,
        ensembl_ids=_split(gene.ensembl_ids),
        aliases=_split(gene.aliases),
        l1000_type=gene.l1000_type,
        l1000_symbols=_split(gene.l1000_symbols),
        probe_ids=_split(gene.probe_ids),
    )


def gene_registry_release() -> GeneRegistryRelease | None:
    return GeneRegistryRelease.objects.order_by("-id").first()


def gene_resolver() -> GeneResolver:
    """The in-memory resolver of the current registry release: built once per release."""
    release = gene_registry_release()
    key = (release.pk, release.source_checksum, release.loaded_at) if release else (None,)
    database = str(connection.settings_dict["NAME"])
    with _resolver_lock:
        cached = _resolver_cache.get(database)
        if cached and cached[0] == key:
            return cached[1]
        genes = Gene.objects.iterator(chunk_size=5000)
        resolver = GeneResolver(gene_record(gene) for gene in genes)
        _resolver_cache[database] = (key, resolver)
    return resolver


def gene_identifiers_resolve(*, identifiers: list[str]) -> list[Resolution]:
    return gene_resolver().resolve_many(identifiers)


def gene_autocomplete(*, query: str, limit: int = 20) -> QuerySet[Gene]:
    """Genes whose symbol starts with `query` (case-insensitive), or whose Entrez ID is `query`.

    Ranked: exact matches first, then landmarks, then other L1000-space genes, then protein-coding
    genes, then shorter symbols, then alphabetically.
    """
    key = query.strip().upper()
    matches = Gene.objects.filter(symbol_key__startswith=key)
    exact = When(symbol_key=key, then=Value(0))
    entrez = _entrez_id(key)
    if entrez is not None:
        matches = matches | Gene.objects.filter(entrez_id=entrez)
        exact = When(entrez_id=entrez, then=Value(0))
    return matches.annotate(
        exact_rank=Case(exact, default=Value(1), output_field=IntegerField()),
        space_rank=Case(
            When(l1000_type=L1000Type.LANDMARK, then=Value(0)),
            When(l1000_type__in=[L1000Type.BEST_INFERRED, L1000Type.INFERRED], then=Value(1)),
            When(gene_type="protein-coding", then=Value(2)),
            default=Value(3),
            output_field=IntegerField(),
        ),
        symbol_length=Length("symbol"),
    ).order_by("exact_rank", "space_rank", "symbol_length", "symbol")[
        : min(limit, AUTOCOMPLETE_MAX)
    ]


def _entrez_id(key: str) -> int | None:
    """key as an Entrez id: ASCII digits only ("¹" is a digit to str.isdigit, not to int), at
    most 9 of them (NCBI's ids are below 10^9; a longer number names no gene)."""
    return int(key) if key.isascii() and key.isdigit() and len(key) <= 9 else None


def _split(value: str) -> tuple[str, ...]:
    return tuple(item for item in value.split("|") if item)


def gene_lookup(*, identifier: str) -> tuple[Resolution, GeneRecord]:
    """The one gene an identifier names; raises UnknownGeneError or AmbiguousGeneError."""
    resolver = gene_resolver()
    resolution = resolver.resolve(identifier)
    if resolution.status is ResolutionStatus.UNKNOWN:
        raise UnknownGeneError(f"no gene matches {identifier!r}", identifier=identifier)
    if resolution.status is ResolutionStatus.AMBIGUOUS:
        raise AmbiguousGeneError(
            f"{identifier!r} is an {resolution.matched_by} of {len(resolution.entrez_ids)} genes",
            identifier=identifier,
            matched_by=str(resolution.matched_by),
            candidates=[resolver.genes[i].as_dict() for i in resolution.entrez_ids],
        )
    return resolution, resolver.genes[resolution.entrez_ids[0]]
