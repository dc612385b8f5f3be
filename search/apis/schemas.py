"""What the API answers, declared for its OpenAPI schema: each operation's body and its errors.

The serializers here are never used to build an answer (the services return plain data); they
describe it, so that /api/schema states every field a client reads and every status it can get.
tests/portal/test_fuzz.py checks the answers against this schema (bodies, statuses, content
types), and tests/portal/test_api_schema.py that each operation declares the errors it gives.

A signature row carries the index's metadata as well: the usual LINCS columns are declared (each
may be missing from an index that lacks it); any other column the index holds comes as an
additional property.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers

ERROR_TEXT = {
    300: "the identifier is an alias of several genes: `candidates` lists them",
    400: "the request cannot be answered as given: `detail` says why, or one entry per field "
    "with its messages",
    404: "no such gene, signature, search or batch",
    409: "the batch has not finished: `detail` gives its state",
    413: "the request body is larger than the portal accepts: `detail` gives both sizes",
    415: "the body is not JSON (or form data)",
    429: "rate limit reached: `detail` says when to try again (and the Retry-After header)",
    503: "the search index or the database is unavailable: `detail` says which",
}


@extend_schema_field({"oneOf": [{"type": "number"}, {"type": "string"}], "nullable": True})
class NumberOrTextField(serializers.Field):
    """A metadata value that is a number in one index and text in another (a dose, a time)."""


def _text() -> serializers.CharField:
    return serializers.CharField(required=False, allow_null=True)


def _number() -> serializers.FloatField:
    return serializers.FloatField(allow_null=True)


def _texts() -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField())


class ErrorSerializer(serializers.Serializer):
    """An error: `detail`, and for some errors more fields naming what was wrong."""

    detail = serializers.CharField()


class ValidationErrorSerializer(serializers.Serializer):
    """A refused request: `detail` (and fields naming what was wrong), or, for a body that does
    not validate, one entry per field with its messages."""

    detail = serializers.CharField(required=False)


def answers(ok: dict[object, object], *codes: int) -> dict[object, object]:
    """An operation's answers: its success (`ok`) and the errors it gives, each with its body and
    what it means; 503 (the database or the index away) for every operation."""
    declared = dict(ok)
    for code in (*codes, 503):
        body = ValidationErrorSerializer if code == 400 else ErrorSerializer
        declared[code] = OpenApiResponse(body, description=ERROR_TEXT[code])
    return declared


WRITE_ERRORS = (400, 413, 415, 429)  # a POST: refused, too large, not JSON, rate-limited


class SignatureMetadataSerializer(serializers.Serializer):
    sig_id = serializers.CharField()
    url = serializers.CharField(help_text="the signature's page")
    pert_type = _text()
    pert_id = _text()
    pert_iname = _text()
    cell_id = _text()
    pert_dose = NumberOrTextField(required=False)
    pert_dose_unit = _text()
    pert_time = NumberOrTextField(required=False)
    pert_time_unit = _text()


class SearchRowSerializer(SignatureMetadataSerializer):
    rank = serializers.IntegerField(min_value=1)
    score = _number()
    direction = serializers.ChoiceField(choices=["mimic", "reverse"])
    z_up = _number()
    z_down = _number()
    z_sum = _number()
    p_up = serializers.FloatField(allow_null=True, help_text="two-sided p of z_up")
    p_down = serializers.FloatField(allow_null=True, help_text="two-sided p of z_down")
    p = serializers.FloatField(allow_null=True, help_text="two-sided p of z_sum / its null sd")
    fdr_up = serializers.FloatField(
        allow_null=True, required=False, help_text="Benjamini-Hochberg over the signatures searched"
    )
    fdr_down = serializers.FloatField(allow_null=True, required=False)
    fdr = _number()
    cd_up = serializers.FloatField(allow_null=True, required=False, help_text="score cd only")
    cd_down = serializers.FloatField(allow_null=True, required=False, help_text="score cd only")


class AmbiguousSerializer(serializers.Serializer):
    query = serializers.CharField()
    candidates = _texts()


class ResolvedSerializer(serializers.Serializer):
    query = serializers.CharField()
    symbol = serializers.CharField()
    by = serializers.CharField(help_text="how: entrez_id, ensembl_id, alias, previous symbol...")


class SideReportSerializer(serializers.Serializer):
    submitted = serializers.IntegerField()
    matched = _texts()
    resolved = ResolvedSerializer(many=True, required=False)
    unknown = _texts()
    ambiguous = AmbiguousSerializer(many=True)
    repeated = _texts()
    in_both = _texts()
    not_in_index = _texts()


class FilterReportSerializer(serializers.Serializer):
    read_as = serializers.DictField(
        child=serializers.CharField(), help_text="values read as a category of another case"
    )
    unmatched = _texts()


class QueryReportSerializer(serializers.Serializer):
    up = SideReportSerializer()
    down = SideReportSerializer()
    filters = serializers.DictField(child=FilterReportSerializer())


class IndexSerializer(serializers.Serializer):
    version = serializers.CharField()
    recall_at_100 = serializers.FloatField(allow_null=True)


class StoredQuerySerializer(serializers.Serializer):
    up = _texts()
    down = _texts()
    mode = serializers.CharField()
    score = serializers.CharField()
    limit = serializers.IntegerField()
    filters = serializers.DictField()
    choices = serializers.DictField(child=serializers.CharField(), required=False)


class SearchSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    permalink = serializers.CharField()
    created_at = serializers.DateTimeField()
    index = IndexSerializer()
    query = StoredQuerySerializer()
    report = QueryReportSerializer()
    n_searched = serializers.IntegerField(help_text="signatures scored; the FDR is over these")
    results = SearchRowSerializer(many=True)


class BatchQuerySerializer(serializers.Serializer):
    name = serializers.CharField()
    n_up = serializers.IntegerField()
    n_down = serializers.IntegerField()
    done = serializers.BooleanField()
    n_results = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    unknown = _texts()
    ambiguous = serializers.ListField()
    not_in_index = _texts()


class BatchSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["queued", "running", "done", "failed"])
    n_queries = serializers.IntegerField()
    n_done = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    status_url = serializers.CharField()
    results_url = serializers.CharField(allow_null=True, help_text="once the batch is done")
    page = serializers.CharField()
    queries = BatchQuerySerializer(many=True)


class GeneSerializer(serializers.Serializer):
    entrez_id = serializers.IntegerField()
    symbol = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    gene_type = serializers.CharField(allow_blank=True)
    chromosome = serializers.CharField(allow_blank=True)
    ensembl_ids = _texts()
    aliases = _texts()
    l1000_type = serializers.CharField(allow_blank=True, allow_null=True)
    is_landmark = serializers.BooleanField()
    l1000_symbols = _texts()


class GeneDetailSerializer(GeneSerializer):
    matched_by = serializers.CharField()


class GeneListSerializer(serializers.Serializer):
    query = serializers.CharField()
    results = GeneSerializer(many=True)


class ResolutionSerializer(serializers.Serializer):
    query = serializers.CharField()
    status = serializers.ChoiceField(choices=["resolved", "ambiguous", "unknown"])
    matched_by = serializers.CharField(allow_null=True)
    gene = GeneSerializer(allow_null=True)
    candidates = GeneSerializer(many=True)


class ResolveSerializer(serializers.Serializer):
    registry_release = serializers.IntegerField(allow_null=True)
    summary = serializers.DictField(child=serializers.IntegerField())
    results = ResolutionSerializer(many=True)


class GeneValueSerializer(serializers.Serializer):
    gene = serializers.CharField()
    value = _number()
    url = serializers.CharField()


class SignatureLinksSerializer(serializers.Serializer):
    genes = serializers.CharField()
    similar = serializers.CharField()


class SignatureDetailSerializer(SignatureMetadataSerializer):
    url = None  # type: ignore[assignment]  # DRF's way to drop an inherited field
    index_version = serializers.CharField()
    top_up = GeneValueSerializer(many=True)
    top_down = GeneValueSerializer(many=True)
    links = SignatureLinksSerializer()


class SignatureGenesSerializer(serializers.Serializer):
    sig_id = serializers.CharField()
    up = GeneValueSerializer(many=True)
    down = GeneValueSerializer(many=True)


class NeighbourSerializer(SignatureMetadataSerializer):
    rho = serializers.FloatField(help_text="Spearman's rho over the whole gene space")


class NeighboursSerializer(serializers.Serializer):
    sig_id = serializers.CharField()
    results = NeighbourSerializer(many=True)


class GeneSignatureRowSerializer(SignatureMetadataSerializer):
    value = _number()
    rank = serializers.IntegerField(required=False)
    cd = serializers.FloatField(allow_null=True)
    log2_fold_change = serializers.FloatField(allow_null=True)


class GeneCountsSerializer(serializers.Serializer):
    up = serializers.IntegerField(help_text="signatures that raise the gene")
    down = serializers.IntegerField(help_text="signatures that lower it")
    searched = serializers.IntegerField(help_text="signatures looked at")


class BoxSerializer(serializers.Serializer):
    cell_id = serializers.CharField()
    n = serializers.IntegerField()
    q1 = serializers.FloatField()
    median = serializers.FloatField()
    q3 = serializers.FloatField()
    lowerfence = serializers.FloatField()
    upperfence = serializers.FloatField()
    mean = serializers.FloatField()


class VolcanoPointSerializer(serializers.Serializer):
    sig_id = serializers.CharField()
    pert_type = serializers.CharField()
    direction = serializers.ChoiceField(choices=["up", "down"])
    cd = serializers.FloatField()
    log2_fold_change = serializers.FloatField(allow_null=True)
    rank = serializers.IntegerField()


class GeneFiltersSerializer(serializers.Serializer):
    direction = serializers.ChoiceField(choices=["up", "down", "both"])
    pert_type = serializers.CharField(allow_null=True)
    cell_id = serializers.CharField(allow_null=True)


class GeneSignaturesSerializer(serializers.Serializer):
    gene = GeneSerializer()
    matched_by = serializers.CharField()
    in_output_space = serializers.BooleanField()
    index_version = serializers.CharField()
    filters = GeneFiltersSerializer()
    filter_report = serializers.DictField(child=FilterReportSerializer())
    tables = serializers.DictField(
        child=serializers.DictField(child=GeneSignatureRowSerializer(many=True)),
        help_text="per perturbation type, per direction asked for (up, down): the rows",
    )
    counts = serializers.DictField(child=GeneCountsSerializer(), help_text="per type")
    by_cell_line = BoxSerializer(many=True)
    volcano = VolcanoPointSerializer(many=True)


class DownloadSerializer(serializers.Serializer):
    name = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    kind = serializers.CharField()
    description = serializers.CharField()
    url = serializers.CharField()


class DownloadListSerializer(serializers.Serializer):
    files = DownloadSerializer(many=True)


class HealthPartSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    error = serializers.CharField(required=False)


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded"])
    database = HealthPartSerializer()
    broker = HealthPartSerializer()
    search_index = HealthPartSerializer()
