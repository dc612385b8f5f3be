"""The paired set of an evaluation: L1000 Level 3 profiles and RNA-seq read counts of the same
samples, as GEO (GSE92743) and GTEx (v8 gene reads) publish them, or as a world writes them.

- L1000: a Level 3 GCTX, opened with its gene table where it carries no row metadata
  (`open_level3`, GSE92743's `*_gene_info.txt.gz`); its landmark rows and paired columns are read.
- RNA-seq: an ARCHS4-style HDF5, rows named by its symbol field; or a GCT 1.2/1.3 of read counts,
  plain or gzip, by file name .gct / .gct.gz (GTEx's `*_gene_reads.gct.gz`): only its paired
  columns are read, streaming (`read_gct_columns`), and each row is named by a gene of the
  model's gene matrix (`rows_to_space`: versionless Ensembl id, then its Description, then as a
  previous symbol). GTEx's `_PAR_Y` rows (the Y copy of a pseudoautosomal gene) are named as
  their X copy; rows given one name are summed, rows named by none are left out.
- Pairs: a table (tab-separated, a header line, two columns: L1000 column id, RNA-seq sample id,
  any header names) or identical ids. A sample of either file that pairs with nothing, and a
  table row naming a sample its file lacks, are counted and reported, never dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from transform.gene_ids import rows_to_space
from transform.io import GeneMatrix, gct_col_ids, read_archs4, read_gct_columns
from transform.io.errors import name_some
from transform.io.level3 import Level3
from transform.rnaseq import matrix_symbols

SYMBOL = "symbol"  # the row field that names the counts' rows for the model's normalization
DESCRIPTIONS = ("Description", "symbol", "gene_symbol", "pr_gene_symbol")
_PAR_Y = re.compile(r"_PAR_Y$")
SHOWN = 5


def is_gct(path: Path) -> bool:
    """Whether an RNA-seq counts file is GCT text (by name: .gct or .gct.gz), not ARCHS4 HDF5."""
    name = path.name.lower()
    return name.endswith(".gct") or name.endswith(".gct.gz")


@dataclass(frozen=True)
class Pairing:
    """Which L1000 column goes with which RNA-seq sample, and what pairs with nothing."""

    pairs: list[tuple[str, str]]  # (L1000 column id, RNA-seq sample id), evaluation order
    l1000_only: list[str]  # L1000 columns in no usable pair
    rnaseq_only: list[str]  # RNA-seq samples in no usable pair
    unusable: list[tuple[str, str]]  # pairs table rows naming a sample its file lacks
    source: str  # "identical sample ids" or "pairs table <path>"

    def summary(self) -> dict[str, object]:
        return {
            "by": self.source,
            "pairs": len(self.pairs),
            "l1000_only": len(self.l1000_only),
            "rnaseq_only": len(self.rnaseq_only),
            "unusable_pairs": len(self.unusable),
            "l1000_only_ids": self.l1000_only[:SHOWN],
            "rnaseq_only_ids": self.rnaseq_only[:SHOWN],
            "unusable_pair_ids": [list(pair) for pair in self.unusable[:SHOWN]],
        }


def read_pairs(path: Path) -> pd.DataFrame:
    """A pairs table: two columns (L1000 column id, RNA-seq sample id), any header names."""
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    if table.shape[1] != 2:
        raise ValueError(
            f"{path}: a pairs table has two tab-separated columns (L1000 column id, RNA-seq "
            f"sample id) under a header line; found {table.shape[1]}: {list(table.columns)}"
        )
    table = table.apply(lambda column: column.str.strip())
    empty = (table == "").any(axis=1)
    if empty.any():
        raise ValueError(
            f"{path}: empty ids on data lines {name_some((np.flatnonzero(empty) + 2).tolist())}"
        )
    repeated = table[table.duplicated()]
    if len(repeated):
        raise ValueError(
            f"{path}: pairs given more than once: {name_some(repeated.to_numpy().tolist())}"
        )
    return table


def pair_samples(
    l1000_ids: pd.Index, rnaseq_ids: pd.Index, table: pd.DataFrame | None, *, source: str = ""
) -> Pairing:
    """The pairs of a table (its rows whose two samples the files hold, in its order), or of
    identical ids (in the L1000 order) where there is no table."""
    l1000, rnaseq = set(l1000_ids.astype(str)), set(rnaseq_ids.astype(str))
    if table is None:
        pairs = [(cid, cid) for cid in l1000_ids.astype(str) if cid in rnaseq]
        unusable: list[tuple[str, str]] = []
        source = "identical sample ids"
    else:
        rows = list(zip(table.iloc[:, 0], table.iloc[:, 1], strict=True))
        pairs = [(a, b) for a, b in rows if a in l1000 and b in rnaseq]
        unusable = [(a, b) for a, b in rows if a not in l1000 or b not in rnaseq]
        source = f"pairs table {source}".strip()
    if not pairs:
        raise ValueError(f"the paired L1000 and RNA-seq files share no sample ({source})")
    left, right = {a for a, _ in pairs}, {b for _, b in pairs}
    return Pairing(
        pairs,
        [cid for cid in l1000_ids.astype(str) if cid not in left],
        [cid for cid in rnaseq_ids.astype(str) if cid not in right],
        unusable,
        source,
    )


@dataclass(frozen=True)
class PairedSet:
    """Both sides of the pairs, column k of each the same sample.

    l1000: landmark rows x pairs (Level 3, with the gene table's row metadata); counts: RNA-seq
    rows x pairs, a `symbol` field naming each row by a gene of the model's gene matrix ("" for
    none); routes: rows named by each route of `rows_to_space` (GCT), None where the file's own
    symbols name them (ARCHS4).
    """

    l1000: GeneMatrix
    counts: GeneMatrix
    pairing: Pairing
    routes: dict[str, int] | None

    def summary(self) -> dict[str, object]:
        naming = self.routes if self.routes is not None else "the file's symbol field"
        return {
            **self.pairing.summary(),
            "rnaseq_rows": len(self.counts.row_meta),
            "rnaseq_rows_named_by": naming,
        }


def load_paired(
    level3: Level3, rnaseq: Path, genes: tuple[str, ...], *, pairs: Path | None = None
) -> PairedSet:
    """The paired columns of both files; genes: the model's gene matrix (normalization) symbols."""
    archs4 = None if is_gct(rnaseq) else read_archs4(rnaseq)  # a paired ARCHS4 file is small
    rnaseq_ids = gct_col_ids(rnaseq) if archs4 is None else archs4.col_ids
    table = read_pairs(pairs) if pairs is not None else None
    pairing = pair_samples(level3.col_ids, rnaseq_ids, table, source=str(pairs or ""))
    l1000_ids, sample_ids = (list(side) for side in zip(*pairing.pairs, strict=True))
    at, back = np.unique(level3.col_ids.get_indexer(l1000_ids), return_inverse=True)
    l1000 = _columns(level3.read(rows=level3.landmark_positions(), cols=at), back)
    if archs4 is not None:
        counts = _columns(archs4, archs4.col_ids.get_indexer(sample_ids))
        named = counts.row_meta.assign(**{SYMBOL: [str(s) for s in matrix_symbols(counts)]})
        return PairedSet(l1000, GeneMatrix(counts.values, named, counts.col_meta), pairing, None)
    unique = list(dict.fromkeys(sample_ids))
    counts = read_gct_columns(rnaseq, unique)
    if len(unique) < len(sample_ids):  # a sample paired with several L1000 profiles
        counts = _columns(counts, counts.col_ids.get_indexer(sample_ids))
    names, routes = name_rows(counts.row_meta, genes)
    named = counts.row_meta.assign(**{SYMBOL: names})
    return PairedSet(l1000, GeneMatrix(counts.values, named, counts.col_meta), pairing, routes)


