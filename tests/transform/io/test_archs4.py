"""ARCHS4 HDF5: both orientations, subsets by symbol, id and sample, streaming, refusals.

No real ARCHS4 file is available offline, so the files are made here from real counts (the
airway RNA-seq study, tests/data/rnaseq) and real symbols (the committed NCBI gene table): v2
files by the writer under test, earlier samples x genes files by plain h5py.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from tests.conftest import REFERENCE_DIR, REPO
from transform.io import (
    Archs4FormatError,
    Archs4Writer,
    UnknownIdError,
    archs4_info,
    iter_archs4_samples,
    read_archs4,
    write_archs4,
)

AIRWAY = REPO / "tests" / "data" / "rnaseq" / "airway_rawcounts.csv"
NCBI_GENES = REFERENCE_DIR / "human_genes_ncbi_orgHsegdb_2022-09.tsv.gz"
Airway = tuple[np.ndarray, pd.DataFrame, pd.DataFrame]


@pytest.fixture(scope="module")
def airway() -> Airway:
    """counts (n_genes, 8) uint32, gene table (ensembl_gene_id, symbol), sample table."""
    counts = pd.read_csv(AIRWAY, nrows=3000, index_col="ensgene")
    ncbi = pd.read_csv(NCBI_GENES, sep="\t", usecols=["symbol", "ensembl_gene_ids"]).dropna()
    ncbi["ensembl"] = ncbi["ensembl_gene_ids"].str.split("|")
    symbols = ncbi.explode("ensembl").drop_duplicates("ensembl").set_index("ensembl")["symbol"]
    counts = counts[counts.index.isin(symbols.index)]
    genes = pd.DataFrame(
        {"ensembl_gene_id": counts.index, "symbol": symbols[counts.index].to_numpy()}
    )
    samples = pd.DataFrame(
        {
            "geo_accession": counts.columns,  # the runs' SRR ids stand in for GSM accessions
            "series_id": "GSE52778",
            "characteristics_ch1": ["cell type: airway smooth muscle"] * 8,
            "singlecellprobability": [f"{p:.3f}" for p in np.linspace(0.01, 0.08, 8)],
            "readsaligned": counts.sum(axis=0).to_numpy(),
        }
    )
    return counts.to_numpy(dtype=np.uint32), genes, samples


def _write_transposed(
    path: Path, counts: np.ndarray, genes: pd.DataFrame, samples: pd.DataFrame
) -> None:
    """An earlier-release layout with plain h5py: samples x genes int32, `gene_symbol`, gene
    fields as fixed-width and sample fields as variable-length byte strings."""
    with h5py.File(path, "w") as file:
        file["data/expression"] = counts.T.astype(np.int32)
        file["meta/genes/gene_symbol"] = genes["symbol"].str.encode("utf-8").to_numpy(dtype="S")
        file["meta/genes/ensembl_gene_id"] = genes["ensembl_gene_id"].to_numpy(dtype="S")
        for field in samples:
            text = samples[field].astype(str).tolist()
            file.create_dataset(f"meta/samples/{field}", data=text, dtype=h5py.string_dtype())


@pytest.fixture(params=["v2", "transposed"])
def archs4_file(request: pytest.FixtureRequest, airway: Airway, tmp_path: Path) -> Path:
    path = tmp_path / f"{request.param}.h5"
    if request.param == "v2":
        write_archs4(path, *airway)
    else:
        _write_transposed(path, *airway)
    return path


def test_a_written_file_reads_back_genes_by_samples(airway: Airway, tmp_path: Path) -> None:
    counts, genes, samples = airway
    write_archs4(tmp_path / "a.h5", counts, genes, samples)
    info = archs4_info(tmp_path / "a.h5")
    assert (info.n_genes, info.n_samples, info.orientation) == (2970, 8, "genes x samples")
    assert info.symbols == genes["symbol"].tolist()
    assert info.dtype == np.uint32
    matrix = read_archs4(tmp_path / "a.h5")
    np.testing.assert_array_equal(matrix.values, counts)
    assert matrix.values.dtype == np.uint32
    assert (
        matrix.values[matrix.row_ids.get_loc("ENSG00000000003"), 0] == 679
    )  # the CSV's first count
    assert matrix.row_meta.loc["ENSG00000000003", "symbol"] == "TSPAN6"
    assert matrix.col_ids.tolist() == samples["geo_accession"].tolist()
    assert matrix.col_meta["singlecellprobability"].dtype == np.float64  # stored as text
    assert matrix.col_meta["readsaligned"].tolist() == counts.sum(axis=0).tolist()


def test_the_transposed_layout_of_earlier_releases_reads_the_same(
    airway: Airway, tmp_path: Path
) -> None:
    counts, genes, _ = airway
    _write_transposed(tmp_path / "old.h5", *airway)
    info = archs4_info(tmp_path / "old.h5")
    assert (info.n_genes, info.n_samples, info.orientation) == (2970, 8, "samples x genes")
    assert info.symbols[:3] == genes["symbol"].tolist()[:3]
    matrix = read_archs4(tmp_path / "old.h5")
    np.testing.assert_array_equal(matrix.values, counts)
    assert matrix.values.dtype == np.int32
    assert matrix.row_ids.tolist() == genes["ensembl_gene_id"].tolist()
    assert matrix.col_meta["readsaligned"].tolist() == counts.sum(axis=0).tolist()
    assert matrix.col_meta.loc["SRR1039508", "series_id"] == "GSE52778"


def test_written_files_are_gzip_chunked_by_samples(airway: Airway, tmp_path: Path) -> None:
    write_archs4(tmp_path / "a.h5", *airway)
    with h5py.File(tmp_path / "a.h5") as file:
        expression = file["data/expression"]
        assert expression.shape == (2970, 8)
        assert expression.chunks == (2970, 2**20 // (2970 * 4))
        assert expression.compression == "gzip"
        assert set(file["meta/genes"]) == {"ensembl_gene_id", "symbol"}
        assert file["meta/samples/geo_accession"][0] == b"SRR1039508"


def test_subsets_by_symbol_ensembl_id_and_sample_keep_the_callers_order(
    archs4_file: Path, airway: Airway
) -> None:
    counts, genes, _ = airway
    wanted = [genes["symbol"][10], genes["ensembl_gene_id"][3], genes["symbol"][2500]]
    subset = read_archs4(archs4_file, genes=wanted, samples=["SRR1039521", "SRR1039508"])
    np.testing.assert_array_equal(subset.values, counts[np.ix_([10, 3, 2500], [7, 0])])
    assert subset.row_ids.tolist() == genes["ensembl_gene_id"][[10, 3, 2500]].tolist()
    assert subset.col_ids.tolist() == ["SRR1039521", "SRR1039508"]
    by_position = read_archs4(archs4_file, genes=np.array([10, 3, 2500]), samples=[7, 0])
    np.testing.assert_array_equal(by_position.values, subset.values)


def test_streaming_samples_reassembles_the_file(archs4_file: Path, airway: Airway) -> None:
    counts, _, samples = airway
    chunks = list(iter_archs4_samples(archs4_file, chunk_size=3))
    assert [chunk.shape[1] for chunk in chunks] == [3, 3, 2]
    np.testing.assert_array_equal(np.concatenate([c.values for c in chunks], axis=1), counts)
    ids = pd.concat([c.col_meta for c in chunks]).index
    assert ids.tolist() == samples["geo_accession"].tolist()
    few = list(iter_archs4_samples(archs4_file, chunk_size=5, genes=["TSPAN6", "DPM1"]))
    assert few[0].row_meta["ensembl_gene_id"].tolist() == ["ENSG00000000003", "ENSG00000000419"]
    np.testing.assert_array_equal(few[1].values, counts[[0, 2], 5:])


def test_the_streaming_writer_in_chunks_equals_write_archs4(airway: Airway, tmp_path: Path) -> None:
    counts, genes, samples = airway
    write_archs4(tmp_path / "whole.h5", counts, genes, samples)
    with Archs4Writer(tmp_path / "chunked.h5", genes, chunk_samples=2) as writer:
        for start in range(0, 8, 3):
            writer.append(counts[:, start : start + 3], samples[start : start + 3])
    whole, chunked = read_archs4(tmp_path / "whole.h5"), read_archs4(tmp_path / "chunked.h5")
    np.testing.assert_array_equal(chunked.values, whole.values)
    pd.testing.assert_frame_equal(chunked.col_meta, whole.col_meta)
    pd.testing.assert_frame_equal(chunked.row_meta, whole.row_meta)


def test_an_ambiguous_symbol_is_refused_but_its_ensembl_ids_work(
    airway: Airway, tmp_path: Path
) -> None:
    counts, genes, samples = airway
    shared = genes.assign(symbol=genes["symbol"].where(genes.index != 1, genes["symbol"][0]))
    write_archs4(tmp_path / "a.h5", counts, shared, samples)
    with pytest.raises(ValueError, match="gene symbols 'TSPAN6' name several genes"):
        read_archs4(tmp_path / "a.h5", genes=["TSPAN6"])
    both = read_archs4(tmp_path / "a.h5", genes=["ENSG00000000005", "ENSG00000000003"])
    np.testing.assert_array_equal(both.values, counts[[1, 0]])


def test_unknown_genes_and_samples_are_named(archs4_file: Path) -> None:
    with pytest.raises(UnknownIdError, match=r"1 of 2 requested gene ids .*'NOTAGENE'"):
        read_archs4(archs4_file, genes=["TSPAN6", "NOTAGENE"])
    with pytest.raises(UnknownIdError, match=r"requested sample ids .*'GSM0'"):
        read_archs4(archs4_file, samples=["GSM0"])


def _h5(path: Path, expression: np.ndarray, n_genes: int, n_samples: int) -> Path:
    with h5py.File(path, "w") as file:
        file["data/expression"] = expression
        file["meta/genes/symbol"] = np.array([f"G{i}" for i in range(n_genes)], dtype="S")
        file["meta/samples/geo_accession"] = np.array(
            [f"GSM{j}" for j in range(n_samples)], dtype="S"
        )
    return path


def test_a_square_matrix_is_refused_as_ambiguous(tmp_path: Path) -> None:
    path = _h5(tmp_path / "square.h5", np.zeros((8, 8), dtype=np.uint32), 8, 8)
    with pytest.raises(Archs4FormatError, match=r"square \(8, 8\) .* cannot be told"):
        read_archs4(path)


def test_a_matrix_fitting_neither_orientation_is_refused(tmp_path: Path) -> None:
    path = _h5(tmp_path / "odd.h5", np.zeros((10, 7), dtype=np.uint32), 10, 8)
    with pytest.raises(
        Archs4FormatError, match=r"shape \(10, 7\), which fits neither 10 genes x 8"
    ):
        archs4_info(path)


def test_gene_fields_of_different_lengths_are_refused(tmp_path: Path) -> None:
    path = _h5(tmp_path / "a.h5", np.zeros((10, 8), dtype=np.uint32), 10, 8)
    with h5py.File(path, "r+") as file:
        file["meta/genes/ensembl_gene_id"] = np.array([b"ENSG1"] * 9)
    with pytest.raises(Archs4FormatError, match="ensembl_gene_id 9, symbol 10"):
        read_archs4(path)


def test_a_file_without_sample_accessions_or_counts_is_refused(tmp_path: Path) -> None:
    path = _h5(tmp_path / "a.h5", np.zeros((10, 8), dtype=np.uint32), 10, 8)
    with h5py.File(path, "r+") as file:
        file["meta/samples/title"] = file["meta/samples/geo_accession"][()]
        del file["meta/samples/geo_accession"]
    with pytest.raises(Archs4FormatError, match="missing dataset /meta/samples/geo_accession"):
        read_archs4(path)
    path = _h5(tmp_path / "b.h5", np.zeros((10, 8), dtype=np.uint32), 10, 8)
    with h5py.File(path, "r+") as file:
        del file["data/expression"]
    with pytest.raises(Archs4FormatError, match="missing dataset /data/expression"):
        archs4_info(path)


def test_the_writer_refuses_bad_counts_and_repeated_samples(airway: Airway, tmp_path: Path) -> None:
    counts, genes, samples = airway
    with Archs4Writer(tmp_path / "a.h5", genes) as writer:
        with pytest.raises(TypeError, match="counts must be integers, got float64"):
            writer.append(counts[:, :2].astype(float), samples[:2])
        with pytest.raises(ValueError, match=r"counts -1\.\.\d+ do not fit uint32"):
            writer.append(counts[:, :2].astype(np.int64) - 1, samples[:2])
        writer.append(counts[:, :2], samples[:2])
        with pytest.raises(ValueError, match="duplicate column ids 'SRR1039509'"):
            writer.append(counts[:, 1:3], samples[1:3])
        with pytest.raises(ValueError, match="samples_meta needs a geo_accession column"):
            writer.append(counts[:, 2:3], samples[2:3].drop(columns="geo_accession"))
    assert read_archs4(tmp_path / "a.h5").shape == (2970, 2)
