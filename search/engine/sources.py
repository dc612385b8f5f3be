"""Where an index build reads signatures from: the signature pipeline's output folder.

`python -m transform signatures` writes OUT/signatures.gctx (genes x signatures, stored
signature-major) with the signature metadata as column metadata, and OUT/manifest.json.
The gene space is the rows' pr_gene_symbol (the row ids where there is none), as the pipeline's
own up/down GMT files name genes. Read through transform.io (h5py and pandas; no torch).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np
import pandas as pd

from transform.io import read_gctx_meta
from transform.io.files import sha256_file
from transform.io.gctx import MATRIX
from transform.io.hdf5 import read_rows

SIGNATURES_FILE = "signatures.gctx"
MANIFEST_FILE = "manifest.json"


class GctxSource:
    """Signatures of a GCTX file: metadata in memory, values read block by block."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        row_meta, col_meta = read_gctx_meta(self.path)
        symbols = row_meta.get("pr_gene_symbol", row_meta.index)
        self.genes = [str(symbol) for symbol in symbols]
        self.metadata = col_meta.rename_axis("sig_id").reset_index()
        self.metadata["sig_id"] = self.metadata["sig_id"].astype(str)
        self._file = h5py.File(self.path, "r")
        self._matrix = self._file[MATRIX]

    def read(self, positions: np.ndarray) -> np.ndarray:
        return np.asarray(read_rows(self._matrix, np.asarray(positions)), dtype=np.float32)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> GctxSource:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def signatures_source(folder: Path) -> tuple[GctxSource, dict[str, Any]]:
    """The GCTX of a signature folder and provenance for index.json (its manifest's facts)."""
    folder = Path(folder)
    path = folder / SIGNATURES_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"no {SIGNATURES_FILE} in {folder}; run python -m transform signatures"
        )
    provenance: dict[str, Any] = {"signatures": str(path.resolve()), "bytes": path.stat().st_size}
    manifest = folder / MANIFEST_FILE
    if manifest.is_file():
        facts = json.loads(manifest.read_text(encoding="utf-8"))
        provenance.update(
            manifest_sha256=sha256_file(manifest),
            signatures_sha256=facts.get("files", {}).get(SIGNATURES_FILE, {}).get("sha256"),
            gene_space=facts.get("gene_space"),
            settings=facts.get("settings"),
            synthetic_world=facts.get("synthetic_world"),  # signatures of a generated world
        )
    return GctxSource(path), provenance


class FrameSource:
    """Signatures held in memory: values genes x signatures (index = gene symbols), metadata one
    row per signature in the same order (tests, small real sets)."""

    def __init__(self, values: pd.DataFrame, metadata: pd.DataFrame) -> None:
        self.genes = [str(g) for g in values.index]
        self.metadata = metadata.reset_index(drop=True)
        self._values = np.ascontiguousarray(values.to_numpy(np.float32).T)

    def read(self, positions: np.ndarray) -> np.ndarray:
        rows: np.ndarray = self._values[np.asarray(positions)]
        return rows
