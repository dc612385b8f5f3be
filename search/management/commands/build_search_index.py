from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from search.engine import accuracy, reverse_tables
from search.engine.accuracy import read_accuracy
from search.engine.build import BuildSettings, build_index
from search.engine.errors import IndexArtifactError, InvalidQueryError
from search.engine.gmt_queries import gmt_queries
from search.engine.index import SearchIndex
from search.engine.shards import HEAD, write_shards
from search.engine.sources import signatures_source
from search.selectors.examples import GENESETS
from search.services.signature_sets import signature_set_load_from_index
from transform.io.gmt import parse_gmt


class Command(BaseCommand):
    help = (
        "Build the search index (docs/search.md) from a signature folder written by "
        "`python -m transform signatures`, as a new version of the index directory."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--signatures", type=Path, help="the signature pipeline's output folder"
        )
        parser.add_argument(
            "--out",
            type=Path,
            default=settings.SEARCH_INDEX_DIR,
            help="the index directory (default: SEARCH_INDEX_DIR, %(default)s)",
        )
        defaults = BuildSettings()
        parser.add_argument("--top-genes", type=int, default=defaults.top_genes)
        parser.add_argument("--embedding-dim", type=int, default=defaults.embedding_dim)
        parser.add_argument(
            "--no-values",
            action="store_true",
            help="leave out values.npy (no 'cd' score; gene views show ranks)",
        )
        parser.add_argument(
            "--flat-max-gib",
            type=float,
            default=defaults.flat_max_bytes / 2**30,
            help="store the flat vectors up to this size (GiB)",
        )
        parser.add_argument("--seed", type=int, default=defaults.seed)
        parser.add_argument(
            "--gene-accuracy",
            type=Path,
            help="the model's per-gene accuracy (per_gene.tsv of python -m transform evaluate): "
            "the gene pages and query reports show it; without it, genes are 'not evaluated'",
        )
        parser.add_argument(
            "--reference-queries",
            type=int,
            default=defaults.reference_queries,
            help="queries of the specificity compendium (tau); 0 builds none",
        )
        parser.add_argument(
            "--shards",
            type=int,
            metavar="K",
            help="then write the index as K shards by signature range into --shards-out, one for "
            "each shard worker (docs/operations.md, 'Shards'); without --signatures, split the "
            "index already in --out",
        )
        parser.add_argument(
            "--shards-out",
            type=Path,
            default=settings.DATA_DIR / "shards",
            help="where the shards go, shard-0 ... shard-K-1 (default: %(default)s)",
        )
        parser.add_argument(
            "--verify", action="store_true", help="check the index's full checksums, build nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        out: Path = options["out"]
        if options["verify"]:
            return self._verify(out)
        if options["shards"] is not None and options["shards"] < 1:
            raise CommandError(f"--shards {options['shards']}: give 1 or more")
        if options["signatures"] is None:
            if options["shards"] is None:
                raise CommandError("--signatures is required to build (or --shards K to split)")
            return self._split(out, options["shards"], options["shards_out"])
        self._build(options)
        if options["shards"] is not None:
            self._split(out, options["shards"], options["shards_out"])

    def _build(self, options: dict[str, Any]) -> None:
        require_database_tables()  # the build ends by loading the metadata into the database
        out: Path = options["out"]
        build = replace(
            BuildSettings(),
            top_genes=options["top_genes"],
            embedding_dim=options["embedding_dim"],
            store_values=not options["no_values"],
            seed=options["seed"],
            reference_queries=options["reference_queries"],
            flat_max_bytes=int(options["flat_max_gib"] * 2**30),
        )
        if options["gene_accuracy"]:
            try:
                read_accuracy(options["gene_accuracy"])  # refused before any work, not in a page
            except (OSError, ValueError) as error:
                raise CommandError(f"--gene-accuracy: {error}") from error
        try:
            source, provenance = signatures_source(options["signatures"])
        except (FileNotFoundError, ValueError) as error:
            raise CommandError(str(error)) from error
        reverse = options["signatures"] / reverse_tables.FILE_NAME
        companions = {reverse_tables.FILE_NAME: reverse} if reverse.is_file() else {}
        if options["gene_accuracy"]:
            companions[accuracy.FILE_NAME] = options["gene_accuracy"]
        with source:
            try:
                manifest = build_index(
                    source,
                    out,
                    build,
                    provenance=provenance,
                    companions=companions,
                    reference_gene_sets=shipped_gene_sets(),
                    progress=self.stdout.write,
                )
            except ValueError as error:
                raise CommandError(str(error)) from error
        loaded = signature_set_load_from_index(directory=out)
        self.stdout.write(f"signature metadata {loaded.version}: {loaded.n_signatures:,} rows")
        fast = manifest["fast"]
        self.stdout.write(
            self.style.SUCCESS(
                f"search index {manifest['version']} in {out}: "
                f"{manifest['n_signatures']:,} signatures x "
                f"{manifest['gene_space']['n_genes']:,} genes; fast mode recall@100 "
                f"{fast['recall_at_100']} ({fast['candidates']} candidates)"
            )
        )

    def _split(self, out: Path, k: int, shards_out: Path) -> None:
        try:
            index = SearchIndex.open(out)
            directories = write_shards(index, shards_out, k, progress=self.stdout.write)
        except (IndexArtifactError, InvalidQueryError, ValueError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"{k} shards of search index {index.version} in {shards_out}; serve shard n with "
                f"SEARCH_SHARD_DIR={directories[0].parent}/shard-n celery -A portal worker "
                f"-Q shard-n --pool=solo, and the web process with SEARCH_SHARDS={k} and "
                f"SEARCH_INDEX_DIR={out} (the whole index) or {shards_out / HEAD} (the head: "
                "no matrices, which it reads from the shards) (docs/operations.md)"
            )
        )

    def _verify(self, out: Path) -> None:
        try:
            SearchIndex.open(out, verify=True)
        except IndexArtifactError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(self.style.SUCCESS(f"search index in {out}: every checksum matches"))


def require_database_tables() -> None:
    """Refuse, before any work, a database that lacks the search app's tables (never migrated):
    the build would otherwise run to its end and fail there with "no such table"."""
    present = set(connection.introspection.table_names())
    wanted = [model._meta.db_table for model in apps.get_app_config("search").get_models()]
    missing = [table for table in wanted if table not in present]
    if missing:
        raise CommandError(
            f"the database {connection.settings_dict['NAME']} lacks the portal's tables "
            f"({', '.join(missing)}): run `python manage.py migrate` (make setup-db) first"
        )


def shipped_gene_sets() -> list[tuple[str, list[str], list[str]]]:
    """The up/down pairs of the gene sets the portal ships (search/reference/genesets), for the
    specificity compendium: X_up with X_down in one file, or set X of a file *_up.gmt with set X
    of its *_down.gmt; a set without a partner side is left out of it."""
    sets = []
    for path in sorted(GENESETS.glob("*.gmt")):
        suffix = next((s for s in ("_up", "_down") if path.stem.endswith(s)), "")
        text = path.read_text(encoding="utf-8")
        sets += [(f"{s.name}{suffix}", s.genes) for s in parse_gmt(text, source=str(path))]
    return [(q.name, list(q.up), list(q.down)) for q in gmt_queries(sets) if q.up and q.down]
