"""Up/down queries from the gene sets of a GMT: one pairing rule for single and batch searches.

A set named `X_up` is the up side of query X; `X_down` or `X_dn` its down side (suffixes in any
case, in any order in the file). A set without such a suffix is the up side of a query of its own
name. Queries come in the order their first set appears; a side given twice is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

SUFFIXES = (("_up", "up"), ("_down", "down"), ("_dn", "down"))


class GmtPairingError(ValueError):
    """Sets that cannot make queries under the rule of this module."""


@dataclass
class GmtQuery:
    name: str
    up: list[str] = field(default_factory=list)
    down: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "up": self.up, "down": self.down}


def set_side(name: str) -> tuple[str, str]:
    """(query name, "up" or "down") of a set named `name`."""
    for suffix, side in SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], side
    return name, "up"


def gmt_queries(sets: Iterable[tuple[str, Iterable[str]]]) -> list[GmtQuery]:
    """The queries of (set name, genes) pairs, by the rule of the module docstring."""
    queries: dict[str, GmtQuery] = {}
    for name, genes in sets:
        stem, side = set_side(name)
        query = queries.setdefault(stem, GmtQuery(stem))
        if getattr(query, side):
            raise GmtPairingError(f"query {stem!r} has two {side} sets (the second is {name!r})")
        setattr(query, side, list(genes))
    return list(queries.values())


def one_gmt_query(sets: Iterable[tuple[str, Iterable[str]]]) -> GmtQuery:
    """The single query of a search's GMT; more than one query is refused, naming them."""
    queries = gmt_queries(sets)
    if len(queries) != 1:
        names = ", ".join(q.name for q in queries) or "none"
        raise GmtPairingError(
            f"a search takes one query and the GMT makes {len(queries)} ({names}): name its sets "
            "X_up and X_down (or X_dn), or send several queries as a batch search"
        )
    return queries[0]
