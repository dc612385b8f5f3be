"""Exact rank scoring on a GPU with torch: the gene-major rank matrix held in device memory.

The search engine's `gpu` path runs here when FAISS has no GPU support (the PyPI faiss-gpu wheel
is not always there; torch with CUDA is, in a GPU worker). It lives outside search/engine, which
never imports torch: the engine imports this module only when the gpu path is asked for, so web
processes never load torch.

`DeviceRanks` copies an index's rank matrix to the device once (int16: ranks are at most
G <= 32767), in column blocks, so the host holds one block beyond the memory map. A gene set's
sums are a gather of its rows added in int32 on the device, a block of rows at a time: the same
integers as `kernels.set_sums`, so z, p and FDR are those of the exact path. Only the selected
signatures' sums come back to the host (4 bytes each).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from search.engine.metadata import Selection

if TYPE_CHECKING:
    import torch

UPLOAD_COLUMNS = 1 << 15  # signatures per host-to-device copy
GATHER_ROWS = 64  # gene rows gathered at once (a 64 x N int16 temporary)


@functools.cache
def cuda_available() -> bool:
    """torch is installed and sees a CUDA device."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


class DeviceRanks:
    """A (G, N) uint16 rank matrix (ranks <= 32767) copied to `device` as int16."""

    def __init__(self, ranks: np.ndarray, device: str = "cuda") -> None:
        import torch

        if ranks.dtype != np.uint16 or ranks.shape[0] > np.iinfo(np.int16).max:
            raise ValueError("DeviceRanks takes a uint16 rank matrix of at most 32,767 genes")
        self.device = torch.device(device)
        n_genes, n = ranks.shape
        self.matrix = torch.empty((n_genes, n), dtype=torch.int16, device=self.device)
        for lo in range(0, n, UPLOAD_COLUMNS):
            block = np.array(ranks[:, lo : lo + UPLOAD_COLUMNS], order="C").view(np.int16)
            self.matrix[:, lo : lo + block.shape[1]].copy_(torch.from_numpy(block))

    @classmethod
    def from_tensor(cls, matrix: torch.Tensor) -> DeviceRanks:
        """Wrap a (G, N) int16 tensor already on its device (benchmarks generate them there)."""
        ranks = cls.__new__(cls)
        ranks.device, ranks.matrix = matrix.device, matrix
        return ranks

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.matrix.shape)

    def device_sums(self, rows: np.ndarray) -> torch.Tensor:
        """(N,) int32 on the device: sum over `rows` of matrix[row, column], every column."""
        import torch

        index = torch.as_tensor(np.sort(np.asarray(rows, dtype=np.int64)), device=self.device)
        total = torch.zeros(self.matrix.shape[1], dtype=torch.int32, device=self.device)
        for part in index.split(GATHER_ROWS):
            total += self.matrix.index_select(0, part).sum(0, dtype=torch.int32)
        return total

    def set_sums(self, rows: np.ndarray, selection: Selection) -> np.ndarray:
        """uint32 sums of the selected columns, as `kernels.set_sums` gives them."""
        import torch

        total = self.device_sums(rows)
        if not (selection.is_span and selection.start == 0 and selection.stop == total.numel()):
            total = total[torch.as_tensor(selection.positions, device=self.device)]
        return total.cpu().numpy().astype(np.uint32)
