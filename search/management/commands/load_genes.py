from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from search.engine.gene_reference import GeneReferenceError
from search.services.genes import gene_registry_load


class Command(BaseCommand):
    help = "Load the gene registry from the committed reference tables (idempotent, bulk)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--source",
            type=Path,
            default=settings.GENE_REFERENCE_DIR,
            help="folder of the reference tables (default: %(default)s)",
        )
        parser.add_argument(
            "--force", action="store_true", help="reload even if the sources are unchanged"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = gene_registry_load(source_dir=options["source"], force=options["force"])
        except GeneReferenceError as error:
            raise CommandError(str(error)) from error
        if report.skipped:
            self.stdout.write(
                f"gene registry release {report.release_id} is current "
                f"({report.n_genes} genes); nothing to do (--force reloads)"
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"gene registry release {report.release_id}: {report.n_genes} genes "
                f"({report.n_created} created, {report.n_updated} updated, "
                f"{report.n_deleted} deleted)"
            )
        )
