"""Exact rank scoring on a GPU with torch: the gene-major rank matrix held in device memory.

The search engine's `gpu` path runs here when FAISS has no GPU support (the PyPI faiss-gpu wheel
is not always there; torch with CUDA is, in a GPU worker). It is the only module of the engine
that imports torch, and the engine imports it only when the gpu path is asked for, so web
processes never load torch (import-linter keeps it so: `make lint`).

`DeviceRanks` copies an index's rank matrix to the device once (int16: ranks are at most
G <= 32767), in column blocks, so the host holds one block beyond the memory map. A gene set's
sums are a gather of its rows added in int32 on the device, a block of rows at a time: the same
integers as `cpu.set_sums`, so z, p and FDR are those of the exact path. Only the selected
signatures' sums come back to the host (4 bytes each).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from search.engine import scores
from search.engine.errors import InvalidQueryError
from search.engine.metadata import Selection

if TYPE_CHECKING:
    import torch

UPLOAD_COLUMNS = 1 << 15  # signatures per host-to-device copy
GATHER_ROWS = 64  # gene rows gathered at once (a 64 x N int16 temporary)
MANY_COLUMNS = 1 << 14  # signatures a block of many_sums: G x 16,384 int8 twice, ~0.8 GB


HEADROOM = 0.9  # of the device's free memory the matrix may take (queries need the rest)


def check_fits(needed: int, free: int) -> None:
    """InvalidQueryError, naming both sizes, when the rank matrix would not fit on the device."""
    if needed > HEADROOM * free:
        raise InvalidQueryError(
            f"the gpu path needs {needed / 1e9:,.1f} GB of GPU memory for this index's rank "
            f"matrix and the GPU has {free / 1e9:,.1f} GB free; use path exact or fast"
        )


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
        if self.device.type == "cuda":
            check_fits(2 * n_genes * n, torch.cuda.mem_get_info(self.device)[0])
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
        n_genes, n = self.matrix.shape
        return n_genes, n

    def device_sums(self, rows: np.ndarray) -> torch.Tensor:
        """(N,) int32 on the device: sum over `rows` of matrix[row, column], every column."""
        import torch

        index = torch.as_tensor(np.sort(np.asarray(rows, dtype=np.int64)), device=self.device)
        total = torch.zeros(self.matrix.shape[1], dtype=torch.int32, device=self.device)
        for part in torch.split(index, GATHER_ROWS):  # Tensor.split, typed
            total += self.matrix.index_select(0, part).sum(0, dtype=torch.int32)
        return total

    def selected_sums(self, rows: np.ndarray, selection: Selection) -> torch.Tensor:
        """device_sums of the selected columns only, in selection order (on the device)."""
        import torch

        total = self.device_sums(rows)
        if selection.is_span and selection.start == 0 and selection.stop == total.numel():
            return total
        return total[torch.as_tensor(selection.positions, device=self.device)]

    def set_sums(self, rows: np.ndarray, selection: Selection) -> np.ndarray:
        """uint32 sums of the selected columns, as `cpu.set_sums` gives them."""
        return self.selected_sums(rows, selection).cpu().numpy().astype(np.uint32)

    def many_sums(self, sets: Sequence[np.ndarray], selection: Selection) -> torch.Tensor:
        """(len(sets), selection.size) int32 on the device: each gene set's rank sums over the
        selected columns, for many sets at once as integer matrix products, exactly.

        A rank r <= 32767 is 256 h + l + 128 with h = r >> 8 in 0..127 and l = (r & 255) - 128
        in -128..127: both int8. With A the sets' 0/1 indicator (int8), a set's sums are
        256 (A H) + (A L) + 128 |set|, where A H and A L are int8 x int8 products accumulated in
        int32 (torch._int_mm: integer arithmetic, nothing rounded) whose terms stay under
        32767 x 127 < 2^31. A block of MANY_COLUMNS signatures at a time; the shapes padded with
        zeros to what the int8 kernels take (more than 16 rows, multiples of 8)."""
        import torch

        n_genes, _ = self.shape
        width = -(-n_genes // 8) * 8
        indicator = torch.zeros((max(17, len(sets)), width), dtype=torch.int8, device=self.device)
        for at, rows in enumerate(sets):
            rows = np.asarray(rows, dtype=np.int64)
            if np.unique(rows).size != rows.size:
                raise ValueError("a gene set for many_sums holds a gene twice")
            indicator[at, torch.as_tensor(rows, device=self.device)] = 1
        counts = indicator.sum(1, dtype=torch.int32)[:, None]
        positions = torch.as_tensor(np.array(selection.positions), device=self.device)
        out = torch.empty((len(sets), selection.size), dtype=torch.int32, device=self.device)
        for lo in range(0, selection.size, MANY_COLUMNS):
            columns = positions[lo : lo + MANY_COLUMNS]
            taken = columns.numel()
            ranks = torch.zeros((width, -(-taken // 8) * 8), dtype=torch.int16, device=self.device)
            ranks[:n_genes, :taken] = self.matrix.index_select(1, columns)
            high = (ranks >> 8).to(torch.int8)
            low = ((ranks & 255) - 128).to(torch.int8)
            total = 256 * torch._int_mm(indicator, high) + torch._int_mm(indicator, low)
            out[:, lo : lo + taken] = (total + 128 * counts)[: len(sets), :taken]
        return out


class DeviceAbsZ:
    """|z| of every signature searched, on the device, with the methods of scores.HostAbsZ:
    fdr_for brings back only the m largest, the picks' values and a histogram (all of them only
    when it must sort every p-value)."""

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor
        self.size = int(tensor.numel())

    def values(self) -> np.ndarray:
        return self.tensor.cpu().numpy()

    def largest(self, m: int) -> np.ndarray:
        import torch

        return torch.topk(self.tensor, m, sorted=True).values.cpu().numpy()

    def at(self, picks: np.ndarray) -> np.ndarray:
        import torch

        where = torch.as_tensor(np.ascontiguousarray(picks), device=self.tensor.device)
        return self.tensor[where].cpu().numpy()

    def histogram(self, boundary: float, bins: int) -> np.ndarray:
        import torch

        where = torch.clamp((self.tensor * float(bins / boundary)).long(), max=bins)
        return torch.bincount(where, minlength=bins + 1).cpu().numpy()


@dataclass(frozen=True)
class DeviceScores:
    """A query scored on the device: what the host needs to rank it and take its FDR."""

    candidates: np.ndarray  # selection indices whose key reaches the k-th largest (sorted)
    z_up: np.ndarray  # at the candidates (NaN for an empty side)
    z_down: np.ndarray
    abs_z: DeviceAbsZ  # |z_sum| / its null sd, every selected signature
    abs_z_up: DeviceAbsZ | None  # |z_up| of every selected signature (None: no up genes)
    abs_z_down: DeviceAbsZ | None


def rank_on_device(
    ranks: DeviceRanks,
    up: np.ndarray,
    down: np.ndarray,
    selection: Selection,
    n_genes: int,
    mode: str,
    k: int,
    sd: float,
    given: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> DeviceScores:
    """z_up, z_down, z_sum and the ranking key of every selected signature on the device, with the
    float64 operations of scores.set_z and searching._ranked (so the values are the host's, bit
    for bit); only the candidates for the top k cross to the host. given: the two sides' sums
    of the selected signatures already on the device (DeviceRanks.many_sums)."""
    import torch

    mean, var = scores.rank_moments(n_genes)
    z: list[torch.Tensor | None] = []
    for side, rows in enumerate((up, down)):
        if rows.size == 0:
            z.append(None)
            continue
        centre, set_sd = scores.set_null(rows.size, n_genes, mean, var)
        sums = ranks.selected_sums(rows, selection) if given is None else given[side]
        z.append((sums.double() - float(centre)) / float(set_sd))
    size = selection.size
    zero = torch.zeros(size, dtype=torch.float64, device=ranks.device)
    z_sum = (zero if z[0] is None else z[0]) - (zero if z[1] is None else z[1])
    key = {"both": torch.abs(z_sum), "mimic": z_sum, "reverse": -z_sum}[mode]
    if k < size:
        threshold = torch.topk(key, k, sorted=True).values[-1]
        candidates = torch.nonzero(key >= threshold).flatten()
    else:
        candidates = torch.arange(size, device=ranks.device)

    def at_candidates(values: torch.Tensor | None) -> np.ndarray:
        if values is None:
            return np.full(candidates.numel(), np.nan)
        return values[candidates].cpu().numpy()

    sides = [None if values is None else DeviceAbsZ(torch.abs(values)) for values in z]
    return DeviceScores(
        candidates.cpu().numpy(),
        at_candidates(z[0]),
        at_candidates(z[1]),
        DeviceAbsZ(torch.abs(z_sum) / sd),
        *sides,
    )
