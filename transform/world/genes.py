"""The world's gene universe, taken from the real reference tables.

Genes: every protein-coding NCBI gene plus a seeded sample of non-coding genes that have an
Ensembl ID, ordered by symbol. The 978 L1000 landmarks are among them; on the L1000 side each
landmark carries its real probe id, its 2017 symbol (47 are no longer current, as in the real data)
and its bead colour (analyte), which two landmarks share.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

NCBI_FILE = "human_genes_ncbi_orgHsegdb_2022-09.tsv.gz"
LANDMARK_FILE = "l1000_landmark_genes_978.tsv"
CHIP_FILE = "L1000_EPSILON.R2.chip"


@dataclass(frozen=True)
class GeneUniverse:
    genes: pd.DataFrame  # index 0..n-1; symbol, entrez_id, ensembl_gene, biotype, name
    landmarks: pd.DataFrame  # one row per landmark: pr_id, pr_gene_id, pr_gene_symbol, ...
    landmark_index: np.ndarray  # (978,) position of each landmark row in `genes`
    bead_partner: np.ndarray  # (978,) landmark position sharing the bead colour, or -1

    @property
    def n_genes(self) -> int:
        return len(self.genes)


def gene_universe(reference_dir: Path, *, n_noncoding: int, seed: int) -> GeneUniverse:
    ncbi = pd.read_csv(reference_dir / NCBI_FILE, sep="\t", dtype=str, keep_default_na=False)
    ncbi = ncbi.drop_duplicates("symbol", keep=False)  # symbols must name one gene each
    landmarks = _landmarks(reference_dir)
    is_landmark = ncbi["entrez_id"].isin(set(landmarks["pr_gene_id"]))
    coding = ncbi[(ncbi["gene_type"] == "protein-coding") | is_landmark]
    noncoding = ncbi[
        (ncbi["gene_type"] == "ncRNA") & (ncbi["ensembl_gene_ids"] != "") & ~is_landmark
    ]
    rng = np.random.default_rng([seed, 11])
    picked = rng.choice(len(noncoding), size=min(n_noncoding, len(noncoding)), replace=False)
    chosen = pd.concat([coding, noncoding.iloc[np.sort(picked)]]).sort_values("symbol")
    genes = pd.DataFrame(
        {
            "symbol": chosen["symbol"].to_numpy(),
            "entrez_id": chosen["entrez_id"].astype(int).to_numpy(),
            "ensembl_gene": chosen["ensembl_gene_ids"].str.split("|").str[0].to_numpy(),
            "biotype": chosen["gene_type"].to_numpy(),
            "name": chosen["name"].to_numpy(),
        }
    )
    position = pd.Series(np.arange(len(genes)), index=genes["entrez_id"].astype(str))
    missing = set(landmarks["pr_gene_id"]) - set(position.index)
    if missing:
        raise ValueError(f"landmarks missing from the gene universe: {sorted(missing)[:5]}")
    landmark_index = position.loc[landmarks["pr_gene_id"]].to_numpy()
    return GeneUniverse(genes, landmarks, landmark_index, _bead_partners(landmarks))


def _landmarks(reference_dir: Path) -> pd.DataFrame:
    """The 978 landmarks in chip order: probe id, 2017 symbol, Entrez ID, bead colour."""
    chip = pd.read_csv(reference_dir / CHIP_FILE, sep="\t", dtype=str)
    chip = chip[chip["pr_type"] == "LM"]
    titles = pd.read_csv(reference_dir / LANDMARK_FILE, sep="\t", dtype=str)
    symbols = dict(zip(titles["pr_gene_id"], titles["pr_gene_symbol"], strict=True))
    return pd.DataFrame(
        {
            "pr_id": chip["pr_id"].to_numpy(),
            "pr_gene_id": chip["pr_gene_id"].to_numpy(),
            "pr_gene_symbol": chip["pr_gene_id"].map(symbols).to_numpy(),
            "pr_gene_title": chip["pr_gene_title"].to_numpy(),
            "pr_analyte_num": chip["pr_analyte_num"].astype(int).to_numpy(),
            "pr_bset_id": chip["pr_bset_id"].to_numpy(),
        }
    )


def _bead_partners(landmarks: pd.DataFrame) -> np.ndarray:
    partner = np.full(len(landmarks), -1)
    for rows in landmarks.groupby("pr_analyte_num").indices.values():
        if len(rows) == 2:
            partner[rows[0]], partner[rows[1]] = rows[1], rows[0]
    return partner
