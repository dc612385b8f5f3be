"""The signatures command on a demo world's Level 3 plates: outputs, truth, resumption."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from transform.cli import main
from transform.io import read_gctx, read_gctx_meta, read_sig_info
from transform.io.errors import LincsTableError, NonFiniteValuesError
from transform.io.gmt import read_gmt
from transform.io.hdf5 import synthetic_origin
from transform.job_identity import PROFILES_FORMAT, JobMismatch
from transform.signatures import run
from transform.signatures.compute import SignatureSettings
from transform.signatures.run import OutputSettings, compute_signatures
from transform.world.config import world_config
from transform.world.generate import generate_world

LEVEL3 = SignatureSettings(scale="log2")
SMALL = OutputSettings(top_genes=50, top_signatures=10)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sig-world")
    config = world_config("demo", seed=5, n_rnaseq_samples=100, n_paired_samples=10)
    generate_world(config, out, progress=lambda _: None, parts=("l1000", "truth"))
    return out


@pytest.fixture(scope="module")
def signatures(world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sigs")
    compute_signatures(
        world / "l1000" / "level3.gctx",
        world / "l1000" / "inst_info.txt",
        out,
        settings=LEVEL3,
        outputs=SMALL,
    )
    return out


def test_every_perturbation_of_every_batch_gets_one_signature(
    world: Path, signatures: Path
) -> None:
    sigs = pd.read_csv(signatures / "sig_info.txt", sep="\t")
    truth = pd.read_csv(world / "l1000" / "sig_info.txt", sep="\t")
    assert sorted(sigs["sig_id"]) == sorted(truth["sig_id"])
    assert (sigs["n_cases"] >= 3).all()
    assert (sigs["n_cases"] + sigs["n_controls"] == 3 * 384).all()  # batch rule: the whole batch
    matrix = read_gctx(signatures / "signatures.gctx")
    assert list(matrix.col_ids) == list(sigs["sig_id"])
    assert np.linalg.norm(matrix.values, axis=0) == pytest.approx(1.0, abs=1e-5)
    manifest = json.loads((signatures / "manifest.json").read_text())
    assert manifest["n_signatures"] == len(sigs)
    assert manifest["synthetic_world"] == {"size": "demo", "seed": 5, "setting": "default"}
    assert synthetic_origin(signatures / "signatures.gctx") == manifest["synthetic_world"]
    assert not (signatures / "work").exists()


def test_knockouts_lower_their_landmark_targets(world: Path, signatures: Path) -> None:
    matrix = read_gctx(signatures / "signatures.gctx")
    sigs = pd.read_csv(signatures / "sig_info.txt", sep="\t")
    truth = pd.read_csv(world / "truth" / "perturbations.txt", sep="\t").set_index("pert_id")
    rows = {s: i for i, s in enumerate(matrix.row_meta["pr_gene_symbol"])}
    ranks = []
    for column, pert_id in enumerate(sigs["pert_id"]):
        target = truth.loc[pert_id, "target_gene"]
        if isinstance(target, str) and target in rows:
            ranks.append(
                int(np.sum(matrix.values[:, column] < matrix.values[rows[target], column]))
            )
    assert len(ranks) >= 5
    assert np.median(ranks) < 20  # the target is among the most lowered of 978 genes


def test_gene_sets_hold_the_strongest_genes_split_by_sign(signatures: Path) -> None:
    matrix = read_gctx(signatures / "signatures.gctx")
    up = {s.name: s.genes for s in read_gmt(signatures / "up.gmt")}
    down = {s.name: s.genes for s in read_gmt(signatures / "down.gmt")}
    sig_id, column = matrix.col_ids[7], matrix.values[:, 7]
    symbols = matrix.row_meta["pr_gene_symbol"].astype(str).to_numpy()
    strongest = set(symbols[np.argsort(-np.abs(column))[:50]])
    assert set(up[f"{sig_id}_up"]) | set(down[f"{sig_id}_down"]) == strongest
    assert up[f"{sig_id}_up"][0] == symbols[np.argmax(column)]
    assert all(column[symbols == g][0] < 0 for g in down[f"{sig_id}_down"])


def gsea_sets(path: Path) -> dict[str, tuple[str, list[str]]]:
    """A GMT as GSEA's GmtParser reads it: a StringTokenizer on tabs, which skips empty fields,
    so that an empty description would make the first gene the description."""
    sets = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        tokens = [token.strip() for token in line.split("\t") if token]
        sets[tokens[0]] = (tokens[1], tokens[2:])
    return sets


def test_gsea_reads_every_gene_of_each_set_under_a_description_of_its_signature(
    signatures: Path,
) -> None:
    matrix = read_gctx(signatures / "signatures.gctx")
    symbols = matrix.row_meta["pr_gene_symbol"].astype(str).to_numpy()
    sets = {**gsea_sets(signatures / "up.gmt"), **gsea_sets(signatures / "down.gmt")}
    ours = {
        s.name: s for s in [*read_gmt(signatures / "up.gmt"), *read_gmt(signatures / "down.gmt")]
    }
    for column, sig_id in enumerate(matrix.col_ids):
        values = matrix.values[:, column]
        strongest = np.argsort(-np.abs(values), kind="stable")[:50]
        meta = matrix.col_meta.iloc[column]
        for side, kept, said in (("up", values > 0, "raised"), ("down", values < 0, "lowered")):
            description, genes = sets[f"{sig_id}_{side}"]
            assert genes == list(symbols[strongest[kept[strongest]]])
            assert list(ours[f"{sig_id}_{side}"].genes) == genes
            assert ours[f"{sig_id}_{side}"].description == description
            assert description.startswith(f"{meta['pert_iname']} {meta['cell_id']} ")
            assert description.endswith(f": {len(genes)} of the top 50 genes by |CD|, {said}")
    first = matrix.col_meta[matrix.col_meta["pert_type"] == "trt_cp"].iloc[0]
    description, genes = sets[f"{first.name}_up"]
    dose = f"{first['pert_dose']:g} {first['pert_dose_unit']}"
    assert description == (
        f"{first['pert_iname']} A375 {dose} 24 h: {len(genes)} of the top 50 genes by |CD|, raised"
    )
    assert first["pert_dose_unit"] == "uM"


def test_the_signature_table_marks_missing_values_with_minus_666(signatures: Path) -> None:
    """As GEO's sig_info and the GCTX do (it was an empty cell): read with the csv module,
    no cell is empty; our reader and the GCTX's metadata agree on what is missing."""
    with (signatures / "sig_info.txt").open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file, delimiter="\t"))
    assert all(cell != "" for row in rows for cell in row.values())
    knockouts = [row for row in rows if row["pert_type"] == "trt_xpr"]
    assert knockouts
    assert {(row["pert_dose"], row["pert_dose_unit"]) for row in knockouts} == {("-666", "-666")}
    table = read_sig_info(signatures / "sig_info.txt")
    columns = read_gctx_meta(signatures / "signatures.gctx")[1]
    assert list(table.index) == list(columns.index)
    for name in ("pert_dose", "pert_dose_unit", "pert_time", "pert_iname"):
        assert table[name].isna().tolist() == columns[name].isna().tolist(), name
    assert table["pert_dose"].isna().sum() == len(knockouts)


