"""`transform publish`: per-type signature files equal the columns of the whole, others linked."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from transform import publish
from transform.io import GctxWriter, LincsTableError, read_gctx, write_gctx, write_lincs_table
from transform.io.hdf5 import mark_synthetic, synthetic_origin
from transform.io.matrix import GeneMatrix


def _signatures(folder: Path, n: int = 11) -> np.ndarray:
    folder.mkdir()
    rng = np.random.default_rng(3)
    values = rng.normal(size=(6, n)).astype(np.float32)
    rows = pd.DataFrame(
        {"pr_gene_symbol": list("ABCDEF")}, index=pd.Index(list("abcdef"), name="rid")
    )
    types = ["trt_cp" if i % 3 else "trt_xpr" for i in range(n)]
    cols = pd.DataFrame(
        {"pert_type": types, "cell_id": "A375"},
        index=pd.Index([f"S{i}" for i in range(n)], name="cid"),
    )
    with GctxWriter(folder / "signatures.gctx", rows) as writer:
        writer.append(values[:, :5], cols.iloc[:5])
        writer.append(values[:, 5:], cols.iloc[5:])
    for name in ("up.gmt", "down.gmt", "sig_info.txt"):
        (folder / name).write_text(f"{name}\n")
    return values


def test_each_perturbation_type_gets_its_own_file_with_its_columns(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(publish, "BLOCK_COLUMNS", 2)  # several blocks per file
    values = _signatures(tmp_path / "sigs")
    names = publish.publish_downloads(signatures=tmp_path / "sigs", out=tmp_path / "dl")
    assert names == [
        "signatures_trt_cp.gctx",
        "signatures_trt_xpr.gctx",
        "signatures_up.gmt",
        "signatures_down.gmt",
        "signatures_metadata.tsv",
    ]
    xpr = read_gctx(tmp_path / "dl" / "signatures_trt_xpr.gctx")
    assert list(xpr.col_ids) == ["S0", "S3", "S6", "S9"]
    np.testing.assert_array_equal(xpr.values, values[:, [0, 3, 6, 9]])
    cp = read_gctx(tmp_path / "dl" / "signatures_trt_cp.gctx")
    assert len(cp.col_ids) == 7
    assert set(cp.col_meta["pert_type"]) == {"trt_cp"}
    assert list(cp.row_meta["pr_gene_symbol"]) == list("ABCDEF")
    assert (tmp_path / "dl" / "signatures_up.gmt").read_text() == "up.gmt\n"
    assert not list((tmp_path / "dl").glob(".*partial"))


def test_publishing_again_replaces_the_files_in_place(tmp_path: Path) -> None:
    _signatures(tmp_path / "sigs")
    publish.publish_downloads(signatures=tmp_path / "sigs", out=tmp_path / "dl")
    (tmp_path / "sigs" / "up.gmt").unlink()
    (tmp_path / "sigs" / "up.gmt").write_text("new\n")
    publish.publish_downloads(signatures=tmp_path / "sigs", out=tmp_path / "dl")
    assert (tmp_path / "dl" / "signatures_up.gmt").read_text() == "new\n"


def _signatures_with_missing_units(folder: Path) -> Path:
    """A marked demo signatures.gctx whose text field pert_dose_unit is missing (-666) in the
    first three trt_cp columns and in every trt_xpr column (as knockouts have no dose)."""
    folder.mkdir()
    types = ["trt_cp", "trt_cp", "trt_xpr", "trt_cp", "trt_cp", "trt_xpr", "trt_cp"]
    units = [None, None, None, None, "uM", None, "uM"]
    cols = pd.DataFrame(
        {"pert_type": types, "pert_dose_unit": units, "pert_time": 24, "n_cases": 3},
        index=pd.Index([f"S{i}" for i in range(7)], name="cid"),
    )
    rows = pd.DataFrame({"pr_gene_symbol": list("AB")}, index=pd.Index(list("ab"), name="rid"))
    path = folder / "signatures.gctx"
    write_gctx(path, GeneMatrix(np.arange(14, dtype=np.float32).reshape(2, 7), rows, cols))
    mark_synthetic(path, {"size": "demo", "seed": 0, "setting": "default"})
    return path


def test_a_text_field_missing_throughout_the_first_block_is_published_as_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit's crash: the first block of trt_cp columns has no pert_dose_unit; re-typed on
    its own it became numbers, and the next block's "uM" was refused."""
    monkeypatch.setattr(publish, "BLOCK_COLUMNS", 3)
    _signatures_with_missing_units(tmp_path / "sigs")
    publish.publish_downloads(signatures=tmp_path / "sigs", out=tmp_path / "dl")
    with h5py.File(tmp_path / "dl" / "signatures_trt_cp.gctx") as raw:
        units = raw["0/META/COL/pert_dose_unit"][()].tolist()
    assert units == [b"-666", b"-666", b"-666", b"uM", b"uM"]


