"""Some columns of a GCT read in a stream: a GTEx-like GCT 1.2 of real read counts (airway), plain
and gzip-compressed, against pandas reading the whole file; and the real LJP005 GCT 1.3."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO
from tests.transform.io.real_files import LJP005_GCT
from transform.gene_ids import gene_registry
from transform.io import (
    GctFormatError,
    UnknownIdError,
    gct_col_ids,
    read_gct,
    read_gct_columns,
)

AIRWAY = REPO / "tests" / "data" / "rnaseq" / "airway_rawcounts.csv"
PAR_GENE = "ENSG00000182378"  # PLCXD1, pseudoautosomal: GTEx v8 has a `_PAR_Y` row for it
ASKED = ["SRR1039521", "SRR1039508", "SRR1039513"]  # neither the file's order nor its reverse


def _gtex_like_lines(n_rows: int = 299) -> list[str]:
    """GCT 1.2 as GTEx v8 writes gene reads: versioned Ensembl ids (one `_PAR_Y` copy with zero
    reads), the registry's symbol as Description ("na" where it has none), integer counts."""
    airway = pd.read_csv(AIRWAY, index_col="ensgene")
    par_y = pd.DataFrame(0, index=[PAR_GENE], columns=airway.columns)
    rows = pd.concat([airway.iloc[: n_rows - 1], airway.loc[[PAR_GENE]], par_y])
    symbols = [s or "na" for s in gene_registry().symbols_of_ensembl(rows.index[:-1].tolist())]
    symbols.append(symbols[-1])  # the Y copy has its X copy's symbol
    names = [f"{gene}.5" for gene in rows.index[:-1]] + [f"{PAR_GENE}.5_PAR_Y"]
    lines = ["#1.2", f"{len(rows)}\t{rows.shape[1]}", "\t".join(["Name", "Description", *rows])]
    for name, symbol, counts in zip(names, symbols, rows.to_numpy(), strict=True):
        lines.append("\t".join([name, symbol, *map(str, counts)]))
    return lines


def _write(path: Path, lines: list[str]) -> Path:
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as out:
            out.write(text)
    else:
        path.write_text(text)
    return path


@pytest.fixture(scope="module")
def gtex_like(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("gct") / "gene_reads.gct", _gtex_like_lines())


@pytest.fixture(scope="module", params=["plain", "gzip"])
def either(request: pytest.FixtureRequest, gtex_like: Path, tmp_path_factory) -> Path:
    if request.param == "plain":
        return gtex_like
    packed = tmp_path_factory.mktemp("gz") / "gene_reads.gct.gz"
    with open(gtex_like, "rb") as source, gzip.open(packed, "wb") as target:
        shutil.copyfileobj(source, target)
    return packed


def _pandas_whole(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", skiprows=2, index_col="Name")


def test_it_reads_the_asked_columns_in_the_order_asked_as_pandas_reads_the_whole_file(
    either: Path,
) -> None:
    whole = _pandas_whole(either)
    matrix = read_gct_columns(either, ASKED, block_rows=64)
    assert matrix.values.dtype == np.int64
    np.testing.assert_array_equal(matrix.values, whole[ASKED].to_numpy())
    assert matrix.col_ids.tolist() == ASKED
    assert matrix.row_ids.tolist() == whole.index.tolist()
    descriptions = whole["Description"].replace("na", None)  # GCT's filler reads as missing
    assert matrix.row_meta["Description"].fillna("-").tolist() == descriptions.fillna("-").tolist()
    assert matrix.row_ids[-1] == f"{PAR_GENE}.5_PAR_Y"
    assert matrix.row_meta["Description"].iloc[-1] == "PLCXD1"  # the registry's symbol


def test_the_block_size_does_not_change_the_result(gtex_like: Path) -> None:
    one = read_gct_columns(gtex_like, ASKED, block_rows=1)
    for block_rows in (7, 300, 10_000):
        other = read_gct_columns(gtex_like, ASKED, block_rows=block_rows)
        np.testing.assert_array_equal(other.values, one.values)
        pd.testing.assert_frame_equal(other.row_meta, one.row_meta)


def test_it_gives_every_column_id_from_the_header_alone(either: Path) -> None:
    assert gct_col_ids(either).tolist() == _pandas_whole(either).columns[1:].tolist()


def test_unknown_columns_raise_naming_them(gtex_like: Path) -> None:
    with pytest.raises(UnknownIdError, match=r"GTEX-1117F-0226.*GTEX-XXXX"):
        read_gct_columns(gtex_like, ["SRR1039508", "GTEX-1117F-0226", "GTEX-XXXX"])


def test_a_value_that_is_not_whole_makes_every_value_float64(tmp_path: Path) -> None:
    lines = _gtex_like_lines(40)
    fields = lines[3 + 30].split("\t")  # row 31: after the first blocks of 8 were read as int64
    fields[2], fields[9] = "12.5", "NA"  # SRR1039508 and SRR1039521
    lines[3 + 30] = "\t".join(fields)
    path = _write(tmp_path / "mixed.gct.gz", lines)
    matrix = read_gct_columns(path, ASKED, block_rows=8)
    assert matrix.values.dtype == np.float64
    whole = pd.read_csv(path, sep="\t", skiprows=2, index_col="Name")
    np.testing.assert_array_equal(matrix.values, whole[ASKED].to_numpy(dtype=np.float64))
    assert matrix.values[30, 1] == 12.5
    assert np.isnan(matrix.values[30, 0])


def test_a_cell_that_is_not_a_number_names_its_line_and_column(tmp_path: Path) -> None:
    lines = _gtex_like_lines(20)
    fields = lines[3 + 9].split("\t")
    fields[9] = "lots"
    lines[3 + 9] = "\t".join(fields)
    with pytest.raises(GctFormatError, match=r"line 13: column 'SRR1039521': 'lots'"):
        read_gct_columns(_write(tmp_path / "bad.gct", lines), ASKED, block_rows=4)


def test_a_short_line_or_a_missing_row_is_refused_with_its_line(tmp_path: Path) -> None:
    lines = _gtex_like_lines(20)
    short = [*lines[:8], lines[8].rsplit("\t", 1)[0], *lines[9:]]
    with pytest.raises(GctFormatError, match="line 9: expected 10 tab-separated fields, found 9"):
        read_gct_columns(_write(tmp_path / "short.gct", short), ASKED)
    with pytest.raises(GctFormatError, match="truncated"):
        read_gct_columns(_write(tmp_path / "cut.gct.gz", lines[:-1]), ASKED)


def test_gct_13_columns_come_with_their_metadata_as_read_gct_reads_them() -> None:
    whole = read_gct(LJP005_GCT)
    at = [300, 4, 17]
    matrix = read_gct_columns(LJP005_GCT, whole.col_ids[at].tolist())
    assert matrix.values.dtype == np.float64  # the plate's values have decimals
    np.testing.assert_allclose(matrix.values, whole.values[:, at], rtol=1e-6)
    pd.testing.assert_frame_equal(matrix.row_meta, whole.row_meta)
    pd.testing.assert_frame_equal(matrix.col_meta, whole.col_meta.iloc[at])
