"""`python -m transform publish`: the pipeline's outputs laid out as the portal's downloads.

Into one folder (the portal's DOWNLOADS_DIR), without subfolders:
    profiles_rnaseq_like.gctx            every converted profile (genes x profiles)
    signatures_<pert_type>.gctx          one perturbation type's signatures (genes x signatures)
    signatures_up.gmt, signatures_down.gmt   each signature's top genes by |CD|
    signatures_metadata.tsv              one row per signature (sig_info)
    profiles_metadata.tsv                one row per profile (inst_info, GEO's column names,
                                         from --inst-info in any dialect or the profiles' own
                                         column metadata)
    model.pt, model.json                 the model bundle and its manifest
Large files are hard-linked where the file system allows (no copy), else copied. The per-type
signature files are written in column blocks, so memory stays bounded at any size.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from transform.inputs import add_table_options
from transform.io import read_gctx_meta, read_inst_info, write_gctx_columns, write_lincs_table
from transform.io.level3 import profiles_from_table

BLOCK_COLUMNS = 4096


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "publish", help="lay out profiles, signatures, gene sets and the model as downloads"
    )
    parser.add_argument("--signatures", type=Path, required=True, help="signatures output folder")
    parser.add_argument("--profiles", type=Path, help="the converted profiles GCTX")
    add_table_options(
        parser, gene_info=False, sig_info=False, inst_default="the converted GCTX's column metadata"
    )
    parser.add_argument("--model", type=Path, help="the model bundle (model.pt)")
    parser.add_argument("--out", type=Path, required=True, help="the downloads folder")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    names = publish_downloads(
        signatures=args.signatures,
        profiles=args.profiles,
        inst_info=args.inst_info,
        model=args.model,
        out=args.out,
    )
    print(f"published {len(names)} files into {args.out}: {', '.join(names)}")
    return 0


def publish_downloads(
    *,
    signatures: Path,
    out: Path,
    profiles: Path | None = None,
    inst_info: Path | None = None,
    model: Path | None = None,
) -> list[str]:
    table = None  # read (and checked) before anything is written
    if inst_info is not None or (profiles is not None and profiles.is_file()):
        table = profiles_metadata(profiles, inst_info)
    out.mkdir(parents=True, exist_ok=True)
    names = split_by_pert_type(signatures / "signatures.gctx", out)
    links = {
        "signatures_up.gmt": signatures / "up.gmt",
        "signatures_down.gmt": signatures / "down.gmt",
        "signatures_metadata.tsv": signatures / "sig_info.txt",
        "profiles_rnaseq_like.gctx": profiles,
        "model.pt": model,
        "model.json": model.with_suffix(".json") if model else None,
    }
    for name, source in links.items():
        if source is not None and source.is_file():
            _link(source, out / name)
            names.append(name)
    if table is not None:
        write_lincs_table(out / "profiles_metadata.tsv", table)
        names.append("profiles_metadata.tsv")
    return names


def profiles_metadata(profiles: Path | None, inst_info: Path | None) -> pd.DataFrame:
    """One row per profile in GEO's column names: the table given (any dialect; its rows of the
    converted profiles where those are given too, each of which it must hold), else the converted
    GCTX's column metadata."""
    if inst_info is None:
        assert profiles is not None, "give the profiles or their table"
        return read_gctx_meta(profiles)[1].rename_axis("inst_id")
    if profiles is None or not profiles.is_file():
        return read_inst_info(inst_info)
    converted = read_gctx_meta(profiles)[1].index.astype(str)
    return profiles_from_table(profiles, converted, inst_info).rename_axis("inst_id")


def split_by_pert_type(path: Path, out: Path) -> list[str]:
    """One GCTX per perturbation type, each written in blocks of columns: every field stored as
    in `path` (its dtype, -666 where it has -666), its root attributes carried (the
    synthetic_world marker of a demo), `src` naming the published file."""
    kinds = read_gctx_meta(path)[1]["pert_type"].astype(str).to_numpy()
    names = []
    for pert_type in sorted(set(kinds)):
        name = f"signatures_{pert_type}.gctx"
        write_gctx_columns(
            path,
            out / name,
            cols=np.flatnonzero(kinds == pert_type),
            block_columns=BLOCK_COLUMNS,
            temp_path=out / f".{name}.partial",  # hidden: the folder offers its files
        )
        names.append(name)
    return names


def _link(source: Path, target: Path) -> None:
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        os.link(source, partial)
    except OSError:
        shutil.copyfile(source, partial)
    os.replace(partial, target)
