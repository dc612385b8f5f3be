"""The real LJP005 Level 3 plate in the three layouts CMap publishes, written as CMap writes them.

Landmark values are the plate's own (tests/data/l1000, real); the other 11,350 rows of the 12,328
L1000 genes (the clue.io gene space, Type != "not inferred") are seeded random values, as an
inferred row is nothing our reader reads. The files are written with h5py and plain text here,
from the publishers' documented layouts, not with our writers:

1. LINCS 2020 ("beta"): the matrix (profiles, 12,328) float32 in (262, 1000) chunks (CMap's
   cmapM writer: 1,000 genes and 262,144 values a chunk), rows ordered by Entrez id as text,
   only `id` under /0/META/ROW and /0/META/COL; geneinfo_beta.txt (2019 symbols, Ensembl ids,
   feature_space), instinfo_beta.txt (30 columns, empty cells for missing, qc_pass 0/1, rows
   in another order and rows of profiles of other files).
2. GEO GSE70138: the same storage, contiguous (cmapPy's writer sets no chunks), rows by Entrez
   id as numbers; *_gene_info.txt.gz (2017 symbols, pr_is_lm) and *_inst_info.txt.gz in
   GSE70138's 12 columns (no rna_plate / rna_well: they come from the well ids), -666 missing.
3. Metadata inside: the plate as GCTX with its row and column metadata (our writer).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from tests.conftest import REPO
from tests.transform.io.real_files import LJP005_GCT
from transform.gene_ids import gene_registry
from transform.io import GeneMatrix, read_gct, write_archs4, write_gctx

CLUE = REPO / "search" / "reference" / "genes" / "clue_gene_space_2019-07-02.tsv.gz"
LANDMARKS_2017 = REPO / "search" / "reference" / "genes" / "l1000_landmark_genes_978.tsv"
ABSENT = 5  # landmarks left out of the ARCHS4 file of `write_archs4_today`
BETA_INST_HEADER = (  # instinfo_beta.txt, in the published order
    "bead_batch nearest_dose pert_dose pert_dose_unit pert_idose pert_time pert_itime "
    "pert_time_unit cell_mfc_name pert_mfc_id det_plate det_well rna_plate rna_well "
    "count_mean count_cv qc_f_logp qc_iqr qc_slope pert_id sample_id pert_type cell_iname "
    "qc_pass dyn_range inv_level_10 build_name failure_mode project_code cmap_name"
)
GSE70138_INST_HEADER = (  # GSE70138_Broad_LINCS_inst_info_2017-03-06.txt
    "inst_id cell_id det_plate det_well pert_mfc_id pert_dose pert_dose_unit pert_id "
    "pert_iname pert_type pert_time pert_time_unit"
)
BETA_INST, GSE70138_INST = BETA_INST_HEADER.split(), GSE70138_INST_HEADER.split()
FAILING_QC = 12  # wells given qc_pass 0 in the beta table (every 31st well)


@dataclass(frozen=True)
class Layout:
    gctx: Path
    gene_info: Path | None = None
    inst_info: Path | None = None


def l1000_genes() -> pd.DataFrame:
    """The 12,328 L1000 genes: Entrez id, 2019 symbol, name, class, first Ensembl id."""
    clue = pd.read_csv(CLUE, sep="\t", dtype=str, keep_default_na=False)
    clue = clue[clue["Type"] != "not inferred"].copy()
    clue["entrez"] = clue["Entrez ID"].astype(int)
    ensembl = gene_registry().ensembl
    clue["ensembl"] = [(ensembl.get(e) or ("",))[0] for e in clue["entrez"]]
    return clue.set_index("entrez")


def plate() -> GeneMatrix:
    return read_gct(LJP005_GCT)


def full_matrix(genes: pd.DataFrame, real: GeneMatrix, seed: int = 5) -> pd.DataFrame:
    """(12,328 genes x profiles) float32: the plate's landmark rows, seeded values elsewhere."""
    rng = np.random.default_rng(seed)
    values = rng.normal(8.0, 2.0, (len(genes), real.values.shape[1])).astype(np.float32)
    frame = pd.DataFrame(values, index=genes.index, columns=real.col_ids)
    measured = pd.DataFrame(
        real.values, index=real.row_meta["pr_gene_id"].astype(int), columns=real.col_ids
    )
    frame.loc[measured.index] = measured.to_numpy()
    return frame


def write_cmap_gctx(path: Path, frame: pd.DataFrame, *, chunks: tuple[int, int] | None) -> Path:
    """genes x profiles as CMap's Level 3 files store them: (profiles, genes) float32, ids only."""
    with h5py.File(path, "w") as file:
        file.attrs["version"] = np.bytes_(b"GCTX1.0")
        file.create_dataset("0/DATA/0/matrix", data=frame.to_numpy().T, chunks=chunks)
        file.create_dataset("0/META/ROW/id", data=np.array(frame.index.astype(str), dtype="S"))
        file.create_dataset("0/META/COL/id", data=np.array(frame.columns.astype(str), dtype="S"))
    return path


def write_beta(folder: Path, genes: pd.DataFrame, frame: pd.DataFrame, real: GeneMatrix) -> Layout:
    by_text = frame.loc[sorted(frame.index, key=str)]
    gctx = write_cmap_gctx(
        folder / "level3_beta_trt_cp_n377x12328.gctx",
        by_text,
        chunks=(min(262, frame.shape[1]), 1000),
    )
    table = pd.DataFrame(
        {
            "gene_id": genes.index,
            "gene_symbol": genes["Symbol"],
            "ensembl_id": genes["ensembl"],
            "gene_title": genes["Name"],
            "gene_type": "protein-coding",
            "src": "NCBI",
            "feature_space": genes["Type"],
        }
    )
    gene_info = folder / "geneinfo_beta.txt"
    table.to_csv(gene_info, sep="\t", index=False)
    inst_info = folder / "instinfo_beta.txt"
    beta_inst(real.col_meta).to_csv(inst_info, sep="\t", index=False)
    return Layout(gctx, gene_info, inst_info)


