"""Gene identity across releases: L1000 landmarks met with RNA-seq genes by stable identifiers.

Symbols change: 47 of the 978 landmark symbols of GSE92742 (2017) are no longer current, and
ARCHS4 v2 names genes by today's symbols (and Ensembl ids). A landmark is therefore matched to an
RNA-seq gene by, in this order:

    entrez           the RNA-seq gene carries the landmark's Entrez id
    ensembl          one of the landmark's Ensembl ids (from its gene table, or the registry's)
    symbol           the landmark's current symbol (the registry's), or the symbol its table gives
                     where that names no other gene today
    previous symbol  a previous symbol or alias of the landmark that names no other gene

The first route that finds exactly one RNA-seq gene decides. A landmark no route matches, one
whose route finds several genes, and landmarks that would share one RNA-seq gene are dropped and
reported with the reason. The registry is NCBI's gene table of the portal's gene reference
(search/reference/genes, read as a file: `transform` shares files with the web side, not code).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from transform.io.errors import name_some

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "search" / "reference" / "genes"
REGISTRY_FILE = REFERENCE_DIR / "human_genes_ncbi_orgHsegdb_2022-09.tsv.gz"
ROUTES = ("entrez", "ensembl", "symbol", "previous symbol")
_VERSION = re.compile(r"\.\d+$")


def bare_ensembl(ids: Iterable[object]) -> list[str]:
    """Ensembl gene ids without their version (ENSG00000141510.16 -> ENSG00000141510)."""
    return [_VERSION.sub("", str(value).strip()) for value in ids]


@dataclass(frozen=True)
class GeneRegistry:
    """NCBI genes: current symbol, Ensembl ids and previous symbols / aliases per Entrez id."""

    symbol: dict[int, str]  # Entrez id -> current symbol
    ensembl: dict[int, tuple[str, ...]]  # Entrez id -> Ensembl gene ids
    aliases: dict[int, tuple[str, ...]]  # Entrez id -> previous symbols and aliases
    by_symbol: dict[str, tuple[int, ...]]  # current symbol -> Entrez ids
    by_ensembl: dict[str, tuple[int, ...]]  # Ensembl id -> Entrez ids
    by_alias: dict[str, tuple[int, ...]]  # alias -> Entrez ids

    @classmethod
    def read(cls, path: Path = REGISTRY_FILE) -> GeneRegistry:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        ids = table["entrez_id"].astype(int).tolist()
        split = {
            c: [tuple(v for v in s.split("|") if v) for s in table[c]]
            for c in ("ensembl_gene_ids", "aliases")
        }
        symbol = dict(zip(ids, table["symbol"], strict=True))
        ensembl = dict(zip(ids, split["ensembl_gene_ids"], strict=True))
        aliases = dict(zip(ids, split["aliases"], strict=True))
        return cls(
            symbol,
            ensembl,
            aliases,
            _inverse({i: (s,) for i, s in symbol.items()}),
            _inverse(ensembl),
            _inverse(aliases),
        )

    def current_symbol(self, entrez: int | None, symbol: str) -> str:
        """The landmark's symbol today: the registry's for its Entrez id, else the one given."""
        return self.symbol.get(entrez, symbol) if entrez is not None else symbol

    def names_other_gene(self, symbol: str, entrez: int | None) -> bool:
        """Whether `symbol` is today the symbol of a gene other than `entrez`."""
        owners = self.by_symbol.get(symbol, ())
        return bool(owners) and entrez not in owners

    def symbols_of_ensembl(self, ensembl_ids: Sequence[object]) -> list[str]:
        """The current symbol of each Ensembl id that names one gene ("" otherwise)."""
        found = []
        for gene in bare_ensembl(ensembl_ids):
            owners = self.by_ensembl.get(gene, ())
            found.append(self.symbol[owners[0]] if len(owners) == 1 else "")
        return found


def _inverse(mapping: dict[int, tuple[str, ...]]) -> dict[str, tuple[int, ...]]:
    inverse: dict[str, list[int]] = {}
    for key, values in mapping.items():
        for value in values:
            inverse.setdefault(value, []).append(key)
    return {value: tuple(keys) for value, keys in inverse.items()}


@cache
def gene_registry() -> GeneRegistry:
    """The shipped registry, read once per process."""
    return GeneRegistry.read()


@dataclass(frozen=True)
class RnaseqGenes:
    """The genes of an RNA-seq matrix, one per symbol, with the stable ids its file carries."""

    symbols: tuple[str, ...]  # unique
    ensembl: dict[str, str]  # bare Ensembl id -> symbol (ids naming one symbol only)
    entrez: dict[int, str]  # Entrez id -> symbol (where the file has Entrez ids)

    @classmethod
    def from_rows(
        cls,
        symbols: Sequence[object],
        ensembl: Sequence[object] | None = None,
        entrez: Sequence[object] | None = None,
    ) -> RnaseqGenes:
        """From a file's per-row fields (rows of one symbol are one gene)."""
        text = ["" if s is None else str(s) for s in symbols]
        named = sorted({s for s in text if s not in ("", "nan", "None", "-666")})
        by_ensembl = _unique_map(bare_ensembl(ensembl), text) if ensembl is not None else {}
        by_entrez = {}
        if entrez is not None:
            numbers = [entrez_id(value) for value in entrez]
            by_entrez = {k: v for k, v in _unique_map(numbers, text).items() if k is not None}
        return cls(tuple(named), by_ensembl, by_entrez)


_Key = TypeVar("_Key", bound=Hashable)


def _unique_map(keys: Sequence[_Key], symbols: Sequence[str]) -> dict[_Key, str]:
    """key -> symbol, for keys that name one symbol only (and are not empty)."""
    seen: dict[_Key, set[str]] = {}
    for key, symbol in zip(keys, symbols, strict=True):
        if key not in (None, "", "nan") and symbol:
            seen.setdefault(key, set()).add(symbol)
    return {key: next(iter(names)) for key, names in seen.items() if len(names) == 1}


def entrez_id(value: object) -> int | None:
    """An Entrez id as an int, from text, int or float (None for missing or not positive)."""
    try:
        number = int(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


@dataclass(frozen=True)
class LandmarkMatch:
    """Which RNA-seq gene each landmark row feeds, by which route; and the landmarks dropped.

    matched: indexed by the landmark's row id: entrez, l1000_symbol, rnaseq_symbol, route.
    dropped: indexed by row id: entrez, l1000_symbol, reason.
    """

    matched: pd.DataFrame
    dropped: pd.DataFrame

    def route_counts(self) -> dict[str, int]:
        counts = self.matched["route"].value_counts()
        return {route: int(counts.get(route, 0)) for route in ROUTES}

    def summary(self) -> dict[str, object]:
        """What a manifest and a log line show: counts by route, every landmark dropped."""
        return {
            "landmarks": len(self.matched) + len(self.dropped),
            "matched": len(self.matched),
            "by_route": self.route_counts(),
            "dropped": [
                {"row": str(row), "symbol": str(r.l1000_symbol), "reason": str(r.reason)}
                for row, r in self.dropped.iterrows()
            ],
        }

    def report(self) -> str:
        routes = ", ".join(f"{n} by {route}" for route, n in self.route_counts().items() if n)
        line = (
            f"landmarks: {len(self.matched)} of {len(self.matched) + len(self.dropped)} "
            f"matched to RNA-seq genes ({routes or 'none'})"
        )
        if len(self.dropped):
            shown = [f"{r.l1000_symbol} ({r.reason})" for _, r in self.dropped.iterrows()]
            line += f"; {len(self.dropped)} dropped: {name_some(shown, limit=20)}"
        return line


def match_landmarks(
    landmarks: pd.DataFrame, rnaseq: RnaseqGenes, registry: GeneRegistry | None = None
) -> LandmarkMatch:
    """Each landmark row (index: row id; columns symbol, entrez, optional ensembl) to an RNA-seq
    gene, by the routes of the module docstring."""
    registry = registry or gene_registry()
    have = set(rnaseq.symbols)
    found, dropped = {}, {}
    for row, lm in landmarks.iterrows():
        entrez = entrez_id(lm.get("entrez"))
        symbol = str(lm["symbol"])
        route, genes = _first_route(entrez, symbol, lm.get("ensembl"), rnaseq, have, registry)
        if route is None:
            dropped[row] = (
                entrez,
                symbol,
                "no RNA-seq gene by Entrez id, Ensembl id, symbol or previous symbol",
            )
        elif len(genes) > 1:
            dropped[row] = (
                entrez,
                symbol,
                f"{route} names several RNA-seq genes: {', '.join(sorted(genes))}",
            )
        else:
            found[row] = (entrez, symbol, next(iter(genes)), route)
    matched = pd.DataFrame.from_dict(
        found, orient="index", columns=["entrez", "l1000_symbol", "rnaseq_symbol", "route"]
    )
    _drop_shared(matched, dropped)
    matched = matched.drop(index=[row for row in dropped if row in matched.index])
    frame = pd.DataFrame.from_dict(
        dropped, orient="index", columns=["entrez", "l1000_symbol", "reason"]
    )
    return LandmarkMatch(matched, frame)


def _first_route(
    entrez: int | None,
    symbol: str,
    ensembl: object,
    rnaseq: RnaseqGenes,
    have: set[str],
    registry: GeneRegistry,
) -> tuple[str | None, set[str]]:
    """The first route that finds any RNA-seq gene, and the genes it finds."""
    ensembl_ids = set(bare_ensembl(str(ensembl).split("|"))) if _given(ensembl) else set()
    if entrez is not None:
        ensembl_ids |= set(registry.ensembl.get(entrez, ()))
    current = registry.current_symbol(entrez, symbol)
    own = {symbol} if not registry.names_other_gene(symbol, entrez) else set()
    aliases = registry.aliases.get(entrez, ()) if entrez is not None else ()
    previous = {
        alias
        for alias in (*aliases, symbol)
        if not registry.names_other_gene(alias, entrez)
        and set(registry.by_alias.get(alias, ())) <= {entrez}
    }
    candidates = (
        ("entrez", {rnaseq.entrez[entrez]} if entrez in rnaseq.entrez else set()),
        ("ensembl", {rnaseq.ensembl[g] for g in ensembl_ids if g in rnaseq.ensembl}),
        ("symbol", {current} & have),
        ("symbol", own & have),
        ("previous symbol", previous & have),
    )
    return next(((route, genes) for route, genes in candidates if genes), (None, set()))


def _given(value: object) -> bool:
    return value is not None and str(value) not in ("", "nan", "None", "-666", "<NA>")


def _drop_shared(matched: pd.DataFrame, dropped: dict[Any, tuple[int | None, str, str]]) -> None:
    """Landmarks that would feed one RNA-seq gene are dropped, each naming the others."""
    shared = matched[matched["rnaseq_symbol"].duplicated(keep=False)]
    for gene, rows in shared.groupby("rnaseq_symbol"):
        for row, lm in rows.iterrows():
            others = ", ".join(str(s) for s in rows["l1000_symbol"] if s != lm["l1000_symbol"])
            dropped[row] = (
                lm["entrez"],
                lm["l1000_symbol"],
                f"shares the RNA-seq gene {gene} with {others}",
            )


def rows_to_space(
    targets: Sequence[str],
    *,
    symbols: Sequence[object],
    ensembl: Sequence[object] | None = None,
    registry: GeneRegistry | None = None,
) -> tuple[np.ndarray, dict[str, int]]:
    """Each row of a counts file (its symbol, and Ensembl id where given) named by a symbol of
    `targets`: by Ensembl id through the registry, then by its own symbol, then as a previous
    symbol. Returns (per row the target symbol or "", the number of rows named by each route,
    with "unmatched")."""
    registry = registry or gene_registry()
    wanted = set(targets)
    by_ensembl = registry.symbols_of_ensembl(ensembl) if ensembl is not None else None
    names, counts = [], dict.fromkeys(("ensembl", "symbol", "previous symbol", "unmatched"), 0)
    for at, raw in enumerate(symbols):
        symbol = str(raw)
        owners = registry.by_alias.get(symbol, ()) if symbol not in wanted else ()
        alias = registry.symbol.get(owners[0], "") if len(owners) == 1 else ""
        for route, name in (
            ("ensembl", by_ensembl[at] if by_ensembl else ""),
            ("symbol", symbol),
            ("previous symbol", alias),
        ):
            if name in wanted:
                names.append(name)
                counts[route] += 1
                break
        else:
            names.append("")
            counts["unmatched"] += 1
    return np.asarray(names, dtype=object), counts
