"""Level 3 probes are mapped onto the model's input genes by Entrez id, else by symbol; the
genes found neither way are named before anything is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.transform.convert.conftest import SMALL_INPUTS
from tests.transform.convert.helpers import (
    convert,
    entrez_ids,
    manifest_of,
    tiny_bundle,
    write_level3,
)
from transform.cli import main as transform_main
from transform.gene_space import GeneSpaceMismatch
from transform.inference import TwoStepModel
from transform.io import read_gctx


def test_probes_are_taken_by_symbol_in_the_models_order(level3: Path, tmp_path: Path) -> None:
    inputs = [f"G{i:03d}" for i in (31, 4, 17, 0, 39, 22, 8, 12)]  # not the file's order
    bundle = tiny_bundle(tmp_path / "model.pt", inputs)
    output = tmp_path / "profiles.gctx"
    convert(bundle, level3, output, chunk_size=700)
    source = read_gctx(level3)
    rows = [source.row_meta["pr_gene_symbol"].tolist().index(symbol) for symbol in inputs]
    expected = TwoStepModel.load(bundle).transform(source.values[rows])
    np.testing.assert_allclose(read_gctx(output).values, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "renamed",
    [
        pytest.param({"G003": "OLD3", "G027": "OLD27"}, id="under-other-symbols"),
        # two probes whose symbols were swapped (the Entrez ids kept): each input gene is still
        # read from its own Entrez id's row, as docs/convert.md says, not from its symbol's row
        pytest.param({"G003": "G004", "G004": "G003"}, id="symbols-swapped"),
    ],
)
def test_probes_are_found_by_entrez_id_before_symbol(
    level3: Path, small_bundle: Path, tmp_path: Path, renamed: dict[str, str]
) -> None:
    changed = write_level3(tmp_path / "changed.gctx", n_profiles=2000, renamed=renamed)
    convert(small_bundle, level3, tmp_path / "plain.gctx", chunk_size=500)
    convert(small_bundle, changed, tmp_path / "by_entrez.gctx", chunk_size=500)
    plain, by_entrez = (
        manifest_of(tmp_path / "plain.gctx"),
        manifest_of(tmp_path / "by_entrez.gctx"),
    )
    assert by_entrez["checksum"] == plain["checksum"]


def test_missing_landmarks_are_named_and_nothing_is_written(level3: Path, tmp_path: Path) -> None:
    inputs = [*SMALL_INPUTS, "NOVEL1", "NOVEL2"]
    bundle = tiny_bundle(tmp_path / "model.pt", inputs, input_gene_ids=entrez_ids(SMALL_INPUTS))
    output = tmp_path / "profiles.gctx"
    with pytest.raises(GeneSpaceMismatch, match="2 missing: 'NOVEL1', 'NOVEL2'") as raised:
        convert(bundle, level3, output)
    assert raised.value.missing == ("NOVEL1", "NOVEL2")
    assert list(tmp_path.iterdir()) == [bundle]


def test_the_command_prints_the_missing_landmarks(
    level3: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tiny_bundle(tmp_path / "model.pt", [*SMALL_INPUTS[:5], "NOVEL1"])
    arguments = [
        "convert",
        "--checkpoint",
        str(bundle),
        "--input",
        str(level3),
        "--output",
        str(tmp_path / "profiles.gctx"),
        "--device",
        "cpu",
    ]
    assert transform_main(arguments) == 2
    error = capsys.readouterr().err
    assert "missing input genes (1): NOVEL1" in error
    assert "error: the L1000 matrix lacks input genes of the model" in error
