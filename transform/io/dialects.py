"""The dialects of the LINCS metadata tables, and the one vocabulary the rest of the code reads.

CMap has published the same tables under three sets of column names. Each table's dialect is
recognised from its header and its columns are renamed to the names used everywhere else in
`transform` (those of GEO's GSE92742 tables); columns without a counterpart keep their names.

    table       GEO GSE92742 / GSE70138          CMap LINCS 2020 ("beta")       clue.io gene space
    genes       *_gene_info.txt                  geneinfo_beta.txt              (web export)
                pr_gene_id                       gene_id                        Entrez ID
                pr_gene_symbol                   gene_symbol                    Symbol
                pr_gene_title                    gene_title                     Name
                pr_is_lm (0/1)                   feature_space == "landmark"    Type == "landmark"
                pr_is_bing (0/1)                 feature_space in landmark,     Type in landmark,
                                                 best inferred                  best inferred
                (none)                           ensembl_id                     (none)
    profiles    *_inst_info.txt                  instinfo_beta.txt
                inst_id                          sample_id
                pert_iname                       cmap_name
                cell_id                          cell_iname
                (none)                           qc_pass (1 passes CMap's QC)
    signatures  *_sig_info.txt                   siginfo_beta.txt
                sig_id                           sig_id
                pert_iname                       cmap_name
                cell_id                          cell_iname
                distil_id ("|"-joined inst_ids)  distil_ids

Missing values: GEO writes -666; the beta tables leave cells empty. Both read as missing (NaN), by
the rules of `transform.io.meta`.
Where a GEO series lacks rna_plate or rna_well, they come from the CMap well id
(`<rna_plate>_<bead batch>:<well>`); perturbation fields a release lacks read as missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

LANDMARK = "landmark"
BEST_INFERRED = "best inferred"
FEATURE_SPACE = "feature_space"  # the gene's L1000 class, kept where a dialect states it


@dataclass(frozen=True)
class Dialect:
    """One release's spelling of a table: recognised by `marks`, renamed by `names`."""

    table: str  # genes | profiles | signatures
    name: str  # how messages and manifests call it
    marks: tuple[str, ...]  # header columns that identify the dialect (all present)
    names: dict[str, str] = field(default_factory=dict)  # its column -> ours
    derive: Callable[[pd.DataFrame], pd.DataFrame] | None = None  # our columns from its own

    def matches(self, header: list[str]) -> bool:
        return all(mark in header for mark in self.marks)

    def to_ours(self, cells: pd.DataFrame) -> pd.DataFrame:
        """The table (text cells) in our column names."""
        ours = cells.rename(columns=self.names)
        return self.derive(ours) if self.derive else ours


def _landmark_flags(classes: pd.Series) -> pd.DataFrame:
    text = classes.astype(str).str.strip().str.lower()
    return pd.DataFrame(
        {
            "pr_is_lm": (text == LANDMARK).astype(int).astype(str),
            "pr_is_bing": text.isin([LANDMARK, BEST_INFERRED]).astype(int).astype(str),
        },
        index=classes.index,
    )


def _flags_from_feature_space(table: pd.DataFrame) -> pd.DataFrame:
    """pr_is_lm and pr_is_bing from the gene class; a table without one gets no flags, and is
    then refused where landmarks are needed, as a GEO table without pr_is_lm is."""
    if FEATURE_SPACE not in table:
        return table
    flags = _landmark_flags(table[FEATURE_SPACE])
    return table.assign(**{name: flags[name] for name in flags.columns})


GENE_DIALECTS = (
    Dialect("genes", "GEO gene_info (GSE92742, GSE70138)", ("pr_gene_id",)),
    Dialect(
        "genes",
        "CMap LINCS 2020 geneinfo_beta",
        ("gene_id", "gene_symbol"),
        {"gene_id": "pr_gene_id", "gene_symbol": "pr_gene_symbol", "gene_title": "pr_gene_title"},
        _flags_from_feature_space,
    ),
    Dialect(
        "genes",
        "clue.io gene space",
        ("Entrez ID", "Symbol", "Type"),
        {
            "Entrez ID": "pr_gene_id",
            "Symbol": "pr_gene_symbol",
            "Name": "pr_gene_title",
            "Type": FEATURE_SPACE,
        },
        _flags_from_feature_space,
    ),
)
PROFILE_DIALECTS = (
    Dialect("profiles", "GEO inst_info (GSE92742, GSE70138)", ("inst_id",)),
    Dialect(
        "profiles",
        "CMap LINCS 2020 instinfo_beta",
        ("sample_id",),
        {"sample_id": "inst_id", "cmap_name": "pert_iname", "cell_iname": "cell_id"},
    ),
)
SIGNATURE_DIALECTS = (  # the first whose marks match is read: beta's are the narrower
    Dialect(
        "signatures",
        "CMap LINCS 2020 siginfo_beta",
        ("sig_id", "distil_ids"),
        {"distil_ids": "distil_id", "cmap_name": "pert_iname", "cell_iname": "cell_id"},
    ),
    Dialect("signatures", "GEO sig_info (GSE92742, GSE70138)", ("sig_id",)),
)
DIALECTS = {"genes": GENE_DIALECTS, "profiles": PROFILE_DIALECTS, "signatures": SIGNATURE_DIALECTS}


def recognise(header: list[str], table: str) -> Dialect | None:
    """The first dialect of `table` whose marks the header holds (None: not a known dialect)."""
    return next((d for d in DIALECTS[table] if d.matches(header)), None)


def expected_headers(table: str) -> str:
    """What a table of this kind must start with, for refusals: one line per dialect."""
    return "; ".join(f"{d.name}: {', '.join(d.marks)}" for d in DIALECTS[table])
