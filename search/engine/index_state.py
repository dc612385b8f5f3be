"""The state of a search index directory, read from its index.json without loading the index.

Issue #7 writes the index; this reader tells the health API and the workers whether one is there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

INDEX_MANIFEST = "index.json"
REQUIRED_KEYS = ("format_version", "n_signatures", "gene_space")


@dataclass(frozen=True, slots=True)
class IndexState:
    state: str  # "absent", "ready" or "invalid"
    path: str
    detail: str = ""
    n_signatures: int | None = None
    version: str | None = None
    shards: int = 0  # a head's: how many shards hold its matrices (0: it holds its own)
    synthetic_world: dict[str, object] | None = None  # signatures of a generated world (demo)
    n_genes: int | None = None  # the genes of its signatures (its gene space)

    def as_dict(self) -> dict[str, object]:
        return {
            "state": self.state,
            "path": self.path,
            "detail": self.detail,
            "n_signatures": self.n_signatures,
            "version": self.version,
            "shards": self.shards,
            "synthetic_world": self.synthetic_world,
            "n_genes": self.n_genes,
        }


def index_state(directory: Path) -> IndexState:
    manifest = Path(directory) / INDEX_MANIFEST
    path = str(directory)
    if not manifest.is_file():
        return IndexState("absent", path, f"no {INDEX_MANIFEST}; run manage.py build_search_index")
    try:
        meta = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return IndexState("invalid", path, f"{INDEX_MANIFEST} is unreadable: {error}")
    if not isinstance(meta, dict):
        return IndexState("invalid", path, f"{INDEX_MANIFEST} is not a JSON object")
    missing = [key for key in REQUIRED_KEYS if key not in meta]
    if missing:
        return IndexState("invalid", path, f"{INDEX_MANIFEST} lacks {', '.join(missing)}")
    n_signatures = meta["n_signatures"]
    if not isinstance(n_signatures, int) or n_signatures < 0:
        return IndexState("invalid", path, "n_signatures is not a non-negative integer")
    version = meta.get("version")
    bounds = (meta.get("in_shards") or {}).get("bounds") or [0]
    shards = len(bounds) - 1 if isinstance(bounds, list) else 0
    source = meta.get("source")
    origin = source.get("synthetic_world") if isinstance(source, dict) else None
    n_genes = meta["gene_space"].get("n_genes") if isinstance(meta["gene_space"], dict) else None
    return IndexState(
        "ready",
        path,
        "",
        n_signatures,
        str(version) if version else None,
        shards,
        origin if isinstance(origin, dict) else None,
        n_genes if isinstance(n_genes, int) else None,
    )
