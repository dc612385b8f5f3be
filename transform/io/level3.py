"""A Level 3 GCTX as CMap publishes it, with the tables that say what its rows and columns are.

Three layouts are read the same way:
1. CMap LINCS 2020 (`level3_beta_*_n..x12328.gctx`): row ids Entrez gene ids, column ids
   sample ids, no metadata inside; genes in `geneinfo_beta.txt`, profiles in `instinfo_beta.txt`.
2. GEO GSE92742 / GSE70138 / GSE92743 (`*_Level3_INF_mlr12k_n..x12328.gctx`): the same storage;
   genes in `*_gene_info.txt`, profiles in `*_inst_info.txt`.
3. A GCTX that carries its metadata inside (pr_gene_symbol, pr_gene_id, pr_is_lm rows; pert_*,
   cell_id columns), as the LJP plates and the synthetic world do: no tables needed.

`open_level3` checks everything before any work and refuses, naming the file, the ids and the
reason: a gene table that matches no row or has no landmark flag, a file with thousands of rows
and no gene table, a profile missing from the profile table. Tables override the fields of the
same name inside the file. Only the rows flagged as landmarks are ever read from the 12,328.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from transform.io.errors import LincsTableError, name_some
from transform.io.files import sha256_file
from transform.io.gctx import read_gctx, read_gctx_meta
from transform.io.lincs_meta import read_gene_info, read_inst_info
from transform.io.matrix import GeneMatrix
from transform.io.select import Selection

SYMBOL, ENTREZ, LANDMARK_FLAG, ENSEMBL = "pr_gene_symbol", "pr_gene_id", "pr_is_lm", "ensembl_id"
PROBE = "pr_id"  # a gene table keyed by probe (Affymetrix-style) ids, as the L1000 chip file is
QC_PASS = "qc_pass"
MAX_ROWS_WITHOUT_FLAGS = 1000  # a landmark-only file (978 rows) needs no landmark flag


@dataclass(frozen=True)
class Level3:
    """The GCTX at `path` with its row and column metadata resolved (see the module doc)."""

    path: Path
    row_meta: pd.DataFrame  # every row, indexed by row id (str)
    file_cols: pd.DataFrame  # the file's own column metadata, indexed by column id (str)
    inst: pd.DataFrame | None  # the profile table's rows for col_ids, in order (None: in-file)
    tables: dict[str, str] = field(default_factory=dict)  # "gene_info"/"inst_info" -> path
    notes: tuple[str, ...] = ()  # what a user should know (rows without a gene, ...)

    @property
    def col_ids(self) -> pd.Index:
        """Every column id, in file order."""
        return self.file_cols.index

    @property
    def n_profiles(self) -> int:
        return len(self.col_ids)

    def landmark_positions(self) -> np.ndarray:
        """Row positions of the landmarks (every row of a file without landmark flags)."""
        if LANDMARK_FLAG not in self.row_meta:
            return np.arange(len(self.row_meta))
        return np.flatnonzero((self.row_meta[LANDMARK_FLAG] == 1).to_numpy())

    def landmarks(self) -> pd.DataFrame:
        """The landmark rows, indexed by row id: symbol, entrez (Int64) and ensembl ("" absent)."""
        rows = self.row_meta.iloc[self.landmark_positions()]
        symbols = rows[SYMBOL] if SYMBOL in rows else rows.index.to_series()
        entrez = rows[ENTREZ] if ENTREZ in rows else pd.Series(np.nan, index=rows.index)
        ensembl = rows[ENSEMBL] if ENSEMBL in rows else pd.Series("", index=rows.index)
        return pd.DataFrame(
            {
                "symbol": symbols.astype(str).to_numpy(),
                "entrez": pd.to_numeric(entrez, errors="coerce").astype("Int64").to_numpy(),
                "ensembl": ensembl.fillna("").astype(str).to_numpy(),
            },
            index=rows.index,
        )

    def column_meta(self) -> pd.DataFrame:
        """Profile metadata, indexed by column id: the profile table's, else the file's own."""
        return self.file_cols if self.inst is None else self.inst

    def read(self, *, rows: Selection | None = None, cols: Selection | None = None) -> GeneMatrix:
        """The rows x cols asked for (ids or positions; None for all) with the resolved metadata."""
        matrix = read_gctx(self.path, rows=rows, cols=cols)
        row_meta = self.row_meta.loc[matrix.row_ids.astype(str)]
        col_meta = matrix.col_meta
        if self.inst is not None:
            col_meta = self.inst.loc[matrix.col_ids.astype(str)]
        return GeneMatrix(matrix.values, row_meta.rename_axis("rid"), col_meta.rename_axis("cid"))

    def passing(self) -> np.ndarray:
        """Column positions of the profiles that pass CMap's QC (qc_pass == 1)."""
        meta = self.column_meta()
        if QC_PASS not in meta:
            raise LincsTableError(
                f"{self.tables.get('inst_info', self.path)}: no {QC_PASS} column, so profiles "
                "cannot be kept by QC (LINCS 2020's instinfo_beta.txt has one; GEO's do not)"
            )
        return np.flatnonzero((pd.to_numeric(meta[QC_PASS], errors="coerce") == 1).to_numpy())

    def identity(self) -> dict[str, str]:
        """The tables' paths and SHA-256: what a resumed job must find unchanged."""
        return {
            name: f"{path} sha256:{sha256_file(Path(path))}" for name, path in self.tables.items()
        }


