"""Quality on real data: a query from plate LJP005 finds the expected compounds elsewhere.

The vemurafenib (BRAF inhibitor) up/down sets, derived from the LJP005 Level 4 plate, are searched
against (a) characteristic-direction signatures computed here from the independent Level 3 plate
LJP009 (vehicle controls; tests/data/genesets/README.md), whose nearest compounds must be the MAPK
pathway inhibitors PD-0325901 (MEK), dabrafenib and GDC-0879 (BRAF), and (b) the Level 5 MODZ set
of cmapR, where vemurafenib's own A375 24 h signatures must come first.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from search.engine.build import BuildSettings, build_index
from search.engine.index import SearchIndex
from search.engine.sources import FrameSource, GctxSource
from tests.conftest import REPO
from transform.io import read_gct
from transform.io.gmt import read_gmt
from transform.signatures.real_plates import compound_signatures

DATA = REPO / "tests" / "data"
QUERY = "LJP005_A375_24H_vemurafenib"
SETTINGS = replace(BuildSettings(), embedding_dim=16, recall_queries=4, full_checksums=False)


@pytest.fixture(scope="module")
def vemurafenib() -> tuple[tuple[str, ...], tuple[str, ...]]:
    sets = {}
    for side in ("up", "down"):
        path = DATA / "genesets" / f"l1000_LJP005_A375_24H_consensus_top50_{side}.gmt"
        sets[side] = next(s.genes for s in read_gmt(path) if s.name == QUERY)
    return sets["up"], sets["down"]


@pytest.fixture(scope="module")
def ljp009_index(tmp_path_factory: pytest.TempPathFactory) -> SearchIndex:
    plate = read_gct(DATA / "l1000" / "LJP009_A375_24H_X1_B20_QNORM_n371x978.gct")
    cd = compound_signatures(plate, "vehicle")
    cd.index = plate.row_meta.loc[cd.index, "pr_gene_symbol"].astype(str)
    meta = pd.DataFrame(
        {
            "sig_id": [f"LJP009_A375_24H:{name}" for name in cd.columns],
            "pert_iname": cd.columns,
            "pert_type": "trt_cp",
            "cell_id": "A375",
            "pert_time": 24,
        }
    )
    directory = tmp_path_factory.mktemp("ljp009")
    build_index(FrameSource(cd, meta), directory, SETTINGS)
    return SearchIndex.open(directory)


@pytest.mark.parametrize("score", ["rank", "cd"])
def test_the_vemurafenib_query_finds_braf_and_mek_inhibitors_on_an_independent_plate(
    ljp009_index: SearchIndex, vemurafenib: tuple, score: str
) -> None:
    result = ljp009_index.search(*vemurafenib, mode="mimic", score=score, k=5)
    assert result.report.up.not_in_index == []
    assert len(result.report.up.matched) == 50
    assert set(result.table["pert_iname"][:3]) == {"PD-0325901", "dabrafenib", "GDC-0879"}
    assert (result.table["fdr"][:3] < 1e-20).all()


def test_the_vemurafenib_query_finds_vemurafenib_first_among_level5_signatures(
    tmp_path: Path, vemurafenib: tuple
) -> None:
    with GctxSource(DATA / "l1000" / "cmapR_modzs_n272x978.gctx") as source:
        build_index(source, tmp_path, SETTINGS)
    result = SearchIndex.open(tmp_path).search(*vemurafenib, mode="mimic", k=4)
    assert result.n_searched == 272
    top = result.table[["pert_iname", "cell_id", "pert_itime"]].drop_duplicates()
    assert top.values.tolist() == [["vemurafenib", "A375", "24 h"]]
