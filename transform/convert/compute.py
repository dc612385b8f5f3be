"""Both steps of the model as one forward pass over chunks of profiles, on the CPU or a GPU.

`ChunkModel.forward` takes (n, n_input) float32 Level 3 values on the model's device and returns
(n, n_output) RNA-seq-like profiles in the stored dtype: G_AB, the extrapolator, negatives clipped
to 0, as `TwoStepModel.transform` computes them (optionally under bf16 or fp16 autocast).
`DeviceStage` moves a chunk from host memory through the model and back, each step on its own
CUDA stream so that consecutive chunks overlap; on the CPU the same call runs the forward pass.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import numpy as np
import pandas as pd
import torch
from torch import nn

from transform.inference import TwoStepModel
from transform.io import GeneMatrix

AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}
STORED = {"float32": torch.float32, "float16": torch.float16}
HOST = {torch.float32: np.float32, torch.float16: np.float16}
CHECK_ROWS = 1024  # profiles per block when comparing autocast with float32


class ChunkModel:
    """A TwoStepModel's networks as one forward pass; dtype and autocast fixed per job."""

    def __init__(
        self, model: TwoStepModel, *, dtype: str = "float32", autocast: str | None = None
    ) -> None:
        if dtype not in STORED:
            raise ValueError(f"output dtype {dtype!r}: choose one of {', '.join(STORED)}")
        if autocast is not None and autocast not in AUTOCAST:
            raise ValueError(f"autocast {autocast!r}: choose one of {', '.join(AUTOCAST)}")
        self.model = model
        self.device = model.device
        self.dtype = STORED[dtype]
        self.autocast = autocast
        self.n_inputs, self.n_outputs = len(model.input_genes), len(model.output_genes)

    @torch.inference_mode()
    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """(n, n_input) float32 on the device -> (n, n_output) in the stored dtype."""
        with self._autocast(self.autocast):
            profiles = self._clipped(inputs)
        return profiles.to(self.dtype)  # beyond float16's range: inf, refused when written

    def _clipped(self, inputs: torch.Tensor) -> torch.Tensor:
        profiles: torch.Tensor = self.model.extrapolator(self.model.generator(inputs))
        return profiles.float().clamp_min_(0)

    def _autocast(self, name: str | None) -> AbstractContextManager[None]:
        if name is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=AUTOCAST[name])

    @torch.inference_mode()
    def check_autocast(self, inputs: torch.Tensor) -> dict[str, float | int | str]:
        """Max |autocast - float32| and their Pearson r over all values of a chunk."""
        inputs = inputs.to(self.device)
        exact = self._clipped(inputs)
        with self._autocast(self.autocast):
            fast = self._clipped(inputs)
        return {"autocast": str(self.autocast), "profiles": len(inputs), **agreement(exact, fast)}

    def flops_per_profile(self) -> int:
        """Multiply-adds x 2 of every linear layer of both steps (biases, ReLU, BN left out)."""
        networks = (self.model.generator, self.model.extrapolator)
        return sum(linear_flops(network) for network in networks)


def linear_flops(network: nn.Module) -> int:
    return sum(
        2 * layer.in_features * layer.out_features
        for layer in network.modules()
        if isinstance(layer, nn.Linear)
    )


def agreement(exact: torch.Tensor, fast: torch.Tensor) -> dict[str, float]:
    """max_abs_diff and pcc (over all values, in float64, block by block) of two matrices."""
    blocks = [slice(at, at + CHECK_ROWS) for at in range(0, len(exact), CHECK_ROWS)]
    n = exact.numel()
    means = [sum(float(m[b].double().sum()) for b in blocks) / n for m in (exact, fast)]
    sums = torch.zeros(3, dtype=torch.float64)
    largest = 0.0
    for block in blocks:
        a, b = exact[block].double() - means[0], fast[block].double() - means[1]
        sums += torch.stack([(a * b).sum(), (a * a).sum(), (b * b).sum()]).cpu()
        largest = max(largest, float((exact[block] - fast[block]).abs().max()))
    pcc = float(sums[0] / torch.sqrt(sums[1] * sums[2])) if sums[1] * sums[2] > 0 else 1.0
    return {"max_abs_diff": largest, "pcc": pcc}


class DeviceStage:
    """Host -> device copy, forward pass, device -> host copy of one chunk.

    On CUDA each step runs on its own stream, ordered by events, and `run` returns without
    waiting: the copy of the next chunk overlaps this chunk's compute, whose results travel back
    while the next one computes. `run` returns two events: inputs copied (the host input buffer
    may be refilled) and outputs copied (the host output buffer holds the results); None on CPU.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cuda = device.type == "cuda"
        if self.cuda:
            self.h2d, self.compute, self.d2h = (
                torch.cuda.Stream(device)  # type: ignore[no-untyped-call]  # torch: unannotated
                for _ in range(3)
            )

    def run(
        self,
        model: ChunkModel,
        host_in: torch.Tensor,
        host_out: torch.Tensor,
        overflow: torch.Tensor | None = None,
    ) -> tuple[torch.cuda.Event | None, torch.cuda.Event | None]:
        """overflow (CUDA, float16 output): a pinned one-element bool tensor that receives, with
        the outputs, whether any profile value is beyond float16's range (inf), checked on the
        device so that the writer need not scan the chunk."""
        if not self.cuda:
            host_out.copy_(model.forward(host_in))
            return None, None
        inputs_copied, computed, outputs_copied = (
            torch.cuda.Event()  # type: ignore[no-untyped-call]  # torch: unannotated
            for _ in range(3)
        )
        with torch.cuda.stream(self.h2d):
            device_in = host_in.to(self.device, non_blocking=True)
            inputs_copied.record(self.h2d)
        self.compute.wait_event(inputs_copied)
        with torch.cuda.stream(self.compute):
            device_out = model.forward(device_in)
            infinite = torch.isinf(device_out).any().reshape(1) if overflow is not None else None
            computed.record(self.compute)
        device_in.record_stream(self.compute)
        self.d2h.wait_event(computed)
        with torch.cuda.stream(self.d2h):
            host_out.copy_(device_out, non_blocking=True)
            if infinite is not None and overflow is not None:  # both, or neither
                overflow.copy_(infinite, non_blocking=True)
                infinite.record_stream(self.d2h)
            outputs_copied.record(self.d2h)
        device_out.record_stream(self.d2h)
        return inputs_copied, outputs_copied


def host_buffer(rows: int, cols: int, dtype: torch.dtype, *, pinned: bool) -> torch.Tensor:
    """A (rows, cols) host tensor: page-locked for CUDA copies, else numpy-backed memory."""
    if pinned:
        return torch.empty((rows, cols), dtype=dtype, pin_memory=True)
    return torch.from_numpy(np.empty((rows, cols), dtype=HOST[dtype]))


def input_rows(model: TwoStepModel, row_meta: pd.DataFrame) -> np.ndarray:
    """Row positions of the model's input genes among Level 3 rows, in the model's order.

    `TwoStepModel.align_inputs` does the matching (symbol, landmark flag, Entrez id) and raises
    GeneSpaceMismatch naming the genes it cannot find; given the row numbers as values, it
    returns the row each input gene comes from.
    """
    numbers = np.arange(len(row_meta), dtype=np.float32)[:, None]  # exact below 2**24 rows
    one_column = pd.DataFrame(index=pd.Index(["row"], name="cid"))
    aligned = model.align_inputs(GeneMatrix(numbers, row_meta, one_column))
    return aligned[:, 0].astype(np.int64)
