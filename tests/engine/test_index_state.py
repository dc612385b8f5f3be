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


def test_an_index_of_a_generated_worlds_signatures_says_so(tmp_path: Path) -> None:
    """build_search_index copies the signatures' manifest into index.json's source; the state
    carries its synthetic_world, and an index of real signatures has none."""
    origin = {"size": "demo", "seed": 0, "setting": "default"}
    manifest = {"format_version": 1, "n_signatures": 3, "gene_space": "x", "source": {}}
    (tmp_path / "index.json").write_text(json.dumps(manifest))
    assert index_state(tmp_path).synthetic_world is None
    manifest["source"] = {"signatures": "s.gctx", "synthetic_world": origin}
    (tmp_path / "index.json").write_text(json.dumps(manifest))
    assert index_state(tmp_path).synthetic_world == origin
    assert index_state(tmp_path).as_dict()["synthetic_world"] == origin
