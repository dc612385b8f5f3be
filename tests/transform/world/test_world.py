"""The synthetic world: deterministic, streamed, in the real formats, and true to its own truth."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO
from transform.cli import main
from transform.io import read_archs4, read_gctx
from transform.io.gmt import read_gmt
from transform.io.hdf5 import synthetic_origin
from transform.world.config import world_config
from transform.world.generate import generate_world

REAL_GCTX = "LJP005_A375_24H_X1_B19_ZSPCQNORM_n377x978.gctx"
TINY = {"n_rnaseq_samples": 300, "n_paired_samples": 96, "chunk_samples": 128}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    generate_world(world_config("demo", seed=7, **TINY), out, progress=lambda _: None)
    return out


def _inst(world: Path) -> pd.DataFrame:
    return pd.read_csv(world / "l1000" / "inst_info.txt", sep="\t", index_col="inst_id")


def test_the_level3_file_holds_every_plate_in_the_real_layout(world: Path) -> None:
    level3 = read_gctx(world / "l1000" / "level3.gctx")
    inst = _inst(world)
    assert level3.shape == (978, 9 * 384)
    assert list(level3.col_ids) == list(inst.index)
    assert level3.row_ids[0] == "200814_at"
    assert level3.row_meta["pr_gene_symbol"].iloc[0] == "PSME1"
    assert level3.values.min() > 2.5
    assert level3.values.max() <= 15.0
    plates = inst.groupby("rna_plate").size()
    assert (plates == 384).all()
    assert len(plates) == 9
    assert set(inst["pert_type"]) == {"trt_cp", "ctl_vehicle", "trt_xpr", "ctl_vector"}


def test_replicate_plates_share_their_layout_and_agree(world: Path) -> None:
    inst = _inst(world)
    level3 = read_gctx(world / "l1000" / "level3.gctx")
    batch = inst[inst["rna_plate"].str.startswith("WCP001")]
    layouts = [plate.set_index("rna_well")["pert_id"] for _, plate in batch.groupby("rna_plate")]
    assert all(layout.equals(layouts[0]) for layout in layouts[1:])
    x1, x2 = (
        level3.values[:, inst.index.get_indexer(batch.index[batch["rna_plate"].str.endswith(x)])]
        for x in ("X1", "X2")
    )
    centred = [m - m.mean(axis=1, keepdims=True) for m in (x1, x2)]
    same = np.mean([np.corrcoef(centred[0][:, i], centred[1][:, i])[0, 1] for i in range(384)])
    shuffled = np.mean(
        [np.corrcoef(centred[0][:, i], centred[1][:, (i + 97) % 384])[0, 1] for i in range(384)]
    )
    assert same > shuffled + 0.1


def test_a_knockout_lowers_its_own_landmark_target(world: Path) -> None:
    inst = _inst(world)
    level3 = read_gctx(world / "l1000" / "level3.gctx")
    truth = pd.read_csv(world / "truth" / "perturbations.txt", sep="\t")
    landmark_symbols = dict(zip(level3.row_meta["pr_gene_symbol"], range(978), strict=True))
    controls = level3.values[:, (inst["pert_type"] == "ctl_vector").to_numpy()]
    drops = []
    for _, ko in truth[truth["pert_type"] == "trt_xpr"].iterrows():
        row = landmark_symbols.get(ko["target_gene"])
        wells = (inst["pert_id"] == ko["pert_id"]).to_numpy()
        if row is None or not wells.any():
            continue
        drops.append(level3.values[row, wells].mean() - controls[row].mean())
    assert len(drops) >= 5
    assert np.median(drops) < -0.5


def test_stronger_doses_move_active_compounds_further_from_vehicle(world: Path) -> None:
    inst = _inst(world)
    values = read_gctx(world / "l1000" / "level3.gctx").values
    plate = inst["rna_plate"] == "WCP001_A375_24H_X1"
    vehicle = values[:, (plate & (inst["pert_type"] == "ctl_vehicle")).to_numpy()].mean(axis=1)
    treated = inst[plate & (inst["pert_type"] == "trt_cp")]
    distance = {}
    for dose, group in treated.groupby("pert_dose"):
        wells = values[:, inst.index.get_indexer(group.index)]
        distance[dose] = np.median(np.linalg.norm(wells - vehicle[:, None], axis=0))
    doses = sorted(distance)
    assert distance[doses[-1]] > 1.15 * distance[doses[0]]
    steps_up = sum(distance[b] > distance[a] for a, b in itertools.pairwise(doses))
    assert steps_up >= len(doses) - 2


def test_the_truth_files_name_every_perturbation_and_its_top_genes(world: Path) -> None:
    truth = pd.read_csv(world / "truth" / "perturbations.txt", sep="\t")
    effects = read_gctx(world / "truth" / "effects.gctx")
    assert list(effects.col_ids) == list(truth["pert_id"])
    up = {s.name: s for s in read_gmt(world / "truth" / "true_up.gmt")}
    down = {s.name: s for s in read_gmt(world / "truth" / "true_down.gmt")}
    column = effects.values[:, 0]
    first = truth["pert_id"].iloc[0]
    assert up[first].genes[0] == effects.row_ids[np.argmax(column)]
    assert down[first].genes[0] == effects.row_ids[np.argmin(column)]
    knockouts = truth[truth["pert_type"] == "trt_xpr"]
    for pert_id, target in zip(knockouts["pert_id"], knockouts["target_gene"], strict=True):
        assert down[pert_id].genes[0] == target
        assert (
            effects.values[
                effects.row_ids.get_loc(target), truth["pert_id"].tolist().index(pert_id)
            ]
            < -2
        )


def test_signatures_list_their_wells_across_replicate_plates(world: Path) -> None:
    sigs = pd.read_csv(world / "l1000" / "sig_info.txt", sep="\t")
    inst = _inst(world)
    assert sigs["sig_id"].is_unique
    row = sigs.iloc[0]
    wells = row["distil_id"].split("|")
    assert len(wells) == row["distil_nsample"] >= 3
    assert set(inst.loc[wells, "pert_id"]) == {row["pert_id"]}
    assert inst.loc[wells, "rna_plate"].str.replace(r"_X\d$", "", regex=True).nunique() == 1


def test_the_rnaseq_collection_is_archs4_like(world: Path) -> None:
    counts = read_archs4(world / "rnaseq" / "archs4_gene_counts.h5")
    assert counts.shape == (26594, 300)
    assert np.issubdtype(counts.values.dtype, np.integer)
    library = counts.values.sum(axis=0)
    assert 5e6 < np.median(library) < 5e7
    expressed = ((counts.values > 10).mean(axis=1) > 0.02).sum()
    assert 22000 < expressed < 25500
    assert counts.row_meta["symbol"].is_unique


def test_every_hdf5_file_of_a_world_says_which_world_made_it(world: Path) -> None:
    files = sorted(p for p in world.rglob("*") if p.suffix in (".gctx", ".h5"))
    assert {p.relative_to(world).as_posix() for p in files} >= {
        "l1000/level3.gctx",
        "rnaseq/archs4_gene_counts.h5",
        "paired/l1000_level3.gctx",
        "paired/rnaseq_counts.h5",
    }
    for path in files:
        assert synthetic_origin(path) == {"size": "demo", "seed": 7, "setting": "default"}, path
    # real files are not marked, nor is a text file
    assert synthetic_origin(REPO / "tests" / "data" / "l1000" / REAL_GCTX) is None
    assert synthetic_origin(world / "l1000" / "inst_info.txt") is None


def test_the_paired_set_measures_the_same_samples_both_ways(world: Path) -> None:
    l1000 = read_gctx(world / "paired" / "l1000_level3.gctx")
    rnaseq = read_archs4(world / "paired" / "rnaseq_counts.h5")
    truth = read_gctx(world / "paired" / "true_log_cpm.gctx")
    assert list(l1000.col_ids) == list(truth.col_ids) == list(rnaseq.col_meta["geo_accession"])
    assert l1000.shape == (978, 96)
    assert truth.shape == (26594, 96)


def test_a_world_is_the_same_for_a_seed_whatever_the_chunk_size(tmp_path: Path) -> None:
    config = world_config("demo", seed=3, **TINY)
    rechunked = world_config("demo", seed=3, **{**TINY, "chunk_samples": 200})
    first = generate_world(config, tmp_path / "a", progress=lambda _: None, parts=("rnaseq",))
    again = generate_world(rechunked, tmp_path / "b", progress=lambda _: None, parts=("rnaseq",))
    a = read_archs4(tmp_path / "a" / "rnaseq" / "archs4_gene_counts.h5")
    b = read_archs4(tmp_path / "b" / "rnaseq" / "archs4_gene_counts.h5")
    np.testing.assert_array_equal(a.values, b.values)
    assert first["counts"] == again["counts"]
    other = generate_world(
        world_config("demo", seed=4, **TINY),
        tmp_path / "c",
        progress=lambda _: None,
        parts=("rnaseq",),
    )
    assert other["files"] != first["files"]


def test_the_command_writes_a_manifest_and_refuses_to_overwrite(tmp_path: Path, capsys) -> None:
    out = tmp_path / "w"
    args = ["world", "--size", "demo", "--seed", "1", "--out", str(out), "--parts", "truth"]
    assert main(args) == 0
    manifest = json.loads((out / "world.json").read_text())
    assert manifest["config"]["seed"] == 1
    assert "truth/effects.gctx" in manifest["files"]
    assert main(args) == 2
    assert "not empty" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0
