"""Database models of the portal."""

from __future__ import annotations

from django.db import models


class L1000Type(models.TextChoices):
    LANDMARK = "landmark", "landmark"
    BEST_INFERRED = "best inferred", "best inferred"
    INFERRED = "inferred", "inferred"
    NOT_INFERRED = "not inferred", "not inferred"
    OUTSIDE = "", "outside the L1000 gene space"


class Gene(models.Model):
    """One human gene of the registry, keyed by its NCBI Entrez ID."""

    entrez_id = models.PositiveIntegerField(primary_key=True)
    symbol = models.CharField(max_length=64)
    symbol_key = models.CharField(max_length=64, help_text="upper-case symbol, for prefix search")
    name = models.CharField(max_length=255, blank=True)
    gene_type = models.CharField(max_length=32, blank=True)
    chromosome = models.CharField(max_length=32, blank=True)
    ensembl_ids = models.TextField(blank=True, help_text="|-separated Ensembl gene IDs")
    aliases = models.TextField(blank=True, help_text="|-separated NCBI synonyms")
    l1000_type = models.CharField(max_length=16, choices=L1000Type.choices, blank=True)
    l1000_symbols = models.CharField(
        max_length=255, blank=True, help_text="|-separated symbols the L1000 platform used"
    )
    probe_ids = models.TextField(
        blank=True, help_text="|-separated Affymetrix HG-U133A probe sets (CMap's chip file)"
    )

    class Meta:
        ordering = ["symbol"]
        indexes = [
            models.Index(
                fields=["symbol_key"],
                name="gene_symbol_prefix_idx",
                opclasses=["varchar_pattern_ops"],
            ),
            models.Index(fields=["l1000_type"], name="gene_l1000_type_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} ({self.entrez_id})"

    @property
    def is_landmark(self) -> bool:
        return self.l1000_type == L1000Type.LANDMARK


class GeneRegistryRelease(models.Model):
    """One load of the gene registry: what it was loaded from and what changed."""

    loaded_at = models.DateTimeField(auto_now_add=True)
    source_checksum = models.CharField(max_length=64)
    n_genes = models.PositiveIntegerField()
    n_created = models.PositiveIntegerField()
    n_updated = models.PositiveIntegerField()
    n_deleted = models.PositiveIntegerField()

    class Meta:
        ordering = ["-id"]
        get_latest_by = "id"

    def __str__(self) -> str:
        return (
            f"gene registry release {self.pk} ({self.n_genes} genes, {self.source_checksum[:12]})"
        )


class SignatureSet(models.Model):
    """One loaded set of signatures (the metadata of one search index version)."""

    version = models.CharField(max_length=64, unique=True)
    source = models.CharField(max_length=1024, help_text="the sig_info table it was loaded from")
    source_checksum = models.CharField(max_length=64)
    n_signatures = models.PositiveIntegerField()
    loaded_at = models.DateTimeField(auto_now_add=True)
    facets = models.JSONField(default=dict, help_text="distinct values of each filterable field")

    class Meta:
        ordering = ["-id"]
        get_latest_by = "id"

    def __str__(self) -> str:
        return f"signature set {self.version} ({self.n_signatures} signatures)"


class Signature(models.Model):
    """One perturbation signature's metadata; its values live in the search index."""

    signature_set = models.ForeignKey(SignatureSet, on_delete=models.CASCADE)
    sig_id = models.CharField(max_length=255)
    position = models.PositiveIntegerField(help_text="column of the signature in the index")
    pert_type = models.CharField(max_length=32)
    pert_id = models.CharField(max_length=64)
    pert_iname = models.CharField(max_length=255)
    cell_id = models.CharField(max_length=64)
    pert_dose = models.FloatField(null=True)
    pert_dose_unit = models.CharField(max_length=16, blank=True)
    pert_time = models.FloatField(null=True)
    pert_time_unit = models.CharField(max_length=16, blank=True)
    batch = models.CharField(max_length=128, blank=True)
    n_cases = models.PositiveIntegerField(default=0)
    n_controls = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["signature_set", "sig_id"], name="signature_unique_id"),
        ]
        indexes = [
            models.Index(fields=["signature_set", "pert_iname"], name="signature_pert_idx"),
            models.Index(fields=["signature_set", "pert_id"], name="signature_pert_id_idx"),
            models.Index(fields=["signature_set", "cell_id"], name="signature_cell_idx"),
            models.Index(fields=["signature_set", "pert_type"], name="signature_type_idx"),
            models.Index(fields=["signature_set", "position"], name="signature_position_idx"),
        ]

    def __str__(self) -> str:
        return self.sig_id


class StoredSearch(models.Model):
    """A search as it was asked and answered, kept for its permalink and export."""

    id = models.UUIDField(primary_key=True)
    created_at = models.DateTimeField(auto_now_add=True)
    index_version = models.CharField(max_length=64)
    query = models.JSONField(help_text="the request as validated")
    report = models.JSONField(help_text="resolved, unknown and ambiguous genes")
    results = models.JSONField(help_text="the ranked signatures returned")
    n_searched = models.PositiveIntegerField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"search {self.id}"


class BatchStatus(models.TextChoices):
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    DONE = "done", "done"
    FAILED = "failed", "failed"


class BatchSearch(models.Model):
    """Many up/down queries (a GMT) run as one Celery task; results are a TSV file."""

    id = models.UUIDField(primary_key=True)
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=BatchStatus.choices, default="queued")
    options = models.JSONField(help_text="mode, limit, score and filters of every query")
    queries = models.JSONField(help_text="the parsed queries: name, up, down")
    n_queries = models.PositiveIntegerField()
    n_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    result_file = models.CharField(max_length=1024, blank=True)
    finished_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"batch search {self.id} ({self.status})"
