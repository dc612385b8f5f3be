from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from search.engine.errors import IndexArtifactError, PortalError
from search.services.signature_sets import SignatureTableError, signature_set_load_from_index


class Command(BaseCommand):
    help = (
        "Load a search index's signature metadata into the database, as the signature set of its "
        "version (bulk; build_search_index does it). Pages and APIs show the metadata from there."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--index", type=Path, default=None, help="the index folder (default: SEARCH_INDEX_DIR)"
        )
        parser.add_argument("--force", action="store_true", help="reload an unchanged set")

    def handle(self, *args: Any, **options: Any) -> None:
        directory = options["index"] or Path(settings.SEARCH_INDEX_DIR)
        try:
            report = signature_set_load_from_index(directory=directory, force=options["force"])
        except (SignatureTableError, IndexArtifactError, PortalError, OSError) as error:
            raise CommandError(f"{directory}: {error}") from error
        verb = "is current" if report.skipped else "loaded"
        count = f"{report.n_signatures} signatures"
        self.stdout.write(f"signature set {report.version} {verb}: {count}")
