"""RNA-seq normalization of the paper: CPM, log10(CPM + 1), quantile normalization across samples.

All matrices are (n_genes, n_samples): rows are genes, columns are samples. Arithmetic runs in
float64; results are cast to `dtype` (float32 unless asked otherwise) only at the end.

Quantile normalization: the target distribution (the *reference*) is the mean of the sorted columns;
each value takes the reference value of its rank; values tied within a column all take the mean of
the reference values over the ranks they occupy. The reference is a plain float64 array of length
n_genes, so a checkpoint can store it and map new samples onto the scale of the training data:
mapping is column by column, so `quantile_map(sample, reference)` gives a sample exactly what it got
when the reference was fitted with it.

For collections too large for memory (50,000 ARCHS4 samples x 35,000 genes is 14 GB in float64) the
chunked functions take a factory of column chunks and make two passes: the first accumulates the sum
of sorted columns, the second maps each chunk. Peak memory is a few times one chunk in float64.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

CPM_SCALE = 1e6

ChunkFactory = Callable[[], Iterable[ArrayLike]]


class EmptySampleError(ValueError):
    """Samples whose counts sum to zero: their CPM is undefined."""


def cpm(
    counts: ArrayLike, *, sample_ids: Sequence[str] | None = None, dtype: DTypeLike = np.float32
) -> np.ndarray:
    """Counts per million: counts / column sum x 1e6.  # (n_genes, n_samples)

    Raises EmptySampleError naming the samples (by `sample_ids`, else by column position) whose
    counts sum to zero, and ValueError on negative or non-finite counts.
    """
    return _cpm64(counts, sample_ids).astype(dtype, copy=False)


def log_cpm(
    counts: ArrayLike, *, sample_ids: Sequence[str] | None = None, dtype: DTypeLike = np.float32
) -> np.ndarray:
    """log10(CPM + 1) of a counts matrix (n_genes, n_samples)."""
    return _log_cpm64(counts, sample_ids).astype(dtype, copy=False)


def normalize_rnaseq(
    counts: ArrayLike, *, sample_ids: Sequence[str] | None = None, dtype: DTypeLike = np.float32
) -> np.ndarray:
    """The paper's RNA-seq normalization: log10(CPM + 1), then quantile normalization.

    counts: (n_genes, n_samples) read counts on the full gene matrix. On real data the result runs
    from 0 to about 4.5 (a gene holding a few percent of all reads reaches ~4.7).
    """
    return quantile_normalize(_log_cpm64(counts, sample_ids), dtype=dtype)


def quantile_normalize(values: ArrayLike, *, dtype: DTypeLike = np.float32) -> np.ndarray:
    """Quantile normalization across samples (columns), ties taking the mean of their quantiles."""
    values64 = _as_matrix(values)
    reference = fit_quantile_reference([values64])
    return quantile_map(values64, reference, dtype=dtype)


class QuantileReference:
    """The reference distribution (mean of the sorted columns), accumulated chunk by chunk."""

    def __init__(self) -> None:
        self._sorted_sum: np.ndarray | None = None
        self.n_samples = 0

    def update(self, chunk: ArrayLike) -> None:
        """Add the columns of one (n_genes, k) chunk."""
        values = _as_matrix(chunk)
        sorted_sum = np.sort(values, axis=0).sum(axis=1)
        if self._sorted_sum is None:
            self._sorted_sum = sorted_sum
        elif sorted_sum.shape != self._sorted_sum.shape:
            raise ValueError(
                f"chunk has {values.shape[0]} genes, earlier chunks {self._sorted_sum.shape[0]}"
            )
        else:
            self._sorted_sum += sorted_sum
        self.n_samples += values.shape[1]

    def finalize(self) -> np.ndarray:
        """The reference: (n_genes,) float64, ascending. A plain array, ready to be stored."""
        if self._sorted_sum is None or self.n_samples == 0:
            raise ValueError("no samples were added to the quantile reference")
        return self._sorted_sum / self.n_samples


def fit_quantile_reference(chunks: Iterable[ArrayLike]) -> np.ndarray:
    """The reference distribution of all columns of all chunks: (n_genes,) float64."""
    reference = QuantileReference()
    for chunk in chunks:
        reference.update(chunk)
    return reference.finalize()


def quantile_map(
    values: ArrayLike, reference: ArrayLike, *, dtype: DTypeLike = np.float32
) -> np.ndarray:
    """Map each column of `values` (n_genes, k) onto `reference` (n_genes,) by rank.

    Ties within a column take the mean of the reference values over their ranks. Columns are
    independent, so a sample gets the same values alone as within any batch.
    """
    values64 = _as_matrix(values)
    target = np.asarray(reference, dtype=np.float64)
    if target.shape != (values64.shape[0],):
        raise ValueError(
            f"reference has shape {target.shape}, values have {values64.shape[0]} genes"
        )
    if not np.all(np.isfinite(target)) or np.any(np.diff(target) < 0):
        raise ValueError("reference must be finite and ascending (a fitted quantile reference)")
    return _tie_averaged(values64, target).astype(dtype, copy=False)


def average_ranks(values: ArrayLike) -> np.ndarray:
    """1-based ranks within each column, ties taking their mean rank (like scipy's rankdata)."""
    values64 = _as_matrix(values)
    return _tie_averaged(values64, np.arange(1, values64.shape[0] + 1, dtype=np.float64))


def quantile_normalize_chunked(
    make_chunks: ChunkFactory, *, reference: ArrayLike | None = None, dtype: DTypeLike = np.float32
) -> tuple[np.ndarray, Iterator[np.ndarray]]:
    """Quantile-normalize a stream of (n_genes, k) chunks.

    make_chunks: called once per pass, returns a fresh iterable of chunks in the same order.
    Without `reference`, the first pass runs now and fits it; the mapping pass runs lazily as the
    returned iterator is consumed. Returns (reference, normalized chunks).
    """
    return _two_pass(make_chunks, _prepare_values, reference, dtype)


def normalize_rnaseq_chunked(
    make_chunks: ChunkFactory, *, reference: ArrayLike | None = None, dtype: DTypeLike = np.float32
) -> tuple[np.ndarray, Iterator[np.ndarray]]:
    """`normalize_rnaseq` over a stream of (n_genes, k) count chunks, as quantile_normalize_chunked.

    Store the returned reference with the model: `normalize_rnaseq_chunked(new, reference=stored)`
    puts new samples on the same scale.
    """
    return _two_pass(make_chunks, _prepare_counts, reference, dtype)


def _two_pass(
    make_chunks: ChunkFactory,
    prepare: Callable[[ArrayLike, int], np.ndarray],
    reference: ArrayLike | None,
    dtype: DTypeLike,
) -> tuple[np.ndarray, Iterator[np.ndarray]]:
    def prepared() -> Iterator[np.ndarray]:
        first_column = 0
        for chunk in make_chunks():
            values = prepare(chunk, first_column)
            first_column += values.shape[1]
            yield values

    fitted = fit_quantile_reference(prepared()) if reference is None else reference
    fitted = np.asarray(fitted, dtype=np.float64)
    return fitted, (quantile_map(values, fitted, dtype=dtype) for values in prepared())


def _prepare_values(chunk: ArrayLike, first_column: int) -> np.ndarray:
    return _as_matrix(chunk)


def _prepare_counts(chunk: ArrayLike, first_column: int) -> np.ndarray:
    return _log_cpm64(chunk, first_column=first_column)


def _log_cpm64(
    counts: ArrayLike, sample_ids: Sequence[str] | None = None, first_column: int = 0
) -> np.ndarray:
    return np.log10(_cpm64(counts, sample_ids, first_column) + 1.0)


def _cpm64(
    counts: ArrayLike, sample_ids: Sequence[str] | None = None, first_column: int = 0
) -> np.ndarray:
    """CPM in float64. Errors name columns by `sample_ids`, else by position + first_column."""
    values = _as_matrix(counts)
    if np.any(values < 0):
        raise ValueError("counts must be non-negative")
    totals = values.sum(axis=0)
    empty = np.flatnonzero(totals == 0)
    if empty.size:
        raise EmptySampleError(
            f"{empty.size} sample(s) with zero total counts, CPM undefined: "
            + _name_columns(empty, sample_ids, first_column)
        )
    cpm: NDArray[np.float64] = values / totals * CPM_SCALE
    return cpm


def _name_columns(
    positions: np.ndarray, sample_ids: Sequence[str] | None, first_column: int
) -> str:
    shown = positions[:10]
    if sample_ids is None:
        names = "columns " + ", ".join(str(first_column + int(p)) for p in shown)
    else:
        names = ", ".join(str(sample_ids[int(p)]) for p in shown)
    return names + (
        f" and {positions.size - shown.size} more" if positions.size > shown.size else ""
    )


def _as_matrix(values: ArrayLike) -> np.ndarray:
    matrix = np.asarray(values, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"expected a (n_genes, n_samples) matrix, got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ValueError("values must be finite (no NaN or infinity)")
    return matrix


def _tie_averaged(values: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Each value of each column -> mean of target over the ranks its tie group occupies.

    values: (n, k) float64; target: (n,) float64, indexed by 0-based rank.
    """
    n_rows, n_cols = values.shape
    if values.size == 0:
        return values.copy()
    order = np.argsort(values, axis=0, kind="stable")
    ordered = np.ascontiguousarray(np.take_along_axis(values, order, axis=0).T)  # (k, n)
    new_group = np.ones(ordered.shape, dtype=bool)
    new_group[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    starts = np.flatnonzero(new_group)  # every column starts a group: groups never span columns
    sizes = np.diff(np.append(starts, ordered.size))
    sums = np.add.reduceat(np.tile(target, n_cols), starts)
    means = np.repeat(sums / sizes, sizes).reshape(n_cols, n_rows).T
    result = np.empty_like(values)
    np.put_along_axis(result, order, means, axis=0)
    return result
