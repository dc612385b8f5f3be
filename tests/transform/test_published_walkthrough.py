"""The README's "Real inputs" walk-through, command by command, on the real plate laid out as
LINCS 2020 and as GEO publish it (tests/transform/layouts.py) and an ARCHS4 file with today's
symbols: train both steps, bundle, convert, signatures, publish. Tiny networks, same commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.transform.layouts import Layout
from transform.cli import main
from transform.io import read_gctx, read_gctx_meta, read_lincs_table
from transform.io.lincs_meta import INST_INFO

TINY = [
    "--preset",
    "demo",
    "--epochs",
    "1",
    "--max-profiles",
    "200",
    "--device",
    "cpu",
    "--threads",
    "1",
]


def run(*argv: object) -> None:
    assert main([str(arg) for arg in argv]) == 0, argv


@pytest.mark.slow
@pytest.mark.parametrize("name", ["beta", "geo"])
def test_every_offline_command_runs_on_the_published_layout(
    name: str,
    layouts: dict[str, Layout],
    archs4_today: Path,
    tmp_path: Path,
) -> None:
    layout = layouts[name]
    tables = ["--gene-info", layout.gene_info, "--inst-info", layout.inst_info]
    run(
        "train-cyclegan",
        "--l1000",
        layout.gctx,
        *tables,
        "--rnaseq",
        archs4_today,
        "--out",
        tmp_path / "cyclegan",
        *TINY,
        "--hidden",
        "16",
        "--bottleneck",
        "8",
        "--disc-hidden",
        "16,8",
        "--rnaseq-samples",
        "all",
    )
    run(
        "train-extrapolator",
        "--l1000",
        layout.gctx,
        *tables,
        "--rnaseq",
        archs4_today,
        "--out",
        tmp_path / "extrapolator",
        "--data",
        tmp_path / "cyclegan" / "data",
        *TINY,
        "--hidden",
        "8,8,16",
    )
    run(
        "bundle",
        "--cyclegan",
        tmp_path / "cyclegan" / "checkpoint.pt",
        "--extrapolator",
        tmp_path / "extrapolator" / "checkpoint.pt",
        "--out",
        tmp_path / "model.pt",
    )
    bundle = json.loads((tmp_path / "model.json").read_text())
    assert bundle["input_genes"]["n_genes"] == 978 - 5  # the ARCHS4 fixture lacks 5 landmarks
    profiles = tmp_path / "profiles.gctx"
    run(
        "convert",
        "--checkpoint",
        tmp_path / "model.pt",
        "--input",
        layout.gctx,
        *tables,
        "--out",
        profiles,
        "--device",
        "cpu",
    )
    values = read_gctx(profiles).values
    assert values.shape[1] == 377
    assert np.isfinite(values).all()
    run("signatures", "--profiles", profiles, "--out", tmp_path / "signatures")
    assert json.loads((tmp_path / "signatures" / "manifest.json").read_text())["n_signatures"]
    run(
        "publish",
        "--signatures",
        tmp_path / "signatures",
        "--profiles",
        profiles,
        "--inst-info",
        layout.inst_info,
        "--model",
        tmp_path / "model.pt",
        "--out",
        tmp_path / "downloads",
    )
    published = read_lincs_table(tmp_path / "downloads" / "profiles_metadata.tsv", INST_INFO)
    assert published.index.tolist() == read_gctx_meta(profiles)[1].index.tolist()
    assert published.loc["LJP005_A375_24H_X1_B19:C13", "pert_iname"] == "vemurafenib"
