"""Checkpoints and bundles rebuild their networks exactly; other gene spaces are refused by name."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.transform.train.conftest import TINY_EXTRAPOLATOR, TINY_STANDARDIZED
from transform.bundle import write_bundle
from transform.gene_space import GeneSpace, GeneSpaceMismatch
from transform.inference import TwoStepModel
from transform.io import read_gctx
from transform.models import Extrapolator, ExtrapolatorConfig, Generator, GeneratorConfig
from transform.train.checkpoint import load_checkpoint, save_checkpoint
from transform.train.cyclegan import train_cyclegan
from transform.train.extrapolator import train_extrapolator
from transform.train.prepare import PreparedData
from transform.train.session import ProgressLine

STANDARDIZED_EXTRAPOLATOR = replace(
    TINY_EXTRAPOLATOR, model=ExtrapolatorConfig(hidden=(8, 8, 16), standardized=True)
)


def _quiet() -> ProgressLine:
    return ProgressLine("test", stream=io.StringIO())


@pytest.fixture(scope="module")
def trained(prepared: PreparedData, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("trained")
    step1 = train_cyclegan(TINY_STANDARDIZED, prepared, root / "step1", progress=_quiet())
    step2 = train_extrapolator(
        STANDARDIZED_EXTRAPOLATOR, prepared, root / "step2", progress=_quiet()
    )
    bundle = root / "model.pt"
    write_bundle(cyclegan=step1, extrapolator=step2, out=bundle)
    return {"step1": step1, "step2": step2, "bundle": bundle}


def _networks(trained: dict[str, Path], n_in: int, n_out: int) -> tuple[Generator, Extrapolator]:
    """G_AB as trained and the extrapolator's best epoch, rebuilt from the checkpoints alone."""
    step1, step2 = (load_checkpoint(trained[name]) for name in ("step1", "step2"))
    generator = Generator(n_in, GeneratorConfig.from_dict(step1["config"]["generator"]))
    generator.load_state_dict(step1["state"]["G_AB"])
    extrapolator = Extrapolator(n_in, n_out, ExtrapolatorConfig.from_dict(step2["config"]["model"]))
    extrapolator.load_state_dict(step2["state"]["early_stopping"]["best_state"])
    return generator.eval(), extrapolator.eval()


def test_checkpoint_and_bundle_round_trip_give_identical_outputs(
    trained: dict[str, Path], prepared: PreparedData
) -> None:
    n_in, n_out = len(prepared.input_genes), len(prepared.output_genes)
    generator, extrapolator = _networks(trained, n_in, n_out)
    profiles = np.array(prepared.l1000[:50], dtype=np.float32)  # (50, n_in)
    with torch.no_grad():
        step1 = generator(torch.from_numpy(profiles))
        expected = torch.relu(extrapolator(step1)).numpy().T
    model = TwoStepModel.load(trained["bundle"])
    assert model.input_genes == prepared.input_genes.symbols
    assert model.output_genes == prepared.output_genes.symbols
    np.testing.assert_array_equal(model.step1(profiles.T), step1.numpy().T)
    np.testing.assert_array_equal(model.transform(profiles.T), expected)
    again = TwoStepModel.load(trained["bundle"])
    np.testing.assert_array_equal(again.transform(profiles.T), expected)


def test_the_standardized_networks_carry_their_scales_in_the_checkpoint(
    trained: dict[str, Path], prepared: PreparedData
) -> None:
    step1 = load_checkpoint(trained["step1"])["state"]["G_AB"]
    l1000 = np.asarray(prepared.l1000, dtype=np.float64)
    np.testing.assert_allclose(step1["input_mean"].numpy(), l1000.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(step1["input_sd"].numpy(), l1000.std(axis=0), rtol=1e-4)
    matched = np.array([bool(c) for c in prepared.rnaseq_cell_lines])
    rnaseq = np.asarray(prepared.rnaseq_inputs, dtype=np.float64)[matched]
    np.testing.assert_allclose(step1["output_mean"].numpy(), rnaseq.mean(axis=0), atol=1e-6)
    step2 = load_checkpoint(trained["step2"])["state"]["model"]
    assert step2["input_sd"].min() > 0


def test_resuming_on_data_of_other_genes_is_refused_naming_them(
    trained: dict[str, Path], prepared: PreparedData, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    train_cyclegan(TINY_STANDARDIZED, prepared, run, until_epoch=1, progress=_quiet())
    symbols = list(prepared.input_genes.symbols)
    dropped, added = symbols[3], "NOT_A_LANDMARK"
    other = replace(prepared, input_genes=GeneSpace("input", (*symbols[:3], *symbols[4:], added)))
    with pytest.raises(GeneSpaceMismatch) as error:
        train_cyclegan(TINY_STANDARDIZED, other, run, resume=True, progress=_quiet())
    assert dropped in str(error.value)
    assert added in str(error.value)
    assert error.value.missing == (dropped,)
    assert error.value.extra == (added,)


def test_a_bundle_of_steps_with_other_input_genes_is_refused_naming_them(
    trained: dict[str, Path], tmp_path: Path
) -> None:
    step2 = load_checkpoint(trained["step2"])
    symbols = step2["genes"]["input_genes"]["symbols"]
    step2["genes"]["input_genes"] = GeneSpace("input", tuple(symbols[1:])).to_dict()
    save_checkpoint(step2, tmp_path / "step2.pt")
    with pytest.raises(GeneSpaceMismatch, match=symbols[0]):
        write_bundle(
            cyclegan=trained["step1"], extrapolator=tmp_path / "step2.pt", out=tmp_path / "model.pt"
        )


def test_level3_profiles_lacking_input_genes_are_refused_naming_them(
    trained: dict[str, Path], tiny_world: Path
) -> None:
    model = TwoStepModel.load(trained["bundle"])
    level3 = read_gctx(tiny_world / "l1000" / "level3.gctx")
    lacking = model.input_genes[5]
    rows = level3.row_meta["pr_gene_symbol"].astype(str) != lacking
    cut = type(level3)(level3.values[rows.to_numpy()], level3.row_meta[rows], level3.col_meta)
    with pytest.raises(GeneSpaceMismatch, match=lacking):
        model.align_inputs(cut)
