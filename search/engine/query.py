"""The query domain, defined once: what a search may ask for. The engine checks it, the app's
forms, APIs and pages show it; both import it from here.

- MODES: "both" ranks by |score|, "mimic" by score, "reverse" by -score.
- SCORES: the scores (docs/search.md), each with the name pages and exports give it.
- FILTER_FIELDS: the signature metadata a search may filter on.
- MIN_GENES, MAX_GENES: genes per non-empty side (MIN_GENES: genes the index knows; below it the
  rank sum's normal approximation, hence p, cannot be trusted).
- SideReport: what became of one side's genes: the engine fills what the index knows, the app
  what the gene registry resolved.
- GMT pairing of up and down sets: `search.engine.gmt_queries`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MODES = ("both", "mimic", "reverse")
SCORES = {"rank": "two-sided rank test (z_sum)", "cd": "CD-weighted connectivity"}
FILTER_FIELDS = ("pert_type", "cell_id", "pert_iname", "pert_id", "pert_dose", "pert_time")
MIN_GENES, MAX_GENES = 5, 2000


@dataclass
class SideReport:
    """One side (up or down) of a query: the identifiers submitted; the genes matched (registry
    symbols, in the order given; the genes scored, once the index's are set aside); those unknown,
    ambiguous (with candidates), repeated, on both sides or outside the index; and identifiers read
    as another symbol (IL8 -> CXCL8)."""

    submitted: int = 0
    matched: list[str] = field(default_factory=list)  # registry symbols, in the order given
    unknown: list[str] = field(default_factory=list)
    ambiguous: list[dict[str, object]] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)
    in_both: list[str] = field(default_factory=list)
    not_in_index: list[str] = field(default_factory=list)
    resolved: list[dict[str, str]] = field(default_factory=list)  # {query, symbol, by} renamed
    hubs: list[dict[str, object]] = field(default_factory=list)  # matched hub genes (hubs.py)
    poorly_predicted: list[dict[str, object]] = field(default_factory=list)  # accuracy.py

    def as_dict(self) -> dict[str, object]:
        return {
            "submitted": self.submitted,
            "matched": self.matched,
            "resolved": self.resolved,
            "unknown": self.unknown,
            "ambiguous": self.ambiguous,
            "repeated": self.repeated,
            "in_both": self.in_both,
            "not_in_index": self.not_in_index,
            "hubs": self.hubs,
            "poorly_predicted": self.poorly_predicted,
        }
