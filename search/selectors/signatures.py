"""Reads for the signature and gene pages and their APIs: the signature set, its facets, one
signature, a signature's genes and neighbours, and a gene's signatures (reverse search).

One source of signature metadata: the `Signature` table, loaded from the index's own metadata
when the index is built (`build_search_index`, or `load_signatures`) and keyed by the index
version. The index scores, filters and says which signatures; every page and API row takes what
it shows of a signature (perturbagen, cell line, dose, time, batch, replicates) from the table
(`with_metadata`), one indexed query per answer. An index whose metadata is not loaded is refused
with the reason (MetadataNotLoaded, 503), never served with metadata of another version.

Each function returns plain data (dicts, lists) that the API returns as JSON and the page embeds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from django.urls import reverse

from search.engine.accuracy import gene_accuracy
from search.engine.errors import GeneOutsideIndexError, UnknownSignatureError
from search.engine.hubs import gene_hub
from search.models import Signature, SignatureSet
from search.runtime.index_access import IndexUnavailable, search_index
from search.selectors.genes import gene_lookup
from search.selectors.searches import json_value, search_link

if TYPE_CHECKING:
    from search.engine.index import SearchIndex


def signature_set_current(*, version: str | None) -> SignatureSet | None:
    """The loaded signature set of that index version, else the latest loaded one."""
    sets = SignatureSet.objects.order_by("-id")
    return (sets.filter(version=version).first() if version else None) or sets.first()


def signature_facets(*, signature_set: SignatureSet | None) -> dict[str, list[object]]:
    """The distinct values of each filterable field, for the search form (kept at load time)."""
    return dict(signature_set.facets) if signature_set else {}


# What a page or an API row shows of a signature, from the Signature table.
METADATA_FIELDS = (
    "pert_type",
    "pert_id",
    "pert_iname",
    "cell_id",
    "pert_dose",
    "pert_dose_unit",
    "pert_time",
    "pert_time_unit",
    "batch",
    "n_cases",
    "n_controls",
)


class MetadataNotLoaded(IndexUnavailable):
    """The index serving has no (or incomplete) signature metadata in the database."""


def signature_set_of_index(*, version: str) -> int:
    """The id of the signature set of this index version (its facets, a large JSON, unread);
    MetadataNotLoaded, saying how, without one."""
    found = SignatureSet.objects.filter(version=version).values_list("id", flat=True).first()
    if found is None:
        raise MetadataNotLoaded(
            f"the signature metadata of index {version} is not in the database: "
            "run manage.py load_signatures (build_search_index does it)"
        )
    return found


def signature_get(*, signature_set: SignatureSet | None, sig_id: str) -> Signature:
    try:
        return Signature.objects.get(signature_set=signature_set, sig_id=sig_id)
    except Signature.DoesNotExist:
        raise UnknownSignatureError(f"no signature {sig_id!r}", sig_id=sig_id) from None


def signatures_by_id(
    *, signature_set: SignatureSet | None, sig_ids: list[str]
) -> dict[str, Signature]:
    rows = Signature.objects.filter(signature_set=signature_set, sig_id__in=sig_ids)
    return {row.sig_id: row for row in rows}


def signature_metadata(*, version: str, sig_ids: list[str]) -> dict[str, dict[str, Any]]:
    """sig_id -> its METADATA_FIELDS, for the signatures of index `version` (one query)."""
    set_id = signature_set_of_index(version=version)
    rows = Signature.objects.filter(signature_set_id=set_id, sig_id__in=set(sig_ids)).values_list(
        "sig_id", *METADATA_FIELDS
    )
    found = {row[0]: dict(zip(METADATA_FIELDS, row[1:], strict=True)) for row in rows}
    missing = [sig_id for sig_id in dict.fromkeys(sig_ids) if sig_id not in found]
    if missing:
        raise MetadataNotLoaded(
            f"{len(missing)} signatures of index {version} are not in the database "
            f"(e.g. {', '.join(missing[:3])}): run manage.py load_signatures --force"
        )
    return found


def with_metadata(rows: list[dict[str, Any]], *, index: SearchIndex) -> list[dict[str, Any]]:
    """The index's rows (each with a sig_id) with what they show of each signature taken from the
    table: the index's own metadata columns are left out, the table's fields put in their place."""
    if not rows:
        return []
    ids = [str(row["sig_id"]) for row in rows]
    metadata = signature_metadata(version=index.version, sig_ids=ids)
    own = set(index.table.columns)
    return [
        {**{key: value for key, value in row.items() if key not in own}, **metadata[sig_id]}
        for sig_id, row in zip(ids, rows, strict=True)
    ]


GENE_TABLE_ROWS = 25
SEARCH_GENES = 50  # of each side, in a signature's "search with this signature" link


def _linked(row: dict[str, Any]) -> dict[str, Any]:
    clean = {key: json_value(value) for key, value in row.items()}
    clean["url"] = reverse("search:signature", args=[row["sig_id"]])
    return clean


def _gene_links(genes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "gene": item["gene"],
            "value": json_value(item["value"]),
            "url": reverse("search:gene", args=[item["gene"]]),
        }
        for item in genes
    ]


def signature_detail(*, sig_id: str, n_genes: int = 50) -> dict[str, Any]:
    index = search_index()
    detail = index.signature(sig_id, n=min(n_genes, index.top_genes.shape[2]))
    meta = signature_metadata(version=index.version, sig_ids=[sig_id])[sig_id]
    return {
        "sig_id": sig_id,
        **{key: json_value(value) for key, value in meta.items()},
        "index_version": index.version,
        "top_up": _gene_links(detail["top_up"]),
        "top_down": _gene_links(detail["top_down"]),
        "links": {
            "genes": reverse("api:signature-genes", args=[sig_id]),
            "similar": reverse("api:signature-similar", args=[sig_id]),
            "perturbagen": (
                reverse("search:perturbagen", args=[meta["pert_id"]]) if meta["pert_id"] else None
            ),
            "search": search_link(
                [item["gene"] for item in detail["top_up"][:SEARCH_GENES]],
                [item["gene"] for item in detail["top_down"][:SEARCH_GENES]],
            ),
        },
    }


def signature_genes(*, sig_id: str, n: int) -> dict[str, Any]:
    detail = search_index().signature(sig_id, n=n)
    return {
        "sig_id": sig_id,
        "up": _gene_links(detail["top_up"]),
        "down": _gene_links(detail["top_down"]),
    }


def signature_neighbours(*, sig_id: str, k: int) -> list[dict[str, Any]]:
    index = search_index()
    return [_linked(row) for row in with_metadata(index.similar(sig_id, k=k), index=index)]


def gene_reverse_search(
    *,
    identifier: str,
    direction: str = "both",
    pert_type: str | None = None,
    cell_id: str | None = None,
    limit: int = GENE_TABLE_ROWS,
) -> dict[str, Any]:
    """The signatures that raise and lower one gene most, per perturbation type, with plot data."""
    resolution, gene = gene_lookup(identifier=identifier)
    index = search_index()
    if not index.has_gene(gene.symbol):
        raise GeneOutsideIndexError(
            f"{gene.symbol} is not in the search index's gene space", identifier=identifier
        )
    asked = {
        key: [value] for key, value in (("pert_type", pert_type), ("cell_id", cell_id)) if value
    }
    index.table.refuse_unmatched(asked)  # a type or cell line no signature has: named, not empty
    # a type named in another case is the index's own (trt_cp for TRT_CP) in every part below
    pert_type = (index.table.label("pert_type", pert_type) or pert_type) if pert_type else None
    values = index.gene_values(gene.symbol, filters={"cell_id": [cell_id]} if cell_id else None)
    types = [pert_type] if pert_type else sorted(set(map(str, values["pert_type"])))
    directions = ["up", "down"] if direction == "both" else [direction]
    stored = index.reverse.entries(gene.symbol, pert_type) if index.reverse else []
    fold_changes = {entry["sig_id"]: entry["log2_fold_change"] for entry in stored}
    found = {
        kind: index.gene_tables(
            gene.symbol, directions=directions, pert_type=kind, cell_id=cell_id, limit=limit
        )
        for kind in types
    }
    listed = with_metadata(
        [row for part in found.values() for way in directions for row in part[way]], index=index
    )
    rows = iter(listed)  # in the order listed: type by type, direction by direction
    tables = {
        kind: {
            way: [_with_fold_change(_linked(next(rows)), fold_changes) for _ in part[way]]
            for way in directions
        }
        for kind, part in found.items()
    }
    counts = {kind: part["counts"] for kind, part in found.items()}
    return {
        "gene": gene.as_dict(),
        "matched_by": str(resolution.matched_by),
        "in_output_space": True,
        "index_version": index.version,
        "filters": {"direction": direction, "pert_type": pert_type, "cell_id": cell_id},
        "filter_report": index.table.filter_report(asked),
        "tables": tables,
        "counts": counts,  # per type: signatures that raise the gene, lower it, and looked at
        "hub": gene_hub(index, gene.symbol),
        "accuracy": gene_accuracy(index, gene.symbol),
        "by_cell_line": _boxes(values, pert_type),
        "volcano": _in_selection(stored, directions, set(map(str, values["sig_id"]))),
    }


def _in_selection(
    stored: list[dict[str, Any]], directions: list[str], sig_ids: set[str]
) -> list[dict[str, Any]]:
    """The stored volcano points of the directions asked for, among the signatures the filters
    keep (a cell line's, when one is asked for)."""
    return [e for e in stored if e["direction"] in directions and e["sig_id"] in sig_ids]


def _with_fold_change(row: dict[str, Any], fold_changes: dict[str, float]) -> dict[str, Any]:
    """The row with its CD ("value" in the engine) and log2 fold change (None when not stored)."""
    return {**row, "cd": row.get("value"), "log2_fold_change": fold_changes.get(row["sig_id"])}


def _boxes(values: dict[str, Any], pert_type: str | None) -> list[dict[str, Any]]:
    """Per cell line: quartiles and whiskers of the gene's signature values (a box plot)."""
    cd = np.asarray(values["values"], dtype=np.float64)
    cells = np.asarray(values["cell_id"]).astype(str)
    keep = np.ones(len(cd), dtype=bool)
    if pert_type:
        keep &= np.asarray(values["pert_type"]).astype(str) == pert_type
    boxes = []
    for cell in sorted(set(cells[keep])):
        part = cd[keep & (cells == cell)]
        q1, median, q3 = np.quantile(part, [0.25, 0.5, 0.75])
        spread = 1.5 * (q3 - q1)
        inside = part[(part >= q1 - spread) & (part <= q3 + spread)]
        boxes.append(
            {
                "cell_id": cell,
                "n": len(part),
                "q1": float(q1),
                "median": float(median),
                "q3": float(q3),
                "lowerfence": float(inside.min()),
                "upperfence": float(inside.max()),
                "mean": float(part.mean()),
            }
        )
    return boxes
