"""What a search returns: the ranked table, the query report and how the answer was computed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from search.engine.query import SideReport

PATHS = ("auto", "exact", "flat", "gpu", "fast")
STAT_COLUMNS = ("z_up", "z_down", "z_sum", "p_up", "p_down", "p", "fdr_up", "fdr_down", "fdr")


@dataclass(frozen=True)
class QueryReport:
    up: SideReport
    down: SideReport

    def as_dict(self) -> dict[str, dict[str, object]]:
        return {"up": self.up.as_dict(), "down": self.down.as_dict()}


@dataclass(frozen=True)
class SearchResult:
    """The top k signatures, best first.

    table columns: sig_id, score, z_up, z_down, z_sum, p_up, p_down, p, fdr_up, fdr_down, fdr
    (and, for the "cd" score, cd_up and cd_down: the mean CD of each side), then the signature
    metadata. score is z_sum for "rank" and cd_up - cd_down for "cd"; fdr_up and fdr_down adjust
    p_up and p_down over every signature searched, as fdr adjusts p; a side left empty has NaN z,
    p, FDR and cd."""

    table: pd.DataFrame
    report: QueryReport
    mode: str
    score: str
    path: str  # the path that ran: exact, flat, gpu or fast
    n_searched: int  # signatures scored (after filters); the FDR is over these
    index_version: str
    recall_at_100: float | None  # of the fast mode, measured at build
    fdr_exact: bool = True  # False on the fast path: an upper bound (see docs/search.md)
    filters: dict[str, dict[str, object]] = field(default_factory=dict)  # filter_report

    @property
    def rows(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = self.table.to_dict("records")
        return records
