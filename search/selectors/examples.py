"""Example up/down queries from real gene sets (search/reference/genesets), one click away."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from transform.io.gmt import read_gmt

GENESETS = Path(__file__).resolve().parents[1] / "reference" / "genesets"
LJP005 = "l1000_LJP005_A375_24H_consensus_top50_{}.gmt"
AIRWAY = "airway_dexamethasone_top150_updown.gmt"


@dataclass(frozen=True)
class ExampleQuery:
    key: str
    title: str
    description: str
    up: tuple[str, ...]
    down: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "title": self.title,
            "description": self.description,
            "up": list(self.up),
            "down": list(self.down),
        }


@functools.cache
def example_queries() -> tuple[ExampleQuery, ...]:
    airway = {s.name: s.genes for s in read_gmt(GENESETS / AIRWAY)}
    up = {s.name: s.genes for s in read_gmt(GENESETS / LJP005.format("up"))}
    down = {s.name: s.genes for s in read_gmt(GENESETS / LJP005.format("down"))}
    examples = [
        ExampleQuery(
            "dexamethasone",
            "Dexamethasone, airway smooth muscle (RNA-seq)",
            "GSE52778: top 150 genes up and down after dexamethasone, paired by donor",
            airway["airway_dexamethasone_up"],
            airway["airway_dexamethasone_down"],
        )
    ]
    for compound, target in (("vemurafenib", "BRAF inhibitor"), ("trametinib", "MEK inhibitor")):
        name = f"LJP005_A375_24H_{compound}"
        examples.append(
            ExampleQuery(
                compound,
                f"{compound.capitalize()} ({target}), A375 24 h (L1000)",
                "LINCS plate LJP005: consensus top 50 landmarks up and down at doses of 1 µM "
                "and more",
                up[name],
                down[name],
            )
        )
    return tuple(examples)