def name_rows(row_meta: pd.DataFrame, genes: tuple[str, ...]) -> tuple[list[str], dict[str, int]]:
    """Each row of a GCT of counts named by a symbol of `genes` ("" for none), and the rows named
    by each route: its id as a (versioned, `_PAR_Y`) Ensembl id, its Description as a symbol."""
    field = next((name for name in DESCRIPTIONS if name in row_meta.columns), None)
    symbols = row_meta[field].astype(str).tolist() if field else row_meta.index.tolist()
    ensembl = [_PAR_Y.sub("", str(rid)) for rid in row_meta.index]
    names, routes = rows_to_space(genes, symbols=symbols, ensembl=ensembl)
    return [str(name) for name in names], routes


def _columns(matrix: GeneMatrix, at: np.ndarray) -> GeneMatrix:
    return GeneMatrix(matrix.values[:, at], matrix.row_meta, matrix.col_meta.iloc[at])


@dataclass(frozen=True)
class Coverage:
    """Which genes of the model the paired counts hold (the others count as zero reads)."""

    matrix_absent: int  # genes of the model's gene matrix (normalization) the counts lack
    inputs: np.ndarray  # (n_input,) bool: held
    outputs: np.ndarray  # (n_output,) bool: held
    input_genes: tuple[str, ...]
    output_genes: tuple[str, ...]

    @classmethod
    def of(
        cls,
        counts: GeneMatrix,
        matrix: tuple[str, ...],
        inputs: tuple[str, ...],
        outputs: tuple[str, ...],
    ) -> Coverage:
        held = set(counts.row_meta[SYMBOL]) - {""}
        return cls(
            sum(gene not in held for gene in matrix),
            np.array([g in held for g in inputs], dtype=bool),
            np.array([g in held for g in outputs], dtype=bool),
            inputs,
            outputs,
        )

    def absent(self, outputs: bool = True) -> list[str]:
        genes, held = (
            (self.output_genes, self.outputs) if outputs else (self.input_genes, self.inputs)
        )
        return [gene for gene, h in zip(genes, held, strict=True) if not h]

    def summary(self) -> dict[str, object]:
        return {
            "gene_matrix_absent": self.matrix_absent,
            "inputs_held": int(self.inputs.sum()),
            "inputs": len(self.inputs),
            "outputs_held": int(self.outputs.sum()),
            "outputs": len(self.outputs),
            "inputs_absent": self.absent(outputs=False)[:20],
            "outputs_absent": self.absent()[:20],
        }


def report_lines(paired: PairedSet, coverage: Coverage) -> list[str]:
    """The markdown lines that say how the sides were paired and what the counts hold."""
    p = paired.pairing
    lines = [
        "**Paired set**",
        "",
        f"- pairs: {len(p.pairs):,} (by {p.source})",
        f"- L1000 profiles in no pair: {len(p.l1000_only):,}" + _some(p.l1000_only),
        f"- RNA-seq samples in no pair: {len(p.rnaseq_only):,}" + _some(p.rnaseq_only),
    ]
    if p.unusable:
        shown = [f"{a} / {b}" for a, b in p.unusable]
        lines.append(f"- pairs naming a sample its file lacks: {len(p.unusable):,}" + _some(shown))
    n_rows = len(paired.counts.row_meta)
    if paired.routes is None:
        lines.append(f"- RNA-seq rows: {n_rows:,}, named by the file's symbol field")
    else:
        r = paired.routes
        lines.append(
            f"- RNA-seq rows: {n_rows:,}; named by a gene of the model's gene matrix: "
            f"{r['ensembl']:,} by Ensembl id, {r['symbol']:,} by symbol, "
            f"{r['previous symbol']:,} by previous symbol; {r['unmatched']:,} name none (left out)"
        )
    lines += _gene_lines(coverage)
    return [*lines, ""]


def _gene_lines(c: Coverage) -> list[str]:
    return [
        f"- genes of the model's gene matrix the counts lack (zero reads): {c.matrix_absent:,}",
        f"- output genes the counts hold: {int(c.outputs.sum()):,} of {len(c.outputs):,}; "
        f"the full-level metrics are over these (the paper: 22,240 of 23,614 in GTEx)"
        + _some(c.absent(), "lacking"),
        f"- landmarks (model inputs) the counts hold: {int(c.inputs.sum()):,} of "
        f"{len(c.inputs):,}; the landmark-level metrics are over these"
        + _some(c.absent(outputs=False), "lacking"),
    ]


def _some(ids: list[str], what: str = "") -> str:
    if not ids:
        return ""
    return f" ({what + ': ' if what else ''}{name_some(ids, limit=SHOWN)})"
