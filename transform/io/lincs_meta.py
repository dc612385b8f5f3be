"""LINCS metadata tables as CMap publishes them: tab-separated text, one row per id.

    inst_info   one row per profile (well):   inst_id, rna_plate, rna_well, pert_*, cell_id
    sig_info    one row per signature:        sig_id, pert_*, cell_id, distil_id ("|"-joined wells)
    gene_info   one row per gene:             pr_gene_id (Entrez), pr_gene_symbol, pr_is_lm, ...
    cell_info   one row per cell line:        cell_id, then whatever the release describes
    pert_info   one row per perturbagen:      pert_id, pert_iname, pert_type, ...

The gene, profile and signature tables are read in any dialect of `transform.io.dialects` (GEO's
GSE92742 / GSE70138 files, LINCS 2020's *_beta files, the clue.io gene space) and come back in the
GEO names above; `table.attrs["dialect"]` says which was read. Readers return a DataFrame indexed
by the id column, after checking the required columns and that every id is present and unique.
Plain or gzip-compressed files (any name) are read, as UTF-8 or else latin-1. Cells are typed as
in `transform.io.meta`: "-666" (and an empty cell) is missing (NaN), columns of numbers come back
numeric (pr_gene_id as int64). `write_lincs_table` writes the GEO format.
"""

from __future__ import annotations

import csv
import gzip
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from transform.io.dialects import expected_headers, recognise
from transform.io.errors import LincsTableError, name_some
from transform.io.files import is_gzip, replaced_atomically
from transform.io.meta import id_index, refuse_breaks, text_values, typed_frame

PERT = ("pert_id", "pert_iname", "pert_type")


@dataclass(frozen=True)
class TableKind:
    name: str
    id_column: str
    required: tuple[str, ...]  # beside the id column
    optional: tuple[str, ...] = ()  # read as missing where a release lacks them
    dialects: str | None = None  # the table kind of `transform.io.dialects`, if it has dialects

    @property
    def fields(self) -> tuple[str, ...]:
        """The required and optional fields, in the order GEO's files give them."""
        return tuple(name for name in FIELD_ORDER if name in (*self.required, *self.optional))


FIELD_ORDER = (
    "rna_plate",
    "rna_well",
    *PERT,
    "pert_dose",
    "pert_dose_unit",
    "pert_time",
    "pert_time_unit",
    "cell_id",
    "pert_idose",
    "pert_itime",
    "distil_id",
)
INST_INFO = TableKind(
    "inst_info",
    "inst_id",
    (
        "rna_plate",
        "rna_well",
        *PERT,
        "pert_dose",
        "pert_dose_unit",
        "pert_time",
        "pert_time_unit",
        "cell_id",
    ),
    (),
    "profiles",
)
SIG_INFO = TableKind(
    "sig_info",
    "sig_id",
    (*PERT, "cell_id", "distil_id"),
    ("pert_idose", "pert_itime"),
    "signatures",
)
GENE_INFO = TableKind("gene_info", "pr_gene_id", ("pr_gene_symbol",), (), "genes")
CELL_INFO = TableKind("cell_info", "cell_id", ())
PERT_INFO = TableKind("pert_info", "pert_id", PERT[1:])
INST_ID = re.compile(r"^(?P<plate>.+)_B\d+[^:_]*:(?P<well>[A-P]\d{2})$")  # LJP005_..._X1_B19:A03


def read_inst_info(path: str | Path) -> pd.DataFrame:
    return read_lincs_table(path, INST_INFO)


def read_sig_info(path: str | Path) -> pd.DataFrame:
    return read_lincs_table(path, SIG_INFO)


def read_gene_info(path: str | Path) -> pd.DataFrame:
    return read_lincs_table(path, GENE_INFO)


def read_cell_info(path: str | Path) -> pd.DataFrame:
    return read_lincs_table(path, CELL_INFO)


def read_pert_info(path: str | Path) -> pd.DataFrame:
    return read_lincs_table(path, PERT_INFO)


def read_lincs_table(path: str | Path, kind: TableKind) -> pd.DataFrame:
    """A LINCS table of `kind`, typed and indexed by its id column (see the module docstring)."""
    cells = _read_cells(path)
    dialect = None
    if kind.dialects:
        dialect = recognise(cells.columns.tolist(), kind.dialects)
        if dialect is None:
            raise LincsTableError(
                f"{path}: not a {kind.name} table of a known release: its header starts "
                f"{cells.columns[:6].tolist()}; expected ({expected_headers(kind.dialects)})"
            )
        cells = _with_plate_and_well(dialect.to_ours(cells), kind)
    missing = [name for name in (kind.id_column, *kind.required) if name not in cells.columns]
    if missing:
        read_as = f" (read as {dialect.name})" if dialect else ""
        raise LincsTableError(f"{path}: {kind.name} lacks the required columns {missing}{read_as}")
    cells = cells.assign(**{name: "-666" for name in kind.optional if name not in cells})
    columns = {name: cells[name].to_numpy(dtype=object) for name in cells.columns}
    table = _indexed(typed_frame(columns, pd.RangeIndex(len(cells))), kind.id_column, str(path), 2)
    table.attrs["dialect"] = dialect.name if dialect else kind.name
    return table


