"""The options every command that reads L1000 files shares: the tables CMap publishes beside them.

    --gene-info   geneinfo_beta.txt (LINCS 2020) or *_gene_info.txt (GEO): which rows are genes,
                  which are landmarks; needed where the GCTX carries no row metadata
    --inst-info   instinfo_beta.txt or *_inst_info.txt: what each profile is
    --sig-info    siginfo_beta.txt or *_sig_info.txt: which profiles make each signature
    --qc-pass-only  keep only the profiles whose qc_pass is 1 (LINCS 2020's instinfo_beta)

Tables may be gzip-compressed; their dialect is recognised from the header
(`transform.io.dialects`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

QC_HELP = (
    "keep only the profiles that pass CMap's QC (qc_pass == 1 in instinfo_beta.txt). Off by "
    "default: nothing is dropped unless asked, and a signature table (--sig-info) already names "
    "the profiles CMap used"
)


def add_table_options(
    parser: argparse.ArgumentParser,
    *,
    gene_info: bool = True,
    sig_info: bool = True,
    qc: bool = False,
    inst_default: str = "the GCTX's own column metadata",
) -> None:
    """The options of the module docstring that a command takes (inst-info always)."""
    if gene_info:
        parser.add_argument(
            "--gene-info",
            type=Path,
            help="gene table of the L1000 GCTX (geneinfo_beta.txt, *_gene_info.txt[.gz]); "
            "needed when the GCTX carries no row metadata (LINCS 2020, GEO)",
        )
    parser.add_argument(
        "--inst-info",
        type=Path,
        help=f"profile table (instinfo_beta.txt, *_inst_info.txt[.gz]); default: {inst_default}",
    )
    if sig_info:
        parser.add_argument(
            "--sig-info",
            type=Path,
            help="signature table (siginfo_beta.txt, *_sig_info.txt[.gz]): its signatures are used",
        )
    if qc:
        parser.add_argument("--qc-pass-only", action="store_true", help=QC_HELP)
