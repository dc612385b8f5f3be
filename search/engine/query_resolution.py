"""Up/down gene-set queries: parsed, resolved through a gene resolver, and reported.

Every identifier is accounted for: resolved to a registry symbol, ambiguous (with its candidates),
unknown, or repeated. Genes resolved on both sides are reported and left out of both (a gene cannot
be asked to go up and down at once). Which resolved genes the search index lacks is for the index
to say (`not_in_index`, `keep_indexed`). The portal's resolver is built from its gene registry
(search/selectors/genes.py), the command line's from the same reference tables
(search/engine/cli.py): both resolve a query the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from search.engine.errors import PortalError
from search.engine.genes import GeneResolver, Resolution, ResolutionStatus
from search.engine.query import MAX_GENES, MIN_GENES, SideReport

SEPARATORS = re.compile(r"[\s,;]+")
# what a side report lists of the identifiers a query could not use (query.SideReport)
LEFT_OUT = ("unknown", "ambiguous", "repeated", "in_both", "not_in_index")
SYMBOL_LISTS = ("in_both", "not_in_index")  # of these, the lists of registry symbols


class QueryError(PortalError):
    """A query that cannot be run as given; the payload names the field."""


def split_identifiers(text: str) -> list[str]:
    """Identifiers separated by whitespace, commas or semicolons."""
    return [item for item in SEPARATORS.split(text) if item]


def resolve_side(
    identifiers: Sequence[str], resolver: GeneResolver, choices: Mapping[str, str] | None = None
) -> SideReport:
    """The side's genes; an ambiguous identifier takes the candidate `choices` names for it (one
    of its candidates), and every identifier read as another symbol is reported (IL8 -> CXCL8)."""
    report = SideReport(submitted=len(identifiers))
    seen: set[str] = set()
    for resolution in resolver.resolve_many(list(identifiers)):
        symbol, by = _symbol_of(resolution, resolver, choices or {})
        if resolution.status is ResolutionStatus.UNKNOWN:
            report.unknown.append(resolution.query)
        elif symbol is None:
            candidates = [resolver.genes[i].symbol for i in resolution.entrez_ids]
            report.ambiguous.append({"query": resolution.query, "candidates": candidates})
        elif symbol in seen:
            report.repeated.append(resolution.query)
        else:
            seen.add(symbol)
            report.matched.append(symbol)
            if resolution.query != symbol:
                report.resolved.append({"query": resolution.query, "symbol": symbol, "by": by})
    return report


def _symbol_of(
    resolution: Resolution, resolver: GeneResolver, choices: Mapping[str, str]
) -> tuple[str | None, str]:
    """(symbol, how it was found) of a resolution; (None, "") when it stays ambiguous."""
    if resolution.status is ResolutionStatus.RESOLVED:
        return resolver.genes[resolution.entrez_ids[0]].symbol, str(resolution.matched_by)
    if resolution.status is ResolutionStatus.AMBIGUOUS:
        candidates = [resolver.genes[i].symbol for i in resolution.entrez_ids]
        chosen = choices.get(resolution.query.casefold())
        if chosen in candidates:
            return chosen, "your choice among " + ", ".join(candidates)
    return None, ""


def resolve_query(
    *,
    up: Sequence[str],
    down: Sequence[str],
    resolver: GeneResolver,
    choices: Mapping[str, str] | None = None,
) -> tuple[SideReport, SideReport]:
    """Both sides resolved, genes on both sides set aside; refuses what cannot be searched."""
    if not up and not down:
        raise QueryError("give up genes, down genes or both", field="up")
    for name, side in (("up", up), ("down", down)):
        if len(side) > MAX_GENES:
            raise QueryError(f"{len(side)} {name} genes: at most {MAX_GENES} per side", field=name)
    chosen = checked_choices(choices or {}, [*up, *down], resolver)
    reports = resolve_side(up, resolver, chosen), resolve_side(down, resolver, chosen)
    both = set(reports[0].matched) & set(reports[1].matched)
    for report in reports:
        report.in_both = [symbol for symbol in report.matched if symbol in both]
        report.matched = [symbol for symbol in report.matched if symbol not in both]
    return reports


def checked_choices(
    choices: Mapping[str, str], identifiers: Sequence[str], resolver: GeneResolver
) -> dict[str, str]:
    """The choices for ambiguous identifiers, keyed by the identifier in lower case and naming
    the candidate as the registry spells it (both matched regardless of case). A choice for an
    identifier the query does not hold, or that is not ambiguous, or of a gene that is not one
    of its candidates is refused, naming it: ignored, it would leave the query other than meant."""
    wanted = {key.casefold(): (key, value) for key, value in choices.items()}
    named = [i for i in dict.fromkeys(identifiers) if i.casefold() in wanted]
    chosen: dict[str, str] = {}
    for resolution in resolver.resolve_many(named):
        key, value = wanted[resolution.query.casefold()]
        if resolution.status is not ResolutionStatus.AMBIGUOUS:
            continue
        candidates = [resolver.genes[i].symbol for i in resolution.entrez_ids]
        matching = [c for c in candidates if c.casefold() == value.casefold()]
        if not matching:
            raise QueryError(
                f"choices: {value} is not a candidate of {key} ({', '.join(candidates)})",
                field="choices",
            )
        chosen[key.casefold()] = matching[0]
    idle = [key for folded, (key, _) in wanted.items() if folded not in chosen]
    if idle:
        raise QueryError(
            f"choices: {', '.join(idle)} is not an ambiguous identifier of this query",
            field="choices",
        )
    return chosen


def keep_indexed(reports: Sequence[SideReport], has_gene: Callable[[str], bool]) -> None:
    """Each side's matched genes the index lacks move to its `not_in_index`."""
    for report in reports:
        report.not_in_index = [gene for gene in report.matched if not has_gene(gene)]
        report.matched = [gene for gene in report.matched if has_gene(gene)]


def check_sizes(up: SideReport, down: SideReport) -> None:
    """Each side given must keep at least MIN_GENES genes the index knows."""
    for name, report in (("up", up), ("down", down)):
        if report.submitted and len(report.matched) < MIN_GENES:
            raise QueryError(
                f"only {len(report.matched)} of the {report.submitted} {name} genes can be "
                f"searched (at least {MIN_GENES} are needed)",
                field=name,
                report=report.as_dict(),
                reports={"up": up.as_dict(), "down": down.as_dict()},  # what each side left out
            )


def left_out_as_given(sides: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """The identifiers, as the query gave them, that its sides' reports (SideReport.as_dict)
    list as unknown, ambiguous (with their candidates), repeated, on both sides or outside the
    index. The last two are kept as registry symbols in a report: one read from another
    identifier (tp53 -> TP53, IL8 -> CXCL8) is named as that side gave it."""
    named: dict[str, list[str]] = {key: [] for key in LEFT_OUT}
    for side in sides:
        given = {str(item["symbol"]): str(item["query"]) for item in side.get("resolved") or []}
        for key in LEFT_OUT:
            for value in side.get(key) or []:
                if isinstance(value, dict):  # ambiguous: the identifier and its candidates
                    named[key].append(str(value["query"]))
                elif key in SYMBOL_LISTS:
                    named[key].append(given.get(str(value), str(value)))
                else:
                    named[key].append(str(value))
    return named
