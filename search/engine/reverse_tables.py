"""The signature pipeline's reverse-search tables, copied into the index as reverse_search.h5.

Per gene, perturbation type and direction they hold the K signatures that raise or lower the gene
most by CD, with the gene's log2 fold change in each (the index itself stores CD and ranks, not
fold changes): the gene page's volcano plot and its fold-change column come from here.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import h5py
import numpy as np

FILE_NAME = "reverse_search.h5"
DIRECTIONS = ("up", "down")


class ReverseTables:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._rows: dict[str, int] | None = None
        self._sig_ids: np.ndarray | None = None

    def _index(self, handle: h5py.File) -> tuple[dict[str, int], np.ndarray]:
        with self._lock:
            if self._rows is None:
                genes = handle["genes"].asstr()[:]
                self._rows = {gene: row for row, gene in reversed(list(enumerate(genes)))}
                self._sig_ids = handle["sig_ids"].asstr()[:]
        assert self._sig_ids is not None  # read with the rows
        return self._rows, self._sig_ids

    def entries(self, gene: str, pert_type: str | None = None) -> list[dict[str, Any]]:
        """Every stored (signature, direction) entry of one gene: sig_id, pert_type, direction,
        cd, log2_fold_change and rank; none for a gene outside the tables."""
        with h5py.File(self.path, "r") as handle:
            rows, sig_ids = self._index(handle)
            row = rows.get(gene)
            if row is None:
                return []
            groups = [name for name in handle if isinstance(handle[name], h5py.Group)]
            kinds = [pert_type] if pert_type else groups
            out: list[dict[str, Any]] = []
            for kind in kinds:
                for direction in DIRECTIONS:
                    group = handle.get(f"{kind}/{direction}")
                    if group is None:
                        continue
                    sig, cd = group["sig"][row], group["cd"][row]
                    lfc, rank = group["log2_fold_change"][row], group["rank"][row]
                    out.extend(
                        {
                            "sig_id": str(sig_ids[s]),
                            "pert_type": kind,
                            "direction": direction,
                            "cd": float(c),
                            "log2_fold_change": float(f),
                            "rank": int(r),
                        }
                        for s, c, f, r in zip(sig, cd, lfc, rank, strict=True)
                        if np.isfinite(c)
                    )
            return out
