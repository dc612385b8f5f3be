"""Batch conversion of L1000 Level 3 profiles into RNA-seq-like profiles (`transform convert`).

Streamed in column chunks (memory fixed by the chunk size), resumable after a kill at any moment,
on the CPU, one GPU (pinned buffers, CUDA streams, reading and writing threads) or Celery workers
on many. Modules: `run` (the job from start to manifest), `job` (the job and its work folder),
`output` (the output GCTX filled in place), `compute` (the forward pass), `chunks` (the
overlapping stages), `dispatch` and `worker` (Celery), `command` (the CLI), `synthetic`
(random-weight bundles for tests and benchmarks).
"""

from transform.convert.run import ConvertOptions, ConvertSummary, convert_profiles

__all__ = ["ConvertOptions", "ConvertSummary", "convert_profiles"]
