"""Readers and writers of the field's file formats, on h5py and pandas; GeneMatrix in memory.

GCTX (CMap HDF5) and GCT 1.2/1.3 matrices (or some columns of a large GCT, plain or gzip, streamed),
ARCHS4 gene-count HDF5 files, LINCS metadata tables (inst_info, sig_info, gene_info, cell_info,
pert_info) and GMT gene sets. Errors in files raise
`FileFormatError` subclasses naming the problem; unknown ids raise `UnknownIdError`.
"""

from transform.io.archs4 import (
    Archs4Info,
    Archs4Writer,
    archs4_info,
    iter_archs4_samples,
    read_archs4,
    write_archs4,
)
from transform.io.errors import (
    Archs4FormatError,
    FileFormatError,
    GctFormatError,
    GctxFormatError,
    LincsTableError,
    UnknownIdError,
)
from transform.io.gct import gct_col_ids, read_gct, read_gct_columns
from transform.io.gct_write import write_gct
from transform.io.gctx import (
    GctxWriter,
    gctx_shape,
    iter_gctx_columns,
    read_gctx,
    read_gctx_meta,
    write_gctx,
    write_gctx_columns,
)
from transform.io.lincs_meta import (
    inst_info_from_gctx_cols,
    read_cell_info,
    read_gene_info,
    read_inst_info,
    read_lincs_table,
    read_pert_info,
    read_sig_info,
    write_lincs_table,
)
from transform.io.matrix import GeneMatrix

__all__ = [
    "Archs4FormatError",
    "Archs4Info",
    "Archs4Writer",
    "FileFormatError",
    "GctFormatError",
    "GctxFormatError",
    "GctxWriter",
    "GeneMatrix",
    "LincsTableError",
    "UnknownIdError",
    "archs4_info",
    "gct_col_ids",
    "gctx_shape",
    "inst_info_from_gctx_cols",
    "iter_archs4_samples",
    "iter_gctx_columns",
    "read_archs4",
    "read_cell_info",
    "read_gct",
    "read_gct_columns",
    "read_gctx",
    "read_gctx_meta",
    "read_gene_info",
    "read_inst_info",
    "read_lincs_table",
    "read_pert_info",
    "read_sig_info",
    "write_archs4",
    "write_gct",
    "write_gctx",
    "write_gctx_columns",
    "write_lincs_table",
]
