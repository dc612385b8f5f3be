"""The page queries use indexes on PostgreSQL at scale (EXPLAIN after a COPY load and ANALYZE)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from search.models import Signature, SignatureSet
from search.services.signature_sets import signature_set_load
from tests.search.test_signature_sets import _table

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="query plans of PostgreSQL"),
]
N_ROWS = 30_000


@pytest.fixture
def loaded(tmp_path: Path) -> SignatureSet:
    signature_set_load(sig_info=_table(tmp_path / "sig_info.txt", N_ROWS), version="plans")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Signature._meta.db_table}")
    return SignatureSet.objects.get(version="plans")


def _plan(queryset) -> str:
    return queryset.explain()


@pytest.mark.parametrize(
    ("name", "build", "index"),
    [
        (
            "signature page",
            lambda s: Signature.objects.filter(signature_set=s, sig_id="B1:BRD-0777:0"),
            "signature_unique_id",
        ),
        (
            "results join",
            lambda s: Signature.objects.filter(
                signature_set=s, sig_id__in=[f"B1:BRD-{i:04d}:{i % 3}" for i in range(0, 3000, 30)]
            ),
            "signature_unique_id",
        ),
        (
            "perturbagen listing",
            lambda s: Signature.objects.filter(signature_set=s, pert_iname="cmpd-123").order_by(
                "position"
            )[:50],
            "signature_pert_idx",
        ),
        (
            "cell line listing",
            lambda s: Signature.objects.filter(signature_set=s, cell_id="A375").order_by(
                "position"
            )[:50],
            "signature_",
        ),
        (
            "index position",
            lambda s: Signature.objects.filter(signature_set=s, position__in=[5, 500, 5000]),
            "signature_",
        ),
    ],
)
def test_page_queries_use_an_index(loaded: SignatureSet, name: str, build, index: str) -> None:
    plan = _plan(build(loaded))
    assert "Seq Scan on search_signature" not in plan, f"{name}:\n{plan}"
    assert index in plan, f"{name}:\n{plan}"
