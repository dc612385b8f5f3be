"""The engine from the command line, for a downloaded index: no Django, no server, no database.

    python -m search.engine query --index DIR --up FKBP5 TSC22D3 ... --down IL6 CCL2 ...
    python -m search.engine query --index DIR --gmt queries.gmt          (one query per pair)
    python -m search.engine gene --index DIR FKBP5 [--direction up] [--pert-type trt_cp]

Identifiers resolve as the portal resolves them (`query_resolution`, with a resolver built from
the same reference tables the portal's registry is loaded from: search/reference/genes, or
--genes DIR), and the scores are the index's own, so the rows equal the API's answers. Output is
TSV on stdout: `#` lines first (the index, what each query searched, the identifiers left out),
then one row per signature with its rank and the index's metadata. A query that cannot run says
why on stderr and the command exits 2; with --gmt the other queries still run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import pandas as pd

from search.engine.errors import IndexArtifactError, PortalError
from search.engine.gene_reference import read_gene_reference
from search.engine.genes import GeneResolver, ResolutionStatus
from search.engine.gmt_queries import GmtPairingError, gmt_queries
from search.engine.index import SearchIndex
from search.engine.query import FILTER_FIELDS, MODES, SCORES, SideReport
from search.engine.query_resolution import (
    QueryError,
    check_sizes,
    keep_indexed,
    left_out_as_given,
    resolve_query,
)
from search.engine.specificity import row_taus
from transform.io.gmt import GmtFormatError, parse_gmt

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "genes"


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args, out)
    except (
        PortalError,
        IndexArtifactError,
        GmtFormatError,
        GmtPairingError,
        OSError,
        UnicodeDecodeError,
    ) as error:
        print(f"python -m search.engine {args.command}: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, out: TextIO) -> int:
    index = SearchIndex.open(args.index)
    resolver = GeneResolver(read_gene_reference(args.genes))
    out.write(
        f"# index {index.version}: {index.n_signatures:,} signatures x {index.n_genes:,} genes\n"
    )
    if args.command == "gene":
        return _gene(index, resolver, args, out)
    queries = _queries(args)
    filters = _filters(args.filter)
    index.table.refuse_unmatched(filters)  # a value no signature has: named, as the API does
    _filter_notes(index, filters, out)
    failed, written = 0, False
    for name, up, down in queries:
        try:
            table = _search(index, resolver, up, down, filters, args, out, name)
        except PortalError as error:
            print(f"query {name}: {error}", file=sys.stderr)
            failed += 1
            continue
        if args.gmt:
            table.insert(0, "query", name)
        table.to_csv(out, sep="\t", index=False, header=not written, lineterminator="\n")
        written = True
    return 2 if failed else 0


def _filter_notes(index: SearchIndex, filters: dict[str, list[str]], out: TextIO) -> None:
    """`#` lines for the filter values no signature has and those read in another case."""
    for name, found in index.table.filter_report(filters).items():
        if found["unmatched"]:
            out.write(f"# filter {name}: no signature has {', '.join(found['unmatched'])}\n")
        for given, used in found["read_as"].items():
            out.write(f"# filter {name}: {given} read as {used}\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m search.engine", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    query = commands.add_parser("query", help="up/down gene-set search (the rank test or cd)")
    query.add_argument("--up", nargs="+", default=[], help="genes that go up")
    query.add_argument("--down", nargs="+", default=[], help="genes that go down")
    query.add_argument("--gmt", type=Path, help="a GMT of queries (X_up with X_down)")
    query.add_argument("--mode", choices=MODES, default="both")
    query.add_argument("--score", choices=list(SCORES), default="rank")
    query.add_argument("--limit", type=_positive, default=100, help="rows per query (default 100)")
    query.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help=f"keep signatures whose FIELD is VALUE ({', '.join(FILTER_FIELDS)}); "
        "repeat for several",
    )
    gene = commands.add_parser("gene", help="the signatures that raise or lower one gene most")
    gene.add_argument("gene", help="a symbol, alias, Entrez or Ensembl id")
    gene.add_argument("--direction", choices=["up", "down"], default="up")
    gene.add_argument("--pert-type")
    gene.add_argument("--cell-id")
    gene.add_argument("--limit", type=_positive, default=25)
    for command in (query, gene):
        command.add_argument("--index", type=Path, required=True, help="the index folder")
        command.add_argument(
            "--genes",
            type=Path,
            default=REFERENCE,
            help="gene reference tables (default: the portal's)",
        )
    return parser


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text}: give 1 or more")
    return number


def _queries(args: argparse.Namespace) -> list[tuple[str, list[str], list[str]]]:
    if args.gmt and (args.up or args.down):
        raise QueryError("give either --gmt or --up/--down")
    if not args.gmt:
        if not args.up and not args.down:
            raise QueryError("give --up genes, --down genes or both (or --gmt)")
        return [("query", list(args.up), list(args.down))]
    sets = parse_gmt(args.gmt.read_text(encoding="utf-8"), source=str(args.gmt))
    return [
        (q.name, list(q.up), list(q.down)) for q in gmt_queries((s.name, s.genes) for s in sets)
    ]


def _filters(pairs: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for pair in pairs:
        field, sep, value = pair.partition("=")
        if not sep or field not in FILTER_FIELDS:
            raise QueryError(
                f"--filter {pair!r}: give FIELD=VALUE, FIELD one of {', '.join(FILTER_FIELDS)}"
            )
        filters.setdefault(field, []).append(value)
    return filters


def _search(
    index: SearchIndex,
    resolver: GeneResolver,
    up: list[str],
    down: list[str],
    filters: dict[str, list[str]],
    args: argparse.Namespace,
    out: TextIO,
    name: str,
) -> pd.DataFrame:
    """The query as the portal runs it (signature_search): resolved, cut to the index, sized."""
    reports = resolve_query(up=up, down=down, resolver=resolver)
    keep_indexed(reports, index.has_gene)
    check_sizes(*reports)
    result = index.search(
        reports[0].matched,
        reports[1].matched,
        mode=args.mode,
        score=args.score,
        filters=filters or None,
        k=args.limit,
    )
    out.write(
        f"# {name}: {result.n_searched:,} signatures searched; {SCORES[args.score]}; "
        f"{len(reports[0].matched)} up and {len(reports[1].matched)} down genes\n"
    )
    for side, report in zip(("up", "down"), reports, strict=True):
        _left_out(out, name, side, report)
    table = result.table.copy()
    table.insert(0, "rank", range(1, len(table) + 1))
    if args.score == "rank" and len(table):
        taus = row_taus(index, table["sig_id"].tolist(), table["z_sum"].to_numpy())
        if taus is not None:
            table["tau"] = taus
    table["direction"] = ["mimic" if value >= 0 else "reverse" for value in table["score"]]
    return table


def _left_out(out: TextIO, name: str, side: str, report: SideReport) -> None:
    """The side's identifiers it could not use, named as the query gave them."""
    for kind, given in left_out_as_given([report.as_dict()]).items():
        if given:
            out.write(f"# {name} {side}: {kind}: {', '.join(given)}\n")


def _gene(index: SearchIndex, resolver: GeneResolver, args: argparse.Namespace, out: TextIO) -> int:
    resolution = resolver.resolve(args.gene)
    if resolution.status is not ResolutionStatus.RESOLVED:
        raise QueryError(f"{args.gene}: {resolution.status}")
    symbol = resolver.genes[resolution.entrez_ids[0]].symbol
    asked = {"pert_type": [args.pert_type], "cell_id": [args.cell_id]}
    index.table.refuse_unmatched({key: value for key, value in asked.items() if value[0]})
    rows = index.gene_signatures(
        symbol,
        direction=args.direction,
        pert_type=args.pert_type,
        cell_id=args.cell_id,
        limit=args.limit,
    )
    out.write(
        f"# {args.gene} ({symbol}): the signatures that "
        f"{'raise' if args.direction == 'up' else 'lower'} it most\n"
    )
    pd.DataFrame(rows).to_csv(out, sep="\t", index=False, lineterminator="\n")
    return 0
