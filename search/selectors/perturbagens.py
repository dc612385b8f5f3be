"""Reads for the perturbagen page and its API: every signature of one perturbagen (by cell line,
dose and time), their consensus, and the perturbagens whose signatures match that consensus best.

- Signatures: the `Signature` table's rows of the perturbagen id, in the index serving
  (one indexed query).
- Consensus: `search.engine.consensus.votes` over their stored top genes (the method is stated in
  the answer).
- Similar perturbagens: the consensus's top QUERY_GENES raised and lowered genes searched as an
  up/down query (the rank test, mode mimic) over every signature; each other perturbagen is listed
  by its best-placed signature among the first SIMILAR_SIGNATURES, with how many of its signatures
  are there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.urls import reverse

from search.engine.consensus import votes
from search.engine.errors import UnknownPerturbagenError
from search.engine.query import MIN_GENES
from search.models import Signature
from search.runtime.index_access import search_index
from search.selectors.searches import json_value, search_link
from search.selectors.signatures import (
    METADATA_FIELDS,
    signature_set_of_index,
    with_metadata,
)

if TYPE_CHECKING:
    from search.engine.index import SearchIndex

QUERY_GENES = 50  # consensus genes per side searched for the similar perturbagens
SIMILAR_SIGNATURES = 500  # signatures of that search looked at
SIMILAR_PERTURBAGENS = 10


def perturbagen_detail(*, pert_id: str, n_genes: int = 25) -> dict[str, Any]:
    index = search_index()
    set_id = signature_set_of_index(version=index.version)
    rows = list(
        Signature.objects.filter(signature_set_id=set_id, pert_id=pert_id)
        .order_by("cell_id", "pert_dose", "pert_time", "position")
        .values("sig_id", *METADATA_FIELDS)
    )
    if not rows:
        raise UnknownPerturbagenError(
            f"no signature of perturbagen {pert_id!r} in index {index.version}", pert_id=pert_id
        )
    positions = index.table.positions([str(row["sig_id"]) for row in rows])
    found = votes(index.top_genes, positions, index.n_genes, max(n_genes, QUERY_GENES))
    up = [index.genes[gene] for gene, _ in found.up[:QUERY_GENES]]
    down = [index.genes[gene] for gene, _ in found.down[:QUERY_GENES]]
    names = [str(row["pert_iname"]) for row in rows]
    return {
        "pert_id": pert_id,
        "pert_iname": max(set(names), key=names.count),
        "pert_type": rows[0]["pert_type"],
        "index_version": index.version,
        "n_signatures": len(rows),
        "cell_lines": sorted({str(row["cell_id"]) for row in rows}),
        "signatures": [
            {
                **{key: json_value(value) for key, value in row.items()},
                "url": reverse("search:signature", args=[row["sig_id"]]),
            }
            for row in rows
        ],
        "consensus": {
            "method": found.method,
            "n_signatures": found.n_signatures,
            "top_up": _genes(index.genes, found.up[:n_genes]),
            "top_down": _genes(index.genes, found.down[:n_genes]),
        },
        "similar": _similar(index, pert_id, up, down),
        "search_url": search_link(up, down),
        "search_genes": {"up": len(up), "down": len(down)},
    }


def _genes(genes: list[str], scored: list[tuple[int, float]]) -> list[dict[str, Any]]:
    return [
        {"gene": genes[row], "score": score, "url": reverse("search:gene", args=[genes[row]])}
        for row, score in scored
    ]


def _similar(index: SearchIndex, pert_id: str, up: list[str], down: list[str]) -> dict[str, Any]:
    """The other perturbagens whose signatures the consensus's genes find first."""
    sides = [genes if len(genes) >= MIN_GENES else [] for genes in (up, down)]
    query = {"up": sides[0], "down": sides[1]}
    method = (
        f"the consensus's top {QUERY_GENES} raised and lowered genes searched (rank test, mode "
        f"mimic) over every signature; each other perturbagen by its best signature among the "
        f"first {SIMILAR_SIGNATURES}"
    )
    if not sides[0] and not sides[1]:
        return {
            "query": query,
            "method": method,
            "results": [],
            "note": f"the consensus holds fewer than {MIN_GENES} genes a side",
        }
    k = min(SIMILAR_SIGNATURES, index.n_signatures)
    result = index.search(sides[0], sides[1], mode="mimic", k=k)
    best: dict[str, dict[str, Any]] = {}
    for rank, row in enumerate(with_metadata(result.rows, index=index), start=1):
        other = str(row["pert_id"])
        if other == pert_id:
            continue
        if other not in best:
            best[other] = {
                "pert_id": other,
                "pert_iname": row["pert_iname"],
                "pert_type": row["pert_type"],
                "url": reverse("search:perturbagen", args=[other]),
                "best_sig_id": row["sig_id"],
                "best_rank": rank,
                "cell_id": row["cell_id"],
                "z_sum": json_value(row["z_sum"]),
                "n_signatures": 0,
            }
        best[other]["n_signatures"] += 1
    results = sorted(best.values(), key=lambda item: item["best_rank"])[:SIMILAR_PERTURBAGENS]
    return {"query": query, "method": method, "results": results}
