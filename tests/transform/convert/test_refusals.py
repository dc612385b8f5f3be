"""What the command refuses, with the reason: an existing output, an unfinished job of other
settings (both unless --force), a bundle of another gene space, and input values that are not
numbers."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.transform.convert.helpers import convert, leave_unfinished, manifest_of, tiny_bundle
from transform.cli import main as transform_main
from transform.convert.compute import input_rows
from transform.convert.job import WorkFolder
from transform.gene_space import GeneSpaceMismatch
from transform.inference import TwoStepModel
from transform.io import read_gctx_meta
from transform.io.errors import NonFiniteValuesError
from transform.io.gctx import MATRIX
from transform.job_identity import JobMismatch


def test_an_existing_output_is_kept_without_force(
    level3: Path, small_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "profiles.gctx"
    first = convert(small_bundle, level3, output, chunk_size=1000)
    with pytest.raises(FileExistsError, match=r"profiles\.gctx exists; pass --force to replace it"):
        convert(small_bundle, level3, output, chunk_size=1000, dtype="float16")
    arguments = [
        "convert",
        "--checkpoint",
        str(small_bundle),
        "--input",
        str(level3),
        "--output",
        str(output),
    ]
    assert transform_main(arguments) == 2
    assert "pass --force to replace it" in capsys.readouterr().err
    assert manifest_of(output) == first.manifest
    again = convert(small_bundle, level3, output, chunk_size=1000, dtype="float16", force=True)
    assert again.converted == 2000
    assert manifest_of(output)["dtype"] == "float16"


@pytest.mark.parametrize(
    ("changed", "reason"),
    [
        ({"dtype": "float16"}, "another output dtype (dtype: float32 -> float16)"),
        ({"chunk_size": 300}, "another chunking (chunk_size: 400 -> 300)"),
        ({"limit": 1500}, "another chunking (n_profiles: 2000 -> 1500)"),
    ],
)
def test_an_unfinished_job_of_other_settings_is_refused_without_force(
    level3: Path,
    small_bundle: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    changed: dict,
    reason: str,
) -> None:
    output = tmp_path / "profiles.gctx"
    work = leave_unfinished(monkeypatch, small_bundle, level3, output, chunk_size=400)
    settings = {"chunk_size": 400, **changed}
    with pytest.raises(JobMismatch, match="pass --force to discard it") as refused:
        convert(small_bundle, level3, output, **settings)
    assert reason in str(refused.value)
    assert len(work.read_records(work.load_job())) == 5  # left as it was
    summary = convert(small_bundle, level3, output, force=True, **settings)
    assert summary.chunks_before == 0
    assert summary.converted == summary.profiles
    assert not work.path.exists()


def test_an_unfinished_job_of_another_checkpoint_is_refused(
    level3: Path, small_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "profiles.gctx"
    leave_unfinished(monkeypatch, small_bundle, level3, output, chunk_size=500)
    other = tiny_bundle(tmp_path / "other.pt", [f"G{i:03d}" for i in range(30)], n_outputs=70)
    with pytest.raises(JobMismatch, match=r"another checkpoint \(checkpoint_sha256: "):
        convert(other, level3, output, chunk_size=500)


def test_a_bundle_of_another_gene_space_is_refused_naming_its_genes(
    level3: Path, tmp_path: Path
) -> None:
    bundle = tiny_bundle(tmp_path / "model.pt", ["TP53", "EGFR", "MYC"])
    with pytest.raises(GeneSpaceMismatch, match="3 missing: 'TP53', 'EGFR', 'MYC'"):
        convert(bundle, level3, tmp_path / "profiles.gctx")
    assert not (tmp_path / "profiles.gctx.work").exists()


def test_non_finite_input_values_are_refused_before_their_chunk_is_written(
    plate: Path, plate_bundle: Path, tmp_path: Path
) -> None:
    """The real plate with a NaN and an infinity in one input gene of two wells: the run stops
    at their chunk, naming the wells and the gene, and records nothing of that chunk."""
    source = tmp_path / "LJP005_level3.gctx"
    shutil.copyfile(plate, source)
    rows, cols = read_gctx_meta(source)
    gene = int(input_rows(TwoStepModel.load(plate_bundle), rows)[7])
    with h5py.File(source, "r+") as file:
        file[MATRIX][250, gene] = np.nan
        file[MATRIX][260, gene] = np.inf
    output = tmp_path / "profiles.gctx"
    with pytest.raises(NonFiniteValuesError) as refused:
        convert(plate_bundle, source, output, chunk_size=100)
    assert str(refused.value).startswith(
        f"{source}: non-finite values (NaN 1, infinite 1) in 2 profile(s) "
        f"({cols.index[250]!r}, {cols.index[260]!r}) and 1 gene(s) ({rows.index[gene]!r})"
    )
    work = WorkFolder.beside(output)
    assert 2 not in work.read_records(work.load_job())
    assert not output.exists()


def test_workers_without_a_broker_are_refused_before_anything_is_created(
    level3: Path, small_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    with pytest.raises(ValueError, match="--workers needs CELERY_BROKER_URL"):
        convert(small_bundle, level3, tmp_path / "profiles.gctx", workers=True)
    assert list(tmp_path.iterdir()) == []