def open_level3(
    path: str | Path, *, gene_info: str | Path | None = None, inst_info: str | Path | None = None
) -> Level3:
    """The GCTX at `path` with its tables, checked (see the module doc)."""
    path = Path(path)
    file_rows, file_cols = read_gctx_meta(path)
    file_rows.index = file_rows.index.astype(str)
    file_cols.index = file_cols.index.astype(str)
    notes: list[str] = []
    tables = {}
    if gene_info is not None:
        row_meta = _rows_from_gene_table(path, file_rows, Path(gene_info), notes)
        tables["gene_info"] = str(gene_info)
    else:
        row_meta = file_rows
        _require_flags_or_few_rows(path, row_meta)
    inst = None
    if inst_info is not None:
        inst = profiles_from_table(path, file_cols.index, Path(inst_info))
        tables["inst_info"] = str(inst_info)
    return Level3(path, row_meta, file_cols, inst, tables, tuple(notes))


def _rows_from_gene_table(
    path: Path, file_rows: pd.DataFrame, gene_info: Path, notes: list[str]
) -> pd.DataFrame:
    genes = read_gene_info(gene_info)
    if LANDMARK_FLAG not in genes:
        raise LincsTableError(
            f"{gene_info}: no landmark flag (pr_is_lm, feature_space or Type), so it cannot say "
            f"which of the {len(file_rows):,} rows of {path.name} are the landmarks"
        )
    keyed = _keyed_like_rows(genes, file_rows.index)
    matched = file_rows.index.intersection(keyed.index)
    if matched.empty:
        raise LincsTableError(
            f"{gene_info}: none of its {len(genes):,} genes names a row of {path} (its row ids "
            f"are such as {name_some(file_rows.index[:5].tolist())}; the table's ids such as "
            f"{name_some(keyed.index[:5].tolist())})"
        )
    table_rows = keyed.reindex(file_rows.index)
    flags = pd.to_numeric(table_rows[LANDMARK_FLAG], errors="coerce").fillna(0).astype(int)
    if not (flags == 1).any():
        raise LincsTableError(f"{gene_info}: none of the rows of {path} is flagged a landmark")
    row_meta = file_rows.drop(columns=[c for c in table_rows if c in file_rows])
    row_meta = pd.concat([row_meta, table_rows.assign(**{LANDMARK_FLAG: flags})], axis=1)
    _note_gaps(path, gene_info, keyed, file_rows.index, matched, notes)
    return row_meta.rename_axis("rid")


def _keyed_like_rows(genes: pd.DataFrame, row_ids: pd.Index) -> pd.DataFrame:
    """The gene table indexed by whichever of its id columns (probe id, Entrez id) names rows."""
    by_entrez = genes.reset_index()
    by_entrez.index = by_entrez[ENTREZ].map(_id_text)
    if PROBE in genes and genes[PROBE].notna().all() and genes[PROBE].is_unique:
        by_probe = by_entrez.set_index(genes[PROBE].astype(str).to_numpy())
        if len(row_ids.intersection(by_probe.index)) > len(row_ids.intersection(by_entrez.index)):
            return by_probe
    return by_entrez


def _id_text(value: object) -> str:
    """An Entrez id as the row ids spell it: "7157", whether stored as text, int or float."""
    try:
        return str(int(float(value)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)


def _note_gaps(
    path: Path,
    gene_info: Path,
    keyed: pd.DataFrame,
    rows: pd.Index,
    matched: pd.Index,
    notes: list[str],
) -> None:
    unmatched = rows.difference(matched)
    if len(unmatched):
        notes.append(
            f"{len(unmatched):,} rows of {path.name} are not in {gene_info.name} and "
            f"count as not landmarks: {name_some(unmatched.tolist())}"
        )
    flagged = keyed.index[pd.to_numeric(keyed[LANDMARK_FLAG], errors="coerce") == 1]
    absent = flagged.difference(rows)
    if len(absent):
        notes.append(
            f"{len(absent)} landmarks of {gene_info.name} are not rows of {path.name}: "
            f"{name_some(absent.tolist())}"
        )


def _require_flags_or_few_rows(path: Path, rows: pd.DataFrame) -> None:
    if LANDMARK_FLAG not in rows and len(rows) > MAX_ROWS_WITHOUT_FLAGS:
        raise LincsTableError(
            f"{path}: {len(rows):,} rows (ids such as {name_some(rows.index[:3].tolist())}) and "
            "no landmark flag inside; give its gene table with --gene-info (LINCS 2020: "
            "geneinfo_beta.txt; GEO: *_gene_info.txt)"
        )


def profiles_from_table(path: Path, col_ids: pd.Index, inst_info: Path) -> pd.DataFrame:
    """The profile table's rows of the profiles `col_ids` of `path`, in their order; refuses,
    naming the count and the first ids, profiles that the table lacks (`convert`, `signatures`
    and `publish` alike: a profile is never dropped for want of its row)."""
    table = read_inst_info(inst_info)
    table.index = table.index.astype(str)
    absent = col_ids.difference(table.index, sort=False)
    if len(absent):
        raise LincsTableError(
            f"{inst_info}: {len(absent):,} of the {len(col_ids):,} profiles of {path} are not in "
            f"it: {name_some(absent.tolist())}"
        )
    return table.loc[col_ids].rename_axis("cid")
