"""Signature metadata into the database: bulk (COPY on PostgreSQL), idempotent, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from search.engine.index import SearchIndex
from search.models import Signature, SignatureSet
from search.services.signature_sets import SignatureTableError, signature_set_load
from tests.search.conftest import PortalIndex

pytestmark = pytest.mark.django_db
HEADER = (
    "sig_id\tbatch\tpert_type\tpert_id\tpert_iname\tpert_dose\tpert_dose_unit\tpert_time\t"
    "pert_time_unit\tcell_id\tn_cases\tn_controls\n"
)


def _table(path: Path, n: int) -> Path:
    rows = [
        f"B1:BRD-{i:04d}:{i % 3}\tB1\t{'trt_cp' if i % 4 else 'trt_xpr'}\tBRD-{i:04d}\tcmpd-{i}\t"
        f"{'' if i == 2 else i / 10}\tµM\t24\th\t{'A375' if i % 2 else 'MCF7'}\t3\t{100 + i}\n"
        for i in range(n)
    ]
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def test_a_table_loads_in_order_with_its_metadata(tmp_path: Path) -> None:
    report = signature_set_load(sig_info=_table(tmp_path / "sig_info.txt", 250), version="v1")
    assert (report.n_signatures, report.skipped) == (250, False)
    rows = list(Signature.objects.filter(signature_set__version="v1").order_by("position"))
    assert [row.position for row in rows] == list(range(250))
    assert rows[7].sig_id == "B1:BRD-0007:1"
    assert (rows[7].pert_type, rows[7].cell_id, rows[7].pert_dose) == ("trt_cp", "A375", 0.7)
    assert rows[7].pert_dose_unit == "µM"
    assert rows[2].pert_dose is None
    assert (rows[9].n_cases, rows[9].n_controls) == (3, 109)
    facets = SignatureSet.objects.get(version="v1").facets
    assert facets["cell_id"] == ["A375", "MCF7"]
    assert facets["pert_type"] == ["trt_cp", "trt_xpr"]
    assert facets["pert_time"] == [24.0]
    assert len(facets["pert_iname"]) == 250


def test_cmaps_missing_marker_is_missing_and_a_cell_that_is_no_number_is_refused(
    tmp_path: Path,
) -> None:
    """The signatures step writes sig_info.txt with CMap's -666 for a missing dose, unit or
    time (a knockout's): loaded, those are missing, not a dose of -666 or a unit "-666"."""
    path = _table(tmp_path / "sig_info.txt", 6)
    lines = path.read_text().splitlines()
    fields = lines[4].split("\t")
    fields[5:8] = ["-666", "-666", "-666"]
    lines[4] = "\t".join(fields)
    path.write_text("\n".join(lines) + "\n")
    signature_set_load(sig_info=path, version="v1")
    row = Signature.objects.get(signature_set__version="v1", position=3)
    assert (row.pert_dose, row.pert_dose_unit, row.pert_time) == (None, "", None)
    assert SignatureSet.objects.get(version="v1").facets["pert_time"] == [24.0]
    fields[5] = "ten"
    lines[4] = "\t".join(fields)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SignatureTableError, match=r"pert_dose 'ten' \(line 5\) is not a number"):
        signature_set_load(sig_info=path, version="v2")


def test_loading_again_is_a_no_op_and_a_changed_table_replaces_the_set(tmp_path: Path) -> None:
    path = _table(tmp_path / "sig_info.txt", 40)
    signature_set_load(sig_info=path, version="v1")
    first = SignatureSet.objects.get(version="v1").pk
    assert signature_set_load(sig_info=path, version="v1").skipped
    _table(path, 30)
    report = signature_set_load(sig_info=path, version="v1")
    assert (report.n_signatures, report.skipped) == (30, False)
    assert SignatureSet.objects.get(version="v1").pk != first
    assert Signature.objects.count() == 30


def test_versions_live_side_by_side(tmp_path: Path) -> None:
    signature_set_load(sig_info=_table(tmp_path / "a.txt", 10), version="v1")
    signature_set_load(sig_info=_table(tmp_path / "b.txt", 12), version="v2")
    assert Signature.objects.filter(signature_set__version="v2").count() == 12
    assert Signature.objects.filter(signature_set__version="v1").count() == 10


def test_a_table_without_required_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("sig_id\tpert_type\nS1\ttrt_cp\n")
    with pytest.raises(SignatureTableError, match="pert_iname, cell_id"):
        signature_set_load(sig_info=path, version="bad")
    assert not SignatureSet.objects.exists()


def test_a_repeated_sig_id_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    path = _table(tmp_path / "dup.txt", 5)
    path.write_text(path.read_text() + path.read_text().splitlines(keepends=True)[1])
    with pytest.raises(SignatureTableError, match="appears twice"):
        signature_set_load(sig_info=path, version="dup")
    assert not Signature.objects.exists()


def test_the_command_loads_an_indexs_metadata_and_refuses_clearly(
    portal_index: PortalIndex, tmp_path: Path, capsys
) -> None:
    call_command("load_signatures", "--index", str(portal_index.directory))
    out = capsys.readouterr().out
    signature_set = SignatureSet.objects.get()
    assert f"signature set {signature_set.version} loaded: {len(portal_index.meta)}" in out
    assert signature_set.source == str(portal_index.directory.resolve() / "metadata.h5")
    rows = Signature.objects.filter(signature_set=signature_set).order_by("position")
    index = SearchIndex.open(portal_index.directory)
    assert [row.sig_id for row in rows] == list(index.table.sig_ids)
    call_command("load_signatures", "--index", str(portal_index.directory))
    assert "is current" in capsys.readouterr().out
    with pytest.raises(CommandError, match=str(tmp_path / "none")):
        call_command("load_signatures", "--index", str(tmp_path / "none"))
