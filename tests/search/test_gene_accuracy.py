"""Per-gene reliability: the model's accuracy per gene, from its evaluation, in the gene page and
API and the query report; "not evaluated" wherever no evaluation covers a gene, never a number.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from search.engine import accuracy
from search.engine.build import build_index
from search.engine.sources import FrameSource
from search.services.signature_sets import signature_set_load_from_index
from tests.engine.conftest import TEST_BUILD
from tests.search.conftest import PortalIndex

pytestmark = pytest.mark.django_db


@pytest.fixture
def evaluated_index(portal_index: PortalIndex, tmp_path: Path, settings) -> tuple[Path, dict]:
    """The portal's signatures indexed with an evaluation covering all genes but the last."""
    genes = portal_index.genes[:-1]
    table = pd.DataFrame(
        {
            "gene": genes,
            "kind": ["landmark" if i % 5 == 0 else "inferred" for i in range(len(genes))],
            "pcc_model": [round((i % 10) / 10, 1) for i in range(len(genes))],
            "pcc_ridge": [0.5] * len(genes),
            "n_samples": 48,
        }
    )
    path = tmp_path / "per_gene.tsv"
    table.to_csv(path, sep="\t", index=False)
    meta = portal_index.meta.reset_index(drop=True)
    index = tmp_path / "index"
    build_index(
        FrameSource(portal_index.cd, meta), index, TEST_BUILD, companions={accuracy.FILE_NAME: path}
    )
    settings.SEARCH_INDEX_DIR = index
    signature_set_load_from_index(directory=index)
    return index, {row.gene: row for row in table.itertuples()}


def test_the_gene_api_and_page_give_the_evaluated_accuracy(evaluated_index) -> None:
    _, table = evaluated_index
    gene = next(g for g, row in table.items() if row.kind == "inferred" and row.pcc_model == 0.1)
    body = APIClient().get(f"/api/genes/{gene}/signatures").json()
    assert body["accuracy"] == {
        "kind": "inferred",
        "pcc_model": 0.1,
        "pcc_ridge": 0.5,
        "n_samples": 48,
        "poor": True,
    }
    page = APIClient().get(f"/genes/{gene}").content.decode()
    assert "Inferred by the model" in page
    assert "r = 0.10" in page
    assert "Poorly predicted" in page


def test_a_gene_no_evaluation_covers_is_not_evaluated(
    evaluated_index, portal_index: PortalIndex
) -> None:
    gene = portal_index.genes[-1]
    assert APIClient().get(f"/api/genes/{gene}/signatures").json()["accuracy"] is None
    assert "not evaluated" in APIClient().get(f"/genes/{gene}").content.decode()


def test_the_query_report_flags_poorly_predicted_genes_and_offers_the_query_without_them(
    evaluated_index,
) -> None:
    _, table = evaluated_index
    poor = [g for g, row in table.items() if row.pcc_model < accuracy.POOR][:5]
    good = [g for g, row in table.items() if row.pcc_model >= 0.5][:10]
    body = (
        APIClient()
        .post("/api/search", {"up": poor + good[:5], "down": good[5:]}, format="json")
        .json()
    )
    assert [item["gene"] for item in body["report"]["up"]["poorly_predicted"]] == poor
    assert body["report"]["down"]["poorly_predicted"] == []
    summary = body["report"]["accuracy"]
    assert summary["n"] == len(poor)
    assert ",".join(good[:5]) in summary["without"].replace("%2C", ",")
    page = APIClient().get(f"/search/{body['id']}").content.decode()
    assert 'id="accuracy-report"' in page


def test_an_index_without_an_evaluation_says_so(serve_portal_index: PortalIndex) -> None:
    gene = serve_portal_index.genes[0]
    assert APIClient().get(f"/api/genes/{gene}/signatures").json()["accuracy"] is None
    cd = serve_portal_index.cd.iloc[:, 1].sort_values()
    body = (
        APIClient()
        .post("/api/search", {"up": list(cd.index[-8:]), "down": list(cd.index[:8])}, format="json")
        .json()
    )
    assert body["report"]["accuracy"] == {"available": False}


@pytest.mark.parametrize(
    ("table", "said"),
    [
        ("gene\tr\nTP53\t0.5\n", "needs the columns"),
        (  # an r that is no number would reach the pages as NaN (a 500 in JSON)
            "gene\tkind\tpcc_model\tpcc_ridge\tn_samples\nTP53\tinferred\tnan\t0.4\t20\n"
            "MDM2\tinferred\t0.5\t\t20\nBAX\tinferred\t0.5\t0.4\t20\n",
            "2 genes without a finite r or sample count (TP53, MDM2)",
        ),
    ],
)
def test_a_malformed_accuracy_table_is_refused_at_build(
    tmp_path: Path, table: str, said: str
) -> None:
    bad = tmp_path / "per_gene.tsv"
    bad.write_text(table)
    with pytest.raises(CommandError, match=re.escape(said)):
        call_command(
            "build_search_index",
            "--signatures",
            str(tmp_path),
            "--gene-accuracy",
            str(bad),
            "--out",
            str(tmp_path / "index"),
        )
