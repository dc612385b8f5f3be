"""The real plate in the published layouts and an ARCHS4 file of today's symbols, written once
per session for the tests of every offline command (tests/transform/layouts.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.transform.layouts import Layout, landmarks_2017, write_archs4_today, write_layouts


@pytest.fixture(scope="session")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Layout]:
    return write_layouts(tmp_path_factory.mktemp("layouts"))


@pytest.fixture(scope="session")
def landmarks() -> pd.DataFrame:
    return landmarks_2017()


@pytest.fixture(scope="session")
def archs4_today(landmarks: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_archs4_today(tmp_path_factory.mktemp("archs4") / "human_gene_v2.2.h5", landmarks)
