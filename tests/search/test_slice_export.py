"""Sliced export: signatures (ids or filters) x genes, as TSV or GCTX, equal to the index's values.

Checked against the values the test index was built from (conftest: the CD matrix), in the order
asked; bad input (unknown signatures or genes, a slice above the limit, both or neither of ids and
filters) is refused with the reason before anything is sent.
"""

from __future__ import annotations

import io

import h5py
import numpy as np
import pandas as pd
import pytest
from rest_framework.test import APIClient

from search.models import Signature
from search.selectors import exports
from tests.search.conftest import PortalIndex
from transform.io import read_gctx

pytestmark = pytest.mark.django_db


def _post(body: dict) -> object:
    return APIClient().post("/api/export", body, format="json")


def _tsv(response: object) -> pd.DataFrame:
    text = b"".join(response.streaming_content).decode()
    assert text.startswith("# index ")
    return pd.read_csv(io.StringIO(text), sep="\t", comment="#", index_col=0)


def test_a_tsv_slice_by_ids_holds_the_indexs_values_in_the_order_asked(
    serve_portal_index: PortalIndex,
) -> None:
    sig_ids = list(serve_portal_index.meta["sig_id"].iloc[[17, 3, 250]])
    genes = list(serve_portal_index.genes[5:12])[::-1]
    response = _post({"sig_ids": sig_ids, "genes": genes, "format": "tsv"})
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    table = _tsv(response)
    assert list(table.columns) == sig_ids
    assert list(table.index) == genes
    expected = serve_portal_index.cd.loc[genes, sig_ids].to_numpy(np.float32)
    # 9 significant digits: each float32 comes back exactly
    assert np.array_equal(table.to_numpy().astype(np.float32), expected)


def test_a_gctx_slice_by_filters_has_every_kept_signature_and_its_metadata(
    serve_portal_index: PortalIndex, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setattr("search.engine.slices.BLOCK_CELLS", 50)  # many blocks
    genes = list(serve_portal_index.genes[:10])
    response = _post({"filters": {"cell_id": ["MCF7"]}, "genes": genes, "format": "gctx"})
    assert response.status_code == 200
    path = tmp_path / "slice.gctx"
    path.write_bytes(b"".join(response.streaming_content))
    matrix = read_gctx(path)
    kept = Signature.objects.filter(cell_id="MCF7").order_by("position")
    assert list(matrix.col_ids) == [row.sig_id for row in kept]
    assert list(matrix.row_ids) == genes
    expected = serve_portal_index.cd.loc[genes, list(matrix.col_ids)].to_numpy(np.float32)
    assert np.allclose(matrix.values, expected, rtol=1e-6, atol=1e-9)
    assert set(matrix.col_meta["cell_id"]) == {"MCF7"}
    assert list(matrix.col_meta["pert_iname"]) == [row.pert_iname for row in kept]
    assert response["Content-Length"] == str(path.stat().st_size)
    assert response["Content-Disposition"].startswith('attachment; filename="slice-')


def test_a_gctx_slice_keeps_numbers_as_numbers_and_marks_missing_values_as_cmap_does(
    serve_portal_index: PortalIndex, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """Missing text is "-666" and missing numbers -666 (CMap's marker, which cmapPy reads as
    NaN), a dose is a number in every block, even a block whose doses are all missing."""
    monkeypatch.setattr("search.engine.slices.BLOCK_CELLS", 20)  # blocks of 2 signatures
    sig_ids = list(serve_portal_index.meta["sig_id"].iloc[:6])
    Signature.objects.filter(sig_id__in=sig_ids[:2]).update(pert_dose=None, pert_dose_unit="")
    Signature.objects.filter(sig_id__in=sig_ids[2:]).update(pert_dose_unit="uM")
    genes = list(serve_portal_index.genes[:10])
    response = _post({"sig_ids": sig_ids, "genes": genes, "format": "gctx"})
    assert response.status_code == 200
    path = tmp_path / "slice.gctx"
    path.write_bytes(b"".join(response.streaming_content))
    with h5py.File(path, "r") as handle:
        column = handle["0/META/COL"]
        assert column["pert_dose"].dtype.kind == "f"
        assert column["pert_dose_unit"][:].tolist()[:3] == [b"-666", b"-666", b"uM"]
        assert column["pert_dose"][:2].tolist() == [-666.0, -666.0]
        assert column["n_cases"].dtype.kind == "i"
    meta = read_gctx(path).col_meta
    assert meta["pert_dose"].isna().tolist()[:3] == [True, True, False]
    assert meta["pert_dose_unit"].isna().tolist()[:3] == [True, True, False]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"sig_ids": ["NOT-A-SIG"]}, "1 unknown signatures: NOT-A-SIG"),
        ({"sig_ids": ["SIG00001"], "genes": ["NOT_A_GENE"]}, "unknown or ambiguous: NOT_A_GENE"),
        ({"filters": {"cell_id": ["NOWHERE"]}}, "no signature has cell_id NOWHERE"),
        ({"sig_ids": ["SIG00001"], "format": "tsv", "gene": ["TP53"]}, "not a field"),
        ({}, "give sig_ids or filters"),
        ({"sig_ids": ["SIG00001"], "filters": {"cell_id": ["A375"]}}, "give sig_ids or filters"),
        ({"filters": {"colour": ["red"]}}, "unknown fields"),
    ],
)
def test_bad_input_is_refused_with_the_reason(
    serve_portal_index: PortalIndex, body: dict, message: str
) -> None:
    response = _post(body)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_a_slice_above_the_limit_is_refused_naming_both_sizes(
    serve_portal_index: PortalIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "MAX_CELLS", 1000)
    response = _post({"filters": {"pert_type": ["trt_cp"]}})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "at most 1,000" in detail
    assert "signatures x" in detail
