"""The process's index: opened once, a refused new version leaves the previous one serving."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from search.engine.build import build_index
from search.engine.sources import FrameSource
from search.runtime import index_access
from search.runtime.index_access import IndexUnavailable, search_index
from tests.engine.conftest import TEST_BUILD, signature_metadata
from tests.engine.reference import structured_signatures


def _build(directory: Path) -> Path:
    genes = [f"GENE{g:03d}" for g in range(120)]
    values = structured_signatures(len(genes), 300, seed=5)
    build_index(
        FrameSource(pd.DataFrame(values, index=genes), signature_metadata(300)),
        directory,
        TEST_BUILD,
    )
    return directory


@pytest.fixture
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_access, "_cache", {})


def test_the_index_is_opened_once_and_reused(tmp_path: Path, fresh_cache: None) -> None:
    directory = _build(tmp_path / "index")
    first = search_index(directory)
    assert search_index(directory) is first
    assert first.n_signatures == 300


def test_a_corrupt_new_version_is_refused_and_the_previous_keeps_serving(
    tmp_path: Path, fresh_cache: None
) -> None:
    directory = _build(tmp_path / "index")
    serving = search_index(directory)
    manifest = json.loads((directory / "index.json").read_text())
    (directory / manifest["folder"] / "ranks.npy").unlink(missing_ok=True)
    (directory / "index.json").write_text(json.dumps({**manifest, "created_at": "later"}))
    assert search_index(directory) is serving  # refused; the loaded version answers
    index_access._cache.clear()
    with pytest.raises(IndexUnavailable, match="was refused"):
        search_index(directory)


def test_no_index_is_reported_with_what_to_run(tmp_path: Path, fresh_cache: None) -> None:
    with pytest.raises(IndexUnavailable, match=r"run manage\.py build_search_index"):
        search_index(tmp_path / "none")
