"""What the API answers, declared for its OpenAPI schema: each operation's body and its errors.

The serializers here are never used to build an answer (the services return plain data); they
describe it, so that /api/schema states every field a client reads and every status it can get.
tests/portal/test_fuzz.py checks the answers against this schema (bodies, statuses, content
types) and that each operation declares its body and the errors it gives.

A signature row carries the signature's metadata from the Signature table (the one source:
search/selectors/signatures.py). The bodies of the gene APIs are in gene_schemas.py.
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
    503: "the search index, a shard of it or the database is unavailable: `detail` says which",
}


@extend_schema_field({"oneOf": [{"type": "number"}, {"type": "string"}], "nullable": True})
class NumberOrTextField(serializers.Field):
    """A metadata value that is a number in one index and text in another (a dose, a time)."""


def text_field() -> serializers.CharField:
    return serializers.CharField(required=False, allow_null=True)


def number_field() -> serializers.FloatField:
    return serializers.FloatField(allow_null=True)


def texts_field() -> serializers.ListField:
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
    pert_type = text_field()
    pert_id = text_field()
    pert_iname = text_field()
    cell_id = text_field()
    pert_dose = NumberOrTextField(required=False)
    pert_dose_unit = text_field()
    pert_time = NumberOrTextField(required=False)
    pert_time_unit = text_field()
    batch = text_field()
    n_cases = serializers.IntegerField(required=False, help_text="treated profiles")
    n_controls = serializers.IntegerField(required=False, help_text="control profiles")


class SearchRowSerializer(SignatureMetadataSerializer):
    rank = serializers.IntegerField(min_value=1)
    score = number_field()
    direction = serializers.ChoiceField(choices=["mimic", "reverse"])
    z_up = number_field()
    z_down = number_field()
    z_sum = number_field()
    p_up = serializers.FloatField(allow_null=True, help_text="two-sided p of z_up")
    p_down = serializers.FloatField(allow_null=True, help_text="two-sided p of z_down")
    p = serializers.FloatField(allow_null=True, help_text="two-sided p of z_sum / its null sd")
    fdr_up = serializers.FloatField(
        allow_null=True, required=False, help_text="Benjamini-Hochberg over the signatures searched"
    )
    fdr_down = serializers.FloatField(allow_null=True, required=False)
    fdr = number_field()
    tau = serializers.FloatField(
        allow_null=True,
        required=False,
        help_text="specificity, -100..100: how this signature's score ranks among its scores for "
        "the reference queries (null for the cd score or an index without a compendium)",
    )
    cd_up = serializers.FloatField(allow_null=True, required=False, help_text="score cd only")
    cd_down = serializers.FloatField(allow_null=True, required=False, help_text="score cd only")


class AmbiguousSerializer(serializers.Serializer):
    query = serializers.CharField()
    candidates = texts_field()


class ResolvedSerializer(serializers.Serializer):
    query = serializers.CharField()
    symbol = serializers.CharField()
    by = serializers.CharField(help_text="how: entrez_id, ensembl_id, alias, previous symbol...")


class HubFractionsSerializer(serializers.Serializer):
    fraction_up = serializers.FloatField(help_text="signatures with it among their top raised")
    fraction_down = serializers.FloatField(help_text="signatures with it among their top lowered")
    expected = serializers.FloatField(help_text="the fraction chance gives: T / G")
    times_expected = serializers.FloatField()


class HubGeneSerializer(HubFractionsSerializer):
    gene = serializers.CharField()


class PoorGeneSerializer(serializers.Serializer):
    gene = serializers.CharField()
    pcc_model = serializers.FloatField(help_text="r of the model's prediction, paired samples")
    pcc_ridge = serializers.FloatField(help_text="r of the ridge baseline's")


WITHOUT_LACKS = (
    "filters of the search the form cannot hold (several values, or a range): set them again"
)


class AccuracySummarySerializer(serializers.Serializer):
    available = serializers.BooleanField(help_text="False for an index without an evaluation")
    threshold = serializers.FloatField(required=False)
    n = serializers.IntegerField(required=False)
    without = serializers.CharField(
        allow_null=True, required=False, help_text="the search form without them"
    )
    without_lacks = serializers.ListField(
        child=serializers.CharField(), required=False, help_text=WITHOUT_LACKS
    )


class HubSummarySerializer(serializers.Serializer):
    available = serializers.BooleanField(help_text="False for an index without hub fractions")
    factor = serializers.FloatField(required=False, help_text="times chance that makes a hub")
    expected = serializers.FloatField(required=False)
    n = serializers.IntegerField(required=False, help_text="hub genes in the query")
    share = serializers.FloatField(required=False, help_text="their share of the query's genes")
    without = serializers.CharField(
        allow_null=True, required=False, help_text="the search form without them"
    )
    without_lacks = serializers.ListField(
        child=serializers.CharField(), required=False, help_text=WITHOUT_LACKS
    )


class SideReportSerializer(serializers.Serializer):
    submitted = serializers.IntegerField()
    matched = texts_field()
    resolved = ResolvedSerializer(many=True, required=False)
    unknown = texts_field()
    ambiguous = AmbiguousSerializer(many=True)
    repeated = texts_field()
    in_both = texts_field()
    not_in_index = texts_field()
    hubs = HubGeneSerializer(many=True, required=False, help_text="hub genes among the matched")
    poorly_predicted = PoorGeneSerializer(
        many=True, required=False, help_text="matched genes the model predicts with r below 0.3"
    )


class FilterReportSerializer(serializers.Serializer):
    read_as = serializers.DictField(
        child=serializers.CharField(), help_text="values read as a category of another case"
    )
    unmatched = texts_field()


class QueryReportSerializer(serializers.Serializer):
    up = SideReportSerializer()
    down = SideReportSerializer()
    filters = serializers.DictField(child=FilterReportSerializer())
    hubs = HubSummarySerializer(required=False)
    accuracy = AccuracySummarySerializer(required=False)


class IndexSerializer(serializers.Serializer):
    version = serializers.CharField()
    recall_at_100 = serializers.FloatField(allow_null=True)


class StoredQuerySerializer(serializers.Serializer):
    up = texts_field()
    down = texts_field()
    mode = serializers.CharField()
    score = serializers.CharField()
    limit = serializers.IntegerField()
    filters = serializers.DictField()
    choices = serializers.DictField(child=serializers.CharField(), required=False)
    order = serializers.ChoiceField(choices=["z", "tau"], required=False)


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
    unknown = texts_field()
    ambiguous = serializers.ListField()
    repeated = texts_field()
    in_both = texts_field()
    not_in_index = texts_field()


class BatchFilterSerializer(serializers.Serializer):
    filter = serializers.CharField(help_text="the filter as given: cell_id = A375 or HELA")
    read_as = serializers.DictField(
        child=serializers.CharField(), help_text="values read in another case"
    )
    unmatched = serializers.ListField(
        child=serializers.CharField(), help_text="values no signature of the index has"
    )


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
    filters = BatchFilterSerializer(many=True)
    queries = BatchQuerySerializer(many=True)


class GeneValueSerializer(serializers.Serializer):
    gene = serializers.CharField()
    value = number_field()
    url = serializers.CharField()


class SignatureLinksSerializer(serializers.Serializer):
    genes = serializers.CharField()
    similar = serializers.CharField()
    perturbagen = serializers.CharField(
        allow_null=True, help_text="the page of the signature's perturbagen (null without an id)"
    )
    search = serializers.CharField(help_text="the search form filled with its top 50 genes a side")


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
    cache = HealthPartSerializer(help_text="where the rate limits count (shared: CACHE_URL)")
    search_index = HealthPartSerializer()


class ConsensusGeneSerializer(serializers.Serializer):
    gene = serializers.CharField()
    score = serializers.FloatField(help_text="share raising it minus share lowering it, -1..1")
    url = serializers.CharField()


class ConsensusSerializer(serializers.Serializer):
    method = serializers.CharField()
    n_signatures = serializers.IntegerField()
    top_up = ConsensusGeneSerializer(many=True)
    top_down = ConsensusGeneSerializer(many=True)


class SimilarPerturbagenSerializer(serializers.Serializer):
    pert_id = serializers.CharField()
    pert_iname = text_field()
    pert_type = text_field()
    url = serializers.CharField()
    best_sig_id = serializers.CharField()
    best_rank = serializers.IntegerField(min_value=1)
    cell_id = text_field()
    z_sum = serializers.FloatField(allow_null=True)
    n_signatures = serializers.IntegerField(help_text="its signatures among those looked at")


class SimilarSerializer(serializers.Serializer):
    query = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    method = serializers.CharField()
    results = SimilarPerturbagenSerializer(many=True)
    note = serializers.CharField(required=False)


class PerturbagenSerializer(serializers.Serializer):
    pert_id = serializers.CharField()
    pert_iname = text_field()
    pert_type = text_field()
    index_version = serializers.CharField()
    n_signatures = serializers.IntegerField()
    cell_lines = serializers.ListField(child=serializers.CharField())
    signatures = SignatureMetadataSerializer(many=True)
    consensus = ConsensusSerializer()
    similar = SimilarSerializer()
    search_url = serializers.CharField(help_text="the search form filled with the consensus genes")
    search_genes = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="how many consensus genes a side the search form is filled with (the first of "
        "top_up and top_down, and beyond them)",
    )