def beta_inst(cols: pd.DataFrame) -> pd.DataFrame:
    """instinfo_beta rows of the plate's wells (shuffled) and of 5 wells of another plate."""
    named = {
        "sample_id": cols.index,
        "cmap_name": cols["pert_iname"],
        "cell_iname": cols["cell_id"],
        "cell_mfc_name": cols["cell_id"],
        "nearest_dose": cols["pert_dose"],
        "build_name": "",
        "failure_mode": "",
        "project_code": "LJP",
        "dyn_range": 10.0,
        "inv_level_10": 3000,
    }
    table = pd.DataFrame({c: named[c] if c in named else cols.get(c, "") for c in BETA_INST})
    table["qc_pass"] = np.where(np.arange(len(table)) % 31 == 30, 0, 1)
    table = table.astype(object).where(table.notna(), "")  # the beta tables leave cells empty
    other = table.iloc[:5].assign(sample_id=[f"LJP006_A375_24H_X1_B19:A0{i}" for i in range(5)])
    return pd.concat([table.iloc[::-1], other])


def write_geo(folder: Path, genes: pd.DataFrame, frame: pd.DataFrame, real: GeneMatrix) -> Layout:
    gctx = write_cmap_gctx(
        folder / "GSE70138_Broad_LINCS_Level3_INF_mlr12k_n377x12328.gctx",
        frame.sort_index(),
        chunks=None,
    )
    rows = real.row_meta
    symbols_2017 = dict(zip(rows["pr_gene_id"].astype(int), rows["pr_gene_symbol"], strict=True))
    kind = genes["Type"]
    table = pd.DataFrame(
        {
            "pr_gene_id": genes.index,
            "pr_gene_symbol": [
                symbols_2017.get(e, s) for e, s in zip(genes.index, genes["Symbol"], strict=True)
            ],
            "pr_gene_title": genes["Name"],
            "pr_is_lm": (kind == "landmark").astype(int),
            "pr_is_bing": kind.isin(["landmark", "best inferred"]).astype(int),
        }
    )
    gene_info = folder / "GSE70138_Broad_LINCS_gene_info_2017-03-06.txt.gz"
    _write_gz(gene_info, table)
    cols = real.col_meta
    inst = pd.DataFrame({c: cols.index if c == "inst_id" else cols[c] for c in GSE70138_INST})
    inst_info = folder / "GSE70138_Broad_LINCS_inst_info_2017-03-06.txt.gz"
    _write_gz(inst_info, inst.astype(object).where(inst.notna(), "-666"))
    return Layout(gctx, gene_info, inst_info)


def _write_gz(path: Path, table: pd.DataFrame) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as out:
        table.to_csv(out, sep="\t", index=False)


def write_layouts(folder: Path) -> dict[str, Layout]:
    """The plate in the three layouts, under `folder`/beta, /geo and /inside."""
    real, genes = plate(), l1000_genes()
    frame = full_matrix(genes, real)
    made = {}
    for name, write in (("beta", write_beta), ("geo", write_geo)):
        (folder / name).mkdir(parents=True, exist_ok=True)
        made[name] = write(folder / name, genes, frame, real)
    (folder / "inside").mkdir(parents=True, exist_ok=True)
    made["inside"] = Layout(folder / "inside" / "LJP005_level3.gctx")
    write_gctx(made["inside"].gctx, real)
    return made


def landmarks_2017() -> pd.DataFrame:
    """The 978 landmarks as GSE92742 names them: 2017 symbols (47 no longer current)."""
    table = pd.read_csv(LANDMARKS_2017, sep="\t", dtype=str)
    return pd.DataFrame(
        {
            "symbol": table["pr_gene_symbol"].to_numpy(),
            "entrez": table["pr_gene_id"].astype(int).to_numpy(),
        },
        index=table["pr_gene_id"].to_numpy(),
    )


def today(entrez: list[int]) -> tuple[list[str], list[str]]:
    """Today's symbol and first Ensembl id of each gene (the registry, NCBI 2022)."""
    registry = gene_registry()
    return (
        [registry.symbol[e] for e in entrez],
        [(registry.ensembl.get(e) or ("",))[0] for e in entrez],
    )


def write_archs4_today(path: Path, landmarks: pd.DataFrame) -> Path:
    """An ARCHS4 v2.2-style file of 60 samples over today's symbols and Ensembl ids of the
    landmarks but the first ABSENT, and 300 other genes; seeded counts."""
    registry = gene_registry()
    others = [e for e in sorted(registry.symbol)[:2000] if e not in set(landmarks["entrez"])]
    entrez = [*landmarks["entrez"].iloc[ABSENT:], *others[:300]]
    symbols, ensembl = today(entrez)
    rng = np.random.default_rng(7)
    counts = rng.negative_binomial(5, 0.01, (len(entrez), 60)).astype(np.uint32)
    genes = pd.DataFrame({"symbol": symbols, "ensembl_gene_id": ensembl, "biotype": "protein"})
    samples = pd.DataFrame(
        {
            "geo_accession": [f"GSM{9000 + i}" for i in range(60)],
            "series_id": [f"GSE{i // 6}" for i in range(60)],
            "readsaligned": 2_000_000,
        }
    )
    write_archs4(path, counts, genes, samples)
    return path
