"""A small real index for the portal's tests: real gene symbols (the registry resolves them),
generated signatures and the signature pipeline's reverse-search tables beside it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from search.engine import reverse_tables
from search.engine.build import build_index
from search.engine.sources import FrameSource
from search.selectors.examples import example_queries
from search.services.signature_sets import signature_set_load_from_index
from tests.engine.conftest import TEST_BUILD, signature_metadata
from tests.engine.reference import structured_signatures
from transform.signatures.reverse import TopSignatures, write_reverse_tables

N_SIGS = 300
TOP = 40  # signatures per gene, type and direction in the reverse tables


@dataclass
class PortalIndex:
    directory: Path
    genes: list[str]
    meta: pd.DataFrame  # in the generator's order, as the columns of cd and lfc
    cd: pd.DataFrame  # genes x sig_id
    lfc: pd.DataFrame


@pytest.fixture(scope="session")
def portal_index(tmp_path_factory: pytest.TempPathFactory) -> PortalIndex:
    example = example_queries()[0]
    genes = sorted(set(example.up) | set(example.down))
    cd = structured_signatures(len(genes), N_SIGS, seed=5)
    lfc = (cd * 3 + np.random.default_rng(1).normal(0, 0.1, cd.shape)).astype(np.float32)
    meta = signature_metadata(N_SIGS, seed=2)
    meta["pert_id"] = [name.replace("pert-", "BRD-") for name in meta["pert_iname"]]
    folder = tmp_path_factory.mktemp("portal-index")
    tables = {}
    for kind in sorted(set(meta["pert_type"])):
        numbers = np.flatnonzero(meta["pert_type"].to_numpy() == kind)
        for direction in reverse_tables.DIRECTIONS:
            top = TopSignatures(TOP, len(genes), direction)
            top.merge(cd[:, numbers], lfc[:, numbers], numbers)
            tables[(kind, direction)] = top
    table_file = folder / "reverse.h5"
    write_reverse_tables(table_file, genes, list(meta["sig_id"]), tables)
    build_index(
        FrameSource(pd.DataFrame(cd, index=genes), meta),
        folder / "index",
        TEST_BUILD,
        companions={reverse_tables.FILE_NAME: table_file},
    )
    columns = pd.Index(meta["sig_id"])
    return PortalIndex(
        folder / "index",
        genes,
        meta,
        pd.DataFrame(cd, index=genes, columns=columns),
        pd.DataFrame(lfc, index=genes, columns=columns),
    )


@pytest.fixture
def serve_portal_index(portal_index: PortalIndex, settings, db) -> PortalIndex:
    """The portal serves the index, its signature metadata loaded as build_search_index does."""
    settings.SEARCH_INDEX_DIR = portal_index.directory
    signature_set_load_from_index(directory=portal_index.directory)
    return portal_index
