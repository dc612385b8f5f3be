"""The in-memory form of an annotated matrix: values with row and column metadata."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class GeneMatrix:
    """A genes x samples matrix (profiles or signatures) with its metadata.

    values: (n_rows, n_cols), rows are genes (or probes), columns are samples.
    row_meta: indexed by row id (`rid`), one row per matrix row, in the same order.
    col_meta: indexed by column id (`cid`), one row per matrix column, in the same order.
    """

    values: np.ndarray
    row_meta: pd.DataFrame
    col_meta: pd.DataFrame

    def __post_init__(self) -> None:
        if self.values.ndim != 2:
            raise ValueError(f"values must be 2-D, got shape {self.values.shape}")
        n_rows, n_cols = self.values.shape
        if len(self.row_meta) != n_rows:
            raise ValueError(f"{len(self.row_meta)} row ids for {n_rows} matrix rows")
        if len(self.col_meta) != n_cols:
            raise ValueError(f"{len(self.col_meta)} column ids for {n_cols} matrix columns")

    @property
    def row_ids(self) -> pd.Index:
        return self.row_meta.index

    @property
    def col_ids(self) -> pd.Index:
        return self.col_meta.index

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape
