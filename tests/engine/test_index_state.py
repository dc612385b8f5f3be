from __future__ import annotations

import json
from pathlib import Path

from search.engine.index_state import index_state


def test_a_missing_index_is_absent(tmp_path: Path) -> None:
    state = index_state(tmp_path / "nowhere")
    assert state.state == "absent"
    assert "build_search_index" in state.detail


def test_a_complete_manifest_is_ready(tmp_path: Path) -> None:
    manifest = {"format_version": 1, "n_signatures": 12, "gene_space": "demo", "version": "v3"}
    (tmp_path / "index.json").write_text(json.dumps(manifest))
    state = index_state(tmp_path)
    assert (state.state, state.n_signatures, state.version) == ("ready", 12, "v3")


def test_broken_manifests_are_invalid_with_the_reason(tmp_path: Path) -> None:
    manifest = tmp_path / "index.json"
    cases = {
        "{not json": "unreadable",
        "[1, 2]": "not a JSON object",
        json.dumps({"format_version": 1}): "lacks n_signatures, gene_space",
        json.dumps({"format_version": 1, "n_signatures": -1, "gene_space": "x"}): "non-negative",
    }
    for text, reason in cases.items():
        manifest.write_text(text)
        state = index_state(tmp_path)
        assert state.state == "invalid"
        assert reason in state.detail, (text, state.detail)
