"""A small structured signature set and its index, built once per session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from search.engine.build import BuildSettings, build_index
from search.engine.index import SearchIndex
from search.engine.sources import FrameSource
from tests.engine.reference import reference_ranks, structured_signatures

N_GENES, N_SIGS = 300, 2400
TEST_BUILD = BuildSettings(
    top_genes=60, embedding_dim=16, sample=800, block=500, recall_queries=10, pq_from=1000
)


@dataclass(frozen=True)
class Indexed:
    directory: Path
    index: SearchIndex
    values: np.ndarray  # (G, N) float64, columns in index order
    ranks: np.ndarray  # reference ranks of values
    genes: list[str]


def signature_metadata(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    kinds = np.array(["trt_cp"] * 6 + ["trt_sh"] * 3 + ["trt_oe"])
    return pd.DataFrame(
        {
            "sig_id": [f"SIG{i:05d}" for i in range(n)],
            "pert_type": kinds[rng.integers(0, kinds.size, n)],
            "cell_id": np.array(["A375", "MCF7", "PC3", "HT29"])[rng.integers(0, 4, n)],
            "pert_iname": [f"pert-{i % 97:03d}" for i in range(n)],
            "pert_dose": np.array([0.1, 1.0, 10.0])[rng.integers(0, 3, n)],
            "pert_time": np.array([6, 24])[rng.integers(0, 2, n)],
        }
    )


@pytest.fixture(scope="session")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Indexed:
    return build_indexed(structured_signatures(N_GENES, N_SIGS, seed=7), tmp_path_factory)


@pytest.fixture(scope="session")
def indexed_ties(tmp_path_factory: pytest.TempPathFactory) -> Indexed:
    """Signatures whose values are rounded to one decimal: most genes tie with others."""
    values = np.round(structured_signatures(N_GENES, 600, seed=8), 1)
    return build_indexed(values, tmp_path_factory)


def build_indexed(values: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Indexed:
    genes = [f"GENE{g:04d}" for g in range(values.shape[0])]
    meta = signature_metadata(values.shape[1])
    directory = tmp_path_factory.mktemp("index")
    build_index(FrameSource(pd.DataFrame(values, index=genes), meta), directory, TEST_BUILD)
    index = SearchIndex.open(directory)
    order = pd.Index(meta["sig_id"]).get_indexer(index.table.sig_ids)
    ordered = values[:, order].astype(np.float64)
    return Indexed(directory, index, ordered, reference_ranks(ordered), genes)
