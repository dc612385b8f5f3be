from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from search.services.signature_sets import SignatureTableError, signature_set_load


class Command(BaseCommand):
    help = "Load signature metadata (a sig_info table) into the database as one version (bulk)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sig-info", type=Path, required=True, help="sig_info table (TSV)")
        parser.add_argument("--set-version", dest="set_version", required=True,
                            help="the search index version these signatures belong to")  # fmt: skip
        parser.add_argument("--force", action="store_true", help="reload an unchanged table")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = signature_set_load(
                sig_info=options["sig_info"], version=options["set_version"], force=options["force"]
            )
        except (SignatureTableError, FileNotFoundError) as error:
            raise CommandError(str(error)) from error
        verb = "is current" if report.skipped else "loaded"
        count = f"{report.n_signatures} signatures"
        self.stdout.write(f"signature set {report.version} {verb}: {count}")