def test_gene_sets_without_a_gene_are_left_out_counted_and_named(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With one top gene per signature, one side of every signature is empty: such a line
    (name and description, no gene) is refused by our reader and useless to GSEA, so it is
    left out; the manifest counts and names the sets, stderr says so."""
    level3, inst_info = world / "l1000" / "level3.gctx", world / "l1000" / "inst_info.txt"
    out = tmp_path / "out"
    command = ["signatures", "--profiles", str(level3), "--inst-info", str(inst_info)]
    assert main([*command, "--out", str(out), "--scale", "log2", "--top-genes", "1"]) == 0
    sig_ids = list(read_gctx_meta(out / "signatures.gctx")[1].index)
    written = [s.name for s in [*read_gmt(out / "up.gmt"), *read_gmt(out / "down.gmt")]]
    gsea = {**gsea_sets(out / "up.gmt"), **gsea_sets(out / "down.gmt")}
    assert sorted(gsea) == sorted(written)
    assert all(len(genes) == 1 for _, genes in gsea.values())
    assert len(written) == len(sig_ids)  # one side of each signature
    left_out = [
        f"{sig_id}_{side}"
        for sig_id in sig_ids
        for side in ("up", "down")
        if f"{sig_id}_{side}" not in written
    ]
    assert len(left_out) == len(sig_ids)
    manifest = json.loads((out / "manifest.json").read_text())["gene_sets"]
    assert manifest["written"] == len(written)
    assert manifest["left_out_empty"] == len(sig_ids)
    assert manifest["left_out_empty_names"] == left_out[:20]
    err = capsys.readouterr().err
    assert f"{len(sig_ids):,} gene sets left out for having no gene" in err
    assert repr(left_out[0]) in err


def test_reverse_tables_equal_a_brute_force_ranking(signatures: Path) -> None:
    matrix = read_gctx(signatures / "signatures.gctx")
    sigs = pd.read_csv(signatures / "sig_info.txt", sep="\t")
    with h5py.File(signatures / "reverse_search.h5") as tables:
        top = tables["trt_cp/up/sig"][:]
        cd = tables["trt_cp/down/cd"][:]
        rank = tables["trt_cp/up/rank"][:]
    compounds = np.flatnonzero(sigs["pert_type"] == "trt_cp")
    gene = 123
    values = matrix.values[gene, compounds]
    assert list(top[gene]) == list(compounds[np.argsort(-values, kind="stable")[:10]])
    assert cd[gene] == pytest.approx(np.sort(values)[:10])
    best = top[gene, 0]
    assert rank[gene, 0] == 1 + np.sum(matrix.values[:, best] > matrix.values[gene, best])


def test_a_crashed_run_resumes_to_the_same_files(
    world: Path, signatures: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_save = run.save_batch
    calls = {"n": 0}

    def crash_after_first(*args, **kwargs):
        real_save(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt("killed")

    monkeypatch.setattr(run, "save_batch", crash_after_first)
    args = (world / "l1000" / "level3.gctx", world / "l1000" / "inst_info.txt", tmp_path)
    with pytest.raises(KeyboardInterrupt):
        compute_signatures(*args, settings=LEVEL3, outputs=SMALL)
    assert len(json.loads((tmp_path / "work" / "progress.json").read_text())["batches"]) == 1
    compute_signatures(*args, settings=LEVEL3, outputs=SMALL)
    assert calls["n"] == 3  # the finished batch was not computed again
    for name in ("signatures.gctx", "up.gmt", "reverse_search.h5"):
        expected = json.loads((signatures / "manifest.json").read_text())["files"][name]["sha256"]
        assert (
            json.loads((tmp_path / "manifest.json").read_text())["files"][name]["sha256"]
            == expected
        )


def test_it_refuses_to_resume_with_other_settings(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stop(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "_assemble", stop)
    args = (world / "l1000" / "level3.gctx", world / "l1000" / "inst_info.txt", tmp_path)
    with pytest.raises(KeyboardInterrupt):
        compute_signatures(*args, settings=LEVEL3, outputs=SMALL)
    with pytest.raises(JobMismatch, match=r"another settings \(rule: batch -> vehicle\)"):
        compute_signatures(*args, settings=SignatureSettings(scale="log2", rule="vehicle"))


def stop_after_first_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next run stops (as if killed) once its first batch is saved."""
    real_save = run.save_batch

    def save_then_stop(*args, **kwargs):
        real_save(*args, **kwargs)
        monkeypatch.setattr(run, "save_batch", real_save)
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(run, "save_batch", save_then_stop)


def files_of(out: Path) -> dict[str, str]:
    return {
        k: v["sha256"] for k, v in json.loads((out / "manifest.json").read_text())["files"].items()
    }


def test_a_run_resumed_with_a_signature_table_is_refused_then_recomputed_with_force(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit's case: killed without --sig-info, run again with it. The batch saved first
    holds other signatures than the table's: it must not be taken for them."""
    level3, inst_info = world / "l1000" / "level3.gctx", world / "l1000" / "inst_info.txt"
    sig_info = world / "l1000" / "sig_info.txt"
    stop_after_first_batch(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        compute_signatures(level3, inst_info, tmp_path / "out", settings=LEVEL3, outputs=SMALL)
    with pytest.raises(JobMismatch, match=r"another signature table \(--sig-info\) \(sig_info: "):
        compute_signatures(
            level3, inst_info, tmp_path / "out", sig_info=sig_info, settings=LEVEL3, outputs=SMALL
        )
    assert (
        len(json.loads((tmp_path / "out" / "work" / "progress.json").read_text())["batches"]) == 1
    )
    kept = dict(sig_info=sig_info, settings=LEVEL3, outputs=SMALL)
    compute_signatures(level3, inst_info, tmp_path / "out", force=True, **kept)
    compute_signatures(level3, inst_info, tmp_path / "fresh", **kept)
    assert files_of(tmp_path / "out") == files_of(tmp_path / "fresh")


def test_profiles_rewritten_at_the_same_size_are_not_resumed(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Profiles replaced in place (convert --force with another model): the same path and size;
    their modification time, and the checksum of a conversion manifest beside them, differ."""
    profiles = tmp_path / "profiles.gctx"
    shutil.copyfile(world / "l1000" / "level3.gctx", profiles)
    manifest = profiles.with_suffix(".json")
    manifest.write_text(
        json.dumps({"format": PROFILES_FORMAT, "file": profiles.name, "checksum": "a" * 64})
    )
    args = (profiles, world / "l1000" / "inst_info.txt", tmp_path / "out")
    stop_after_first_batch(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        compute_signatures(*args, settings=LEVEL3, outputs=SMALL)
    size, stat = profiles.stat().st_size, profiles.stat()
    with h5py.File(profiles, "r+") as file:  # other values, in place
        file["0/DATA/0/matrix"][0, :5] += 1.0
    assert profiles.stat().st_size == size
    with pytest.raises(JobMismatch, match=r"another profiles \(profiles_mtime_ns: "):
        compute_signatures(*args, settings=LEVEL3, outputs=SMALL)
    os.utime(profiles, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # a copy that kept the old time
    manifest.write_text(
        json.dumps({"format": PROFILES_FORMAT, "file": profiles.name, "checksum": "b" * 64})
    )
    with pytest.raises(JobMismatch, match=r"another profiles \(profiles_checksum: aaaaaaaaaaaa"):
        compute_signatures(*args, settings=LEVEL3, outputs=SMALL)


def test_profiles_holding_nan_are_refused_naming_them_before_their_batch(
    world: Path, tmp_path: Path
) -> None:
    profiles = tmp_path / "level3.gctx"
    shutil.copyfile(world / "l1000" / "level3.gctx", profiles)
    rows, cols = read_gctx_meta(profiles)
    with h5py.File(profiles, "r+") as file:
        file["0/DATA/0/matrix"][40, 3:5] = np.nan
    with pytest.raises(NonFiniteValuesError) as refused:
        compute_signatures(
            profiles, world / "l1000" / "inst_info.txt", tmp_path / "out", settings=LEVEL3
        )
    named = f"({cols.index[40]!r}) and 2 gene(s) ({rows.index[3]!r}, {rows.index[4]!r})"
    assert f"(NaN 2, infinite 0) in 1 profile(s) {named}" in str(refused.value)
    assert not (tmp_path / "out" / "manifest.json").exists()
    assert json.loads((tmp_path / "out" / "work" / "progress.json").read_text())["batches"] == {}


def test_profiles_missing_from_the_profile_table_are_refused_before_any_work(
    world: Path, tmp_path: Path
) -> None:
    """docs/real-inputs.md: a profile of the GCTX that the table lacks is refused (the count and
    the ids), as convert refuses it; it used to be left out of every signature silently."""
    table = pd.read_csv(world / "l1000" / "inst_info.txt", sep="\t", dtype=str)
    table.drop(index=[5, 17, 300]).to_csv(tmp_path / "inst_info.txt", sep="\t", index=False)
    dropped = re.escape(", ".join(repr(i) for i in table["inst_id"].iloc[[5, 17, 300]]))
    with pytest.raises(
        LincsTableError, match=f"3 of the .* profiles of .* are not in it: {dropped}$"
    ):
        compute_signatures(
            world / "l1000" / "level3.gctx", tmp_path / "inst_info.txt", tmp_path / "out"
        )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("field", ["pert_type", "rna_plate"])
def test_profiles_without_a_perturbation_type_or_plate_are_refused_before_any_work(
    world: Path, tmp_path: Path, field: str
) -> None:
    """An empty cell (missing, in the beta tables) where every profile needs a value: refused
    naming the profiles, rather than a TypeError after every batch was computed."""
    table = pd.read_csv(world / "l1000" / "inst_info.txt", sep="\t", dtype=str)
    table.loc[[7, 70], field] = ""
    table.to_csv(tmp_path / "inst_info.txt", sep="\t", index=False)
    named = ", ".join(repr(i) for i in table["inst_id"].iloc[[7, 70]])
    with pytest.raises(LincsTableError) as refused:
        compute_signatures(
            world / "l1000" / "level3.gctx", tmp_path / "inst_info.txt", tmp_path / "out"
        )
    assert f"2 profiles have no {field} (an empty cell or -666)" in str(refused.value)
    assert str(refused.value).endswith(f": {named}")
    assert not (tmp_path / "out").exists()


def test_finished_signatures_are_replaced_only_with_force(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    level3, inst_info = world / "l1000" / "level3.gctx", world / "l1000" / "inst_info.txt"
    out = tmp_path / "out"
    compute_signatures(level3, inst_info, out, settings=LEVEL3, outputs=SMALL)
    before = files_of(out)
    vehicle = SignatureSettings(scale="log2", rule="vehicle")
    with pytest.raises(FileExistsError, match="holds finished signatures; pass --force"):
        compute_signatures(level3, inst_info, out, settings=vehicle, outputs=SMALL)
    command = ["signatures", "--profiles", str(level3), "--inst-info", str(inst_info)]
    assert main([*command, "--out", str(out), "--scale", "log2", "--rule", "vehicle"]) == 2
    assert "pass --force to replace them" in capsys.readouterr().err
    assert files_of(out) == before
    compute_signatures(level3, inst_info, out, settings=vehicle, outputs=SMALL, force=True)
    assert json.loads((out / "manifest.json").read_text())["settings"]["rule"] == "vehicle"
    assert files_of(out)["signatures.gctx"] != before["signatures.gctx"]