def test_per_type_files_carry_their_name_the_demo_marker_and_the_sources_types(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read with plain h5py: src names the published file (not its temporary name), the
    synthetic_world marker is kept (a demo file must not read as real data), and every field
    has the source's dtype, pert_dose_unit of trt_xpr (all missing) text as in the source."""
    monkeypatch.setattr(publish, "BLOCK_COLUMNS", 3)
    source = _signatures_with_missing_units(tmp_path / "sigs")
    names = publish.publish_downloads(signatures=tmp_path / "sigs", out=tmp_path / "dl")
    assert names == ["signatures_trt_cp.gctx", "signatures_trt_xpr.gctx"]
    columns = {"signatures_trt_cp.gctx": [0, 1, 3, 4, 6], "signatures_trt_xpr.gctx": [2, 5]}
    with h5py.File(source) as whole:
        for name, at in columns.items():
            with h5py.File(tmp_path / "dl" / name) as part:
                assert part.attrs["src"] == name.encode()
                assert part.attrs["synthetic_world"] == whole.attrs["synthetic_world"]
                for group in ("0/META/ROW", "0/META/COL"):
                    for field, stored in whole[group].items():
                        assert part[group][field].dtype == stored.dtype, (name, field)
                for field, stored in whole["0/META/COL"].items():
                    assert part[f"0/META/COL/{field}"][()].tolist() == stored[()][at].tolist()
                matrix = part["0/DATA/0/matrix"][()]
                np.testing.assert_array_equal(matrix, whole["0/DATA/0/matrix"][()][at])
        assert whole["0/META/COL/pert_dose_unit"].dtype.kind == "S"
    assert synthetic_origin(tmp_path / "dl" / "signatures_trt_xpr.gctx") == synthetic_origin(source)
    assert not list((tmp_path / "dl").glob(".*"))


def _profiles_and_table(folder: Path, listed: list[str]) -> tuple[Path, Path]:
    """Converted-like profiles P0..P5 and a GEO inst_info table of the profiles `listed`."""
    ids = [f"P{i}" for i in range(6)]
    rows = pd.DataFrame(index=pd.Index(list("abcdef"), name="rid"))
    cols = pd.DataFrame({"cell_id": "A375"}, index=pd.Index(ids, name="cid"))
    profiles = folder / "profiles.gctx"
    write_gctx(profiles, GeneMatrix(np.ones((6, 6), dtype=np.float32), rows, cols))
    table = pd.DataFrame(
        {
            "rna_plate": "PLATE1",
            "rna_well": [f"A{i:02d}" for i in range(len(listed))],
            "pert_id": "BRD-1",
            "pert_iname": "drug",
            "pert_type": "trt_cp",
            "pert_dose": 1.0,
            "pert_dose_unit": "um",
            "pert_time": 24,
            "pert_time_unit": "h",
            "cell_id": "A375",
        },
        index=pd.Index(listed, name="inst_id"),
    )
    write_lincs_table(folder / "inst_info.txt", table)
    return profiles, folder / "inst_info.txt"


def test_profiles_missing_from_the_table_are_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    _signatures(tmp_path / "sigs")
    profiles, inst_info = _profiles_and_table(tmp_path, ["P5", "P0", "P1", "P2", "P4"])
    with pytest.raises(
        LincsTableError, match=r"1 of the 6 profiles of .*profiles\.gctx are not in it: 'P3'"
    ):
        publish.publish_downloads(
            signatures=tmp_path / "sigs",
            out=tmp_path / "dl",
            profiles=profiles,
            inst_info=inst_info,
        )
    assert not (tmp_path / "dl").exists()


def test_the_profiles_table_holds_the_rows_of_the_profiles_in_their_order(tmp_path: Path) -> None:
    _signatures(tmp_path / "sigs")
    profiles, inst_info = _profiles_and_table(tmp_path, ["P5", "P3", "P0", "P9", "P1", "P2", "P4"])
    publish.publish_downloads(
        signatures=tmp_path / "sigs", out=tmp_path / "dl", profiles=profiles, inst_info=inst_info
    )
    published = pd.read_csv(tmp_path / "dl" / "profiles_metadata.tsv", sep="\t")
    assert list(published["inst_id"]) == [f"P{i}" for i in range(6)]
