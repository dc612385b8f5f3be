"""Sliced exports: any signatures (a list of ids, or filters) x any genes, as TSV or GCTX.

The plan checks everything before a byte is sent: unknown signatures and genes (and genes outside
the index) are refused with their names, and a slice over MAX_CELLS numbers is refused with both
sizes. The answer is then streamed from the index in blocks (`search.engine.slices`): TSV gene row
by gene row, GCTX written signature block by signature block to a temporary file that is sent and
removed. The signatures' metadata comes from the Signature table, as on every page.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from search.engine.errors import InvalidQueryError, UnknownSignatureError
from search.engine.genes import ResolutionStatus
from search.engine.slices import gene_blocks, signature_blocks, slice_kind
from search.runtime.index_access import search_index
from search.selectors.genes import gene_resolver
from search.selectors.signatures import METADATA_FIELDS, signature_metadata
from transform.io.gctx import GctxWriter

if TYPE_CHECKING:
    from search.engine.index import SearchIndex

MAX_CELLS = 25_000_000  # signatures x genes of one slice (100 MB as float32)
MAX_LISTED = 100_000  # signature ids or genes named in one request
# the metadata fields that are numbers (search.models.Signature); the others are text
NUMBER_FIELDS = ("pert_dose", "pert_time")
COUNT_FIELDS = ("n_cases", "n_controls")


@dataclass(frozen=True)
class SlicePlan:
    index: SearchIndex
    sig_ids: list[str]
    positions: NDArray[np.int64]
    genes: list[str]
    gene_rows: NDArray[np.int64]
    kind: str  # "cd" or "rank"

    @property
    def cells(self) -> int:
        return len(self.sig_ids) * len(self.genes)

    @property
    def name(self) -> str:
        return f"slice-{self.index.version}-{len(self.sig_ids)}x{len(self.genes)}"


def slice_plan(
    *,
    sig_ids: Sequence[str] | None = None,
    filters: Mapping[str, object] | None = None,
    genes: Sequence[str] | None = None,
) -> SlicePlan:
    """The signatures (ids in the order given, or every signature the filters keep, in index
    order) and genes (resolved as a search resolves them, or every gene of the index)."""
    index = search_index()
    if sig_ids:
        try:
            at = index.table.positions(list(dict.fromkeys(sig_ids)))
        except UnknownSignatureError as error:  # a refusal of the request: 400, naming them
            named = error.payload["sig_ids"]
            missing = [str(s) for s in named] if isinstance(named, list) else []
            raise InvalidQueryError(
                f"{len(missing)} unknown signatures: {', '.join(missing[:10])}",
                field="sig_ids",
                unknown=missing,
            ) from error
    else:
        index.table.refuse_unmatched(filters)
        at = index.table.select(filters or {}).positions
    if at.size == 0:
        raise InvalidQueryError("no signature is selected", field="filters")
    names, rows = _genes(index, genes)
    plan = SlicePlan(
        index, [str(index.table.sig_ids[p]) for p in at], at, names, rows, slice_kind(index)
    )
    if plan.cells > MAX_CELLS:
        raise InvalidQueryError(
            f"the slice has {len(plan.sig_ids):,} signatures x {len(plan.genes):,} genes = "
            f"{plan.cells:,} numbers; at most {MAX_CELLS:,}: ask for fewer signatures or genes",
            field="genes",
        )
    return plan


def _genes(index: SearchIndex, asked: Sequence[str] | None) -> tuple[list[str], NDArray[np.int64]]:
    if not asked:
        return list(index.genes), np.arange(index.n_genes, dtype=np.int64)
    resolver = gene_resolver()
    names: list[str] = []
    unknown: list[str] = []
    outside: list[str] = []
    for resolution in resolver.resolve_many(list(dict.fromkeys(asked))):
        if resolution.status is not ResolutionStatus.RESOLVED:
            unknown.append(resolution.query)
            continue
        symbol = resolver.genes[resolution.entrez_ids[0]].symbol
        (names if index.has_gene(symbol) else outside).append(symbol)
    if unknown or outside:
        parts = [
            f"unknown or ambiguous: {', '.join(unknown[:10])}" if unknown else "",
            f"not in the index: {', '.join(outside[:10])}" if outside else "",
        ]
        raise InvalidQueryError(
            "genes " + "; ".join(p for p in parts if p),
            field="genes",
            unknown=unknown,
            not_in_index=outside,
        )
    names = list(dict.fromkeys(names))
    rows = np.array([index.gene_row(symbol) for symbol in names], dtype=np.int64)  # all known
    return names, rows


def tsv_lines(plan: SlicePlan) -> Iterator[str]:
    """A genes x signatures table: `#` lines (the index, what the numbers are), a header of the
    signature ids, then one line per gene; 9 significant digits, which give a float32 back
    exactly (the GCTX's and the API's numbers)."""
    what = "characteristic-direction coefficients" if plan.kind == "cd" else "ranks (1 = lowest)"
    yield (
        f"# index {plan.index.version}: {len(plan.genes)} genes x {len(plan.sig_ids)} "
        f"signatures; {what}\n"
    )
    yield "gene\t" + "\t".join(plan.sig_ids) + "\n"
    for rows, block in gene_blocks(plan.index, plan.gene_rows, plan.positions):
        for row, values in zip(rows, block, strict=True):
            yield plan.index.genes[int(row)] + "\t" + "\t".join(f"{v:.9g}" for v in values) + "\n"


def gctx_file(plan: SlicePlan, folder: Path) -> Path:
    """The slice as GCTX (genes x signatures, with the signatures' metadata), in `folder`."""
    path = Path(folder) / f"{plan.name}.gctx"
    row_meta = pd.DataFrame({"pr_gene_symbol": plan.genes}, index=pd.Index(plan.genes, name="rid"))
    with GctxWriter(path, row_meta) as writer:
        for at, block in signature_blocks(plan.index, plan.gene_rows, plan.positions):
            ids = [str(plan.index.table.sig_ids[p]) for p in at]
            meta = signature_metadata(version=plan.index.version, sig_ids=ids)
            writer.append(block, _metadata_frame([meta[i] for i in ids], ids))
    return path


def _metadata_frame(rows: list[dict[str, object]], ids: list[str]) -> pd.DataFrame:
    """The signatures' metadata typed by field, the same in every block (a GCTX dataset keeps
    the type of its first block): numbers as numbers, text as text, missing as CMap's -666
    (the writer's marker for None and NaN; an empty text field is missing too)."""
    frame = pd.DataFrame(rows, index=pd.Index(ids, name="cid"), columns=list(METADATA_FIELDS))
    for name in METADATA_FIELDS:
        column = frame[name]
        if name in COUNT_FIELDS:
            frame[name] = column.astype(np.int64)
        elif name in NUMBER_FIELDS:
            frame[name] = pd.to_numeric(column).astype(np.float64)
        else:
            frame[name] = column.astype(object).where(column.notna() & (column != ""), None)
    return frame


def temporary_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="portal-slice-"))
