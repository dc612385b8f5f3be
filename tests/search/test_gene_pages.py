"""The gene page and its API: the reverse search tables with CD, log2 fold change and plot data.

The small real index of conftest.py carries the signature pipeline's reverse-search tables, as
`build_search_index` copies them; the fold changes the page shows are checked against the values
the tables were written from.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from rest_framework.test import APIClient

from search.engine.build import build_index
from search.engine.sources import FrameSource
from search.selectors.examples import example_queries
from search.services.signature_sets import signature_set_load_from_index
from tests.engine.conftest import TEST_BUILD, signature_metadata
from tests.engine.reference import structured_signatures
from tests.search.conftest import TOP, PortalIndex

pytestmark = pytest.mark.django_db


def test_the_gene_api_gives_each_signature_its_cd_and_log2_fold_change(
    serve_portal_index: PortalIndex,
) -> None:
    meta, lfc = serve_portal_index.meta, serve_portal_index.lfc
    gene = lfc.index[3]
    response = APIClient().get(f"/api/genes/{gene}/signatures", {"limit": 10})
    assert response.status_code == 200, response.content
    body = response.json()
    kinds = sorted(set(meta["pert_type"]))
    assert sorted(body["tables"]) == kinds
    for kind in kinds:
        up, down = body["tables"][kind]["up"], body["tables"][kind]["down"]
        assert len(up) == len(down) == 10
        assert [row["cd"] for row in up] == sorted((row["cd"] for row in up), reverse=True)
        assert [row["cd"] for row in down] == sorted(row["cd"] for row in down)
        for row in up + down:
            assert row["pert_type"] == kind
            assert row["log2_fold_change"] == pytest.approx(lfc.at[gene, row["sig_id"]], rel=1e-6)
    volcano = body["volcano"]
    counts = meta["pert_type"].value_counts()
    assert len(volcano) == sum(2 * min(TOP, counts[kind]) for kind in kinds)
    for point in volcano:
        assert point["log2_fold_change"] == pytest.approx(lfc.at[gene, point["sig_id"]], rel=1e-6)


def test_the_gene_page_shows_fold_changes_and_embeds_the_volcano_data(
    serve_portal_index: PortalIndex,
) -> None:
    lfc = serve_portal_index.lfc
    gene = lfc.index[0]
    response = APIClient().get(f"/genes/{gene}")
    assert response.status_code == 200
    page = response.content.decode()
    assert '"volcano": [{' in page
    first_up = APIClient().get(f"/api/genes/{gene}/signatures").json()["tables"]["trt_cp"]["up"][0]
    assert f"{first_up['log2_fold_change']:.3f}" in page


def test_an_index_without_reverse_tables_still_serves_the_gene_page(
    tmp_path: Path, settings
) -> None:
    example = example_queries()[0]
    genes = sorted(set(example.up) | set(example.down))
    values = structured_signatures(len(genes), 50, seed=2)
    build_index(
        FrameSource(pd.DataFrame(values, index=genes), signature_metadata(50)), tmp_path, TEST_BUILD
    )
    settings.SEARCH_INDEX_DIR = tmp_path
    signature_set_load_from_index(directory=tmp_path)
    body = APIClient().get(f"/api/genes/{genes[0]}/signatures").json()
    assert body["volcano"] == []
    rows = [row for ways in body["tables"].values() for way in ways.values() for row in way]
    assert rows
    assert all(row["log2_fold_change"] is None and row["cd"] is not None for row in rows)


def test_the_gene_api_and_page_list_each_direction_apart_and_count_them(
    serve_portal_index: PortalIndex,
) -> None:
    gene = serve_portal_index.lfc.index[3]
    body = APIClient().get(f"/api/genes/{gene}/signatures", {"limit": 1000}).json()
    for kind, ways in body["tables"].items():
        counts = body["counts"][kind]
        assert all(row["cd"] > 0 for row in ways["up"])
        assert all(row["cd"] < 0 for row in ways["down"])
        assert len(ways["up"]) == counts["up"]
        assert len(ways["down"]) == counts["down"]
        assert counts["up"] + counts["down"] <= counts["searched"]
    page = APIClient().get(f"/genes/{gene}").content.decode()
    trt_cp = body["counts"]["trt_cp"]
    assert f"{trt_cp['up']} of {trt_cp['searched']} trt_cp signatures raise it" in page
    assert f"{trt_cp['down']} of {trt_cp['searched']} trt_cp signatures lower it" in page


def test_the_gene_plots_follow_the_cell_line_filter(serve_portal_index: PortalIndex) -> None:
    meta, gene = serve_portal_index.meta, serve_portal_index.lfc.index[3]
    cells = meta["cell_id"].value_counts()
    cell = cells.index[0]
    every = APIClient().get(f"/api/genes/{gene}/signatures").json()
    body = APIClient().get(f"/api/genes/{gene}/signatures", {"cell_id": cell}).json()
    assert len(cells) > 1
    assert {box["cell_id"] for box in every["by_cell_line"]} == set(cells.index)
    assert [box["cell_id"] for box in body["by_cell_line"]] == [cell]
    assert body["by_cell_line"][0]["n"] == cells[cell]
    in_cell = set(meta.loc[meta["cell_id"] == cell, "sig_id"])
    assert body["volcano"]
    assert {point["sig_id"] for point in body["volcano"]} <= in_cell
    assert len(body["volcano"]) < len(every["volcano"])
    none = APIClient().get(f"/api/genes/{gene}/signatures", {"cell_id": "NO_SUCH_CELL"})
    assert none.status_code == 400  # named, not an empty answer
    assert none.json()["detail"].startswith("no signature has cell_id NO_SUCH_CELL")
    page = APIClient().get(f"/genes/{gene}", {"cell_id": "NO_SUCH_CELL"}).content.decode()
    assert "no signature has cell_id NO_SUCH_CELL; the index has" in page
    folded = APIClient().get(f"/api/genes/{gene}/signatures", {"cell_id": cell.lower()}).json()
    assert [box["cell_id"] for box in folded["by_cell_line"]] == [cell]


def test_the_gene_page_names_the_genes_affymetrix_probe_sets(
    serve_portal_index: PortalIndex,
) -> None:
    gene = serve_portal_index.genes[0]
    probes = APIClient().get(f"/api/genes/{gene}").json()["probe_ids"]
    assert probes  # AASS: 2 on the chip
    page = APIClient().get(f"/genes/{gene}").content.decode()
    assert f"HG-U133A probe sets {', '.join(probes)};" in page


def test_every_page_says_so_when_the_index_holds_a_generated_world(
    serve_portal_index: PortalIndex, settings, tmp_path: Path
) -> None:
    """The index's source names the generated world (build_search_index copies it from the
    signatures' manifest): every page carries the demo banner; an index of real signatures,
    none."""
    assert "synthetic-banner" not in APIClient().get("/").content.decode()
    copy = tmp_path / "index"
    shutil.copytree(serve_portal_index.directory, copy)
    manifest = json.loads((copy / "index.json").read_text())
    manifest["source"] = {"synthetic_world": {"size": "demo", "seed": 7, "setting": "hard"}}
    (copy / "index.json").write_text(json.dumps(manifest))
    settings.SEARCH_INDEX_DIR = copy
    gene = serve_portal_index.genes[0]
    for url in ("/", "/batch/", f"/genes/{gene}", "/downloads/", "/genes/"):
        page = APIClient().get(url).content.decode()
        assert 'id="synthetic-banner"' in page, url
        assert "generated world (demo, seed 7,\n    hard setting)" in page, url