def _with_plate_and_well(cells: pd.DataFrame, kind: TableKind) -> pd.DataFrame:
    """rna_plate and rna_well from CMap well ids, for a profile table that lacks them."""
    if kind is not INST_INFO or kind.id_column not in cells:
        return cells
    wanted = [name for name in ("rna_plate", "rna_well") if name not in cells]
    if not wanted:
        return cells
    parts = cells[kind.id_column].astype(str).str.extract(INST_ID)
    if parts.isna().any().any():
        return cells  # refused below as lacking rna_plate, when it does
    return cells.assign(**{name: parts[name[4:]].to_numpy() for name in wanted})


def _read_cells(path: str | Path) -> pd.DataFrame:
    compression = "gzip" if is_gzip(path) else None
    for encoding in ("utf-8", "latin-1"):
        try:
            cells = pd.read_csv(
                path,
                sep="\t",
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                quoting=csv.QUOTE_NONE,
                compression=compression,
                encoding=encoding,
            )
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise LincsTableError(f"{path}: not a tab-separated table ({exc})") from exc
        _refuse_short_rows(path, len(cells.columns))
        return cells
    raise AssertionError("latin-1 decodes any bytes")


def _refuse_short_rows(path: str | Path, n_fields: int) -> None:
    """Refuse rows of fewer cells than the header, which the reader would fill with missing
    values: a table cut short (a download stopped mid-row) or damaged. A longer row is refused
    by the reader; cells hold no tabs or line breaks (no quoting), so tabs count the cells."""
    short = []
    opener = gzip.open if is_gzip(path) else open
    with opener(path, "rb") as lines:
        for number, line in enumerate(lines, start=1):
            if line.count(b"\t") + 1 < n_fields and line.strip(b"\r\n"):
                short.append(number)
    if short:
        raise LincsTableError(
            f"{path}: {len(short):,} rows of fewer than the header's {n_fields} cells (line "
            f"{name_some(short)}): the table is cut short or damaged; download it again"
        )


def _indexed(
    table: pd.DataFrame, id_column: str, source: str, first_line: int | None
) -> pd.DataFrame:
    """`table` indexed by `id_column`, refusing missing and duplicate ids (with their lines)."""
    ids = table[id_column]
    absent = np.flatnonzero(ids.isna().to_numpy())
    if len(absent):
        where = f" (lines {name_some((absent + first_line).tolist())})" if first_line else ""
        raise LincsTableError(f"{source}: {len(absent)} rows without an {id_column}{where}")
    repeated = ids[ids.duplicated()].unique().tolist()
    if repeated:
        at = np.flatnonzero((ids == repeated[0]).to_numpy()) + (first_line or 0)
        where = f" ({repeated[0]!r} on lines {', '.join(map(str, at))})" if first_line else ""
        raise LincsTableError(f"{source}: duplicate {id_column} {name_some(repeated)}{where}")
    return table.set_index(id_column)


def write_lincs_table(path: str | Path, frame: pd.DataFrame) -> None:
    """Write a table as GEO's LINCS files are: the index (named) first, tabs, "-666" for missing.

    A path ending in .gz is gzip-compressed. The file is replaced atomically.
    """
    if frame.index.name is None:
        raise ValueError("name the index: it becomes the id column (inst_id, sig_id, ...)")
    names = [str(frame.index.name), *map(str, frame.columns)]
    refuse_breaks(names, "column names")
    columns = [text_values(pd.Series(frame.index), name=names[0])]
    columns += [text_values(frame[column], name=str(column)) for column in frame.columns]
    opener = gzip.open if str(path).endswith(".gz") else open
    with replaced_atomically(path) as temp, opener(temp, "wt", encoding="utf-8", newline="") as out:
        out.write("\t".join(names) + "\n")
        for row in zip(*columns, strict=True):
            out.write("\t".join(row) + "\n")


def inst_info_from_gctx_cols(col_meta: pd.DataFrame, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """An inst_info table from the column metadata of a Level 3 GCT/GCTX (indexed by well id).

    Takes the inst_info columns the metadata carry, and the fields of `keep` where present;
    rna_plate and rna_well, where absent, come from CMap well ids
    (`<rna_plate>_<bead batch>:<well>`, e.g. LJP005_A375_24H_X1_B19:A03).
    """
    table = col_meta.copy()
    ids = id_index(col_meta.index)
    parts = ids.str.extract(INST_ID)
    for column, part in (("rna_plate", "plate"), ("rna_well", "well")):
        if column not in table and parts[part].notna().all():
            table[column] = parts[part].to_numpy()
    missing = [name for name in INST_INFO.required if name not in table]
    if missing:
        raise LincsTableError(f"the column metadata lack the inst_info fields {missing}")
    table = table.assign(**{name: np.nan for name in INST_INFO.optional if name not in table})
    table = table[[*INST_INFO.fields, *(name for name in keep if name in table)]]
    table.insert(0, INST_INFO.id_column, ids)
    return _indexed(table.reset_index(drop=True), INST_INFO.id_column, "column metadata", None)
