"""The query domain, defined once: what a search may ask for. The engine checks it, the app's
forms, APIs and pages show it; both import it from here.

- MODES: "both" ranks by |score|, "mimic" by score, "reverse" by -score.
- SCORES: the scores (docs/search.md), each with the name pages and exports give it.
- FILTER_FIELDS: the signature metadata a search may filter on.
- MIN_GENES, MAX_GENES: genes per non-empty side (MIN_GENES: genes the index knows; below it the
  rank sum's normal approximation, hence p, cannot be trusted).
- GMT pairing of up and down sets: `search.engine.gmt_queries`.
"""

from __future__ import annotations

MODES = ("both", "mimic", "reverse")
SCORES = {"rank": "two-sided rank test (z_sum)", "cd": "CD-weighted connectivity"}
FILTER_FIELDS = ("pert_type", "cell_id", "pert_iname", "pert_id", "pert_dose", "pert_time")
MIN_GENES, MAX_GENES = 5, 2000
