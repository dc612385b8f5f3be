"""The real LJP005 Level 3 plate as GCTX and a random-weight bundle over 962 of its landmarks;
a small synthetic Level 3 file and a tiny bundle over 30 of its 40 probes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.transform.convert.helpers import entrez_ids, tiny_bundle, write_level3
from tests.transform.io.real_files import LJP005_GCT
from transform.inference import TwoStepModel
from transform.io import read_gct, read_gctx, write_gctx


@pytest.fixture(scope="session")
def plate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plate") / "LJP005_level3.gctx"
    write_gctx(path, read_gct(LJP005_GCT))
    return path


@pytest.fixture(scope="session")
def plate_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """962 of the plate's 978 landmark symbols as inputs (as in the paper), 200 outputs."""
    rows = read_gct(LJP005_GCT).row_meta
    symbols = sorted(rows["pr_gene_symbol"])
    inputs = [symbol for at, symbol in enumerate(symbols) if at % 61 != 60]
    ids = dict(zip(rows["pr_gene_symbol"], rows["pr_gene_id"].astype(int), strict=True))
    path = tmp_path_factory.mktemp("bundle") / "model.pt"
    return tiny_bundle(path, inputs, n_outputs=200, input_gene_ids=ids)


@pytest.fixture(scope="session")
def expected(plate: Path, plate_bundle: Path) -> np.ndarray:
    """(200, 377): TwoStepModel.transform on the whole plate at once."""
    model = TwoStepModel.load(plate_bundle)
    return model.transform(model.align_inputs(read_gctx(plate)))


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """The conversions of these tests multiply tiny matrices, which one thread does fastest on
    a shared CPU; the thread count is given back after each test."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def level3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 profiles x 40 probes G000..G039 (Entrez ids 10, 20, ..)."""
    return write_level3(tmp_path_factory.mktemp("level3") / "level3.gctx", n_profiles=2000)


SMALL_INPUTS = [f"G{i:03d}" for i in range(30)]


@pytest.fixture(scope="session")
def small_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Inputs G000..G029 with their Entrez ids, 50 outputs."""
    path = tmp_path_factory.mktemp("small") / "model.pt"
    return tiny_bundle(path, SMALL_INPUTS, input_gene_ids=entrez_ids(SMALL_INPUTS))
