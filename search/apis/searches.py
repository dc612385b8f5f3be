"""The search APIs: run a search, fetch a stored one, export it; batches of searches from a GMT."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import FileResponse, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.throttling import ScopedRateThrottle
from search.apis.bodies import StrictSerializer, filters_field
from search.apis.schemas import WRITE_ERRORS, BatchSerializer, SearchSerializer, answers
from search.engine.gmt_queries import GmtPairingError, one_gmt_query
from search.engine.query import FILTER_FIELDS, MAX_GENES, MIN_GENES, MODES, SCORES
from search.engine.query_resolution import split_identifiers
from search.models import BatchSearch, BatchStatus, StoredSearch
from search.selectors.batches import batch_filters, batch_outcomes
from search.selectors.searches import search_payload, search_table
from search.services.batches import batch_search_create, batch_search_fail
from search.services.searches import SearchOptions, signature_search
from search.tasks import batch_search_run_task
from transform.io.gmt import GmtFormatError, parse_gmt

MAX_LIMIT = 1000
GMT_HELP = (
    "GMT text of one query: sets named X_up and X_down (or X_dn), in any order; a set without "
    "such a suffix is an up-only query"
)


class GeneListField(serializers.ListField):
    """A list of identifiers, or one text of identifiers separated by spaces, commas or lines."""

    def to_internal_value(self, data: Any) -> list[str]:
        if isinstance(data, str):
            data = split_identifiers(data)
        return super().to_internal_value(data)


def gene_list() -> GeneListField:
    child = serializers.CharField(max_length=100)
    return GeneListField(
        child=child,
        required=False,
        default=list,
        max_length=MAX_GENES,
        help_text=f"gene symbols or ids; a side given needs at least {MIN_GENES} genes the index "
        "knows (the rank test's normal approximation), else 400 naming the count",
    )


class SearchInput(StrictSerializer):
    up = gene_list()
    down = gene_list()
    gmt = serializers.CharField(required=False, max_length=500_000, help_text=GMT_HELP)
    mode = serializers.ChoiceField(choices=MODES, default="both")
    score = serializers.ChoiceField(choices=list(SCORES), default="rank")
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=100)
    order = serializers.ChoiceField(
        choices=["z", "tau"],
        default="z",
        help_text="rank by z (default) or by specificity, tau (the rank score only)",
    )
    filters = filters_field()
    choices = serializers.DictField(
        child=serializers.CharField(max_length=100),
        required=False,
        default=dict,
        help_text="for an ambiguous identifier (an alias of several genes, e.g. MDR1), the "
        'candidate to use: {"MDR1": "ABCB1"}; the report lists every identifier\'s candidates',
    )

    def validate_filters(self, filters: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(filters) - set(FILTER_FIELDS))
        if unknown:
            raise serializers.ValidationError(
                f"unknown filter field(s) {', '.join(unknown)}; use {', '.join(FILTER_FIELDS)}"
            )
        return {key: values for key, values in filters.items() if values}

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("gmt"):
            if data["up"] or data["down"]:
                raise serializers.ValidationError({"gmt": "give either gmt or up/down lists"})
            data["up"], data["down"] = _gmt_sides(data.pop("gmt"))
        if not data["up"] and not data["down"]:
            raise serializers.ValidationError({"up": "give up genes, down genes or both"})
        return data


def _gmt_sides(text: str) -> tuple[list[str], list[str]]:
    """The up and down genes of a search's GMT (`search.engine.gmt_queries`: one rule with the
    batch search's)."""
    try:
        sets = parse_gmt(text, source="gmt")
        query = one_gmt_query((gene_set.name, gene_set.genes) for gene_set in sets)
    except (GmtFormatError, GmtPairingError) as error:
        raise serializers.ValidationError({"gmt": str(error)}) from error
    return query.up, query.down


class SearchApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "search"

    @extend_schema(
        operation_id="search",
        request=SearchInput,
        responses=answers({201: SearchSerializer}, *WRITE_ERRORS),
    )
    def post(self, request: Request) -> Response:
        body = SearchInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        options = SearchOptions(
            mode=data["mode"],
            score=data["score"],
            limit=data["limit"],
            filters=data["filters"],
            choices=data["choices"],
            order=data["order"],
        )
        search = signature_search(up=data["up"], down=data["down"], options=options)
        return Response(search_payload(search), status=status.HTTP_201_CREATED)


class SearchDetailApi(APIView):
    @extend_schema(operation_id="search_detail", responses=answers({200: SearchSerializer}, 404))
    def get(self, request: Request, search_id: str) -> Response:
        return Response(search_payload(get_object_or_404(StoredSearch, id=search_id)))


class SearchExportApi(APIView):
    @extend_schema(
        operation_id="search_export",
        parameters=[OpenApiParameter("format", str, enum=["tsv", "csv"], default="tsv")],
        responses=answers(
            {
                (200, "text/tab-separated-values"): OpenApiTypes.STR,
                (200, "text/csv"): OpenApiTypes.STR,
            },
            400,
            404,
        ),
    )
    def get(self, request: Request, search_id: str) -> HttpResponse:
        search = get_object_or_404(StoredSearch, id=search_id)
        kind = request.query_params.get("format", "tsv")
        if kind not in ("tsv", "csv"):
            return Response({"format": ["tsv or csv"]}, status=status.HTTP_400_BAD_REQUEST)
        text = search_table(search, delimiter="\t" if kind == "tsv" else ",")
        content_type = "text/tab-separated-values" if kind == "tsv" else "text/csv"
        response = HttpResponse(text, content_type=f"{content_type}; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="search-{search.id}.{kind}"'
        return response


class BatchInput(StrictSerializer):
    gmt = serializers.CharField(max_length=5_000_000, help_text="GMT text of the queries")
    mode = serializers.ChoiceField(choices=MODES, default="both")
    score = serializers.ChoiceField(choices=list(SCORES), default="rank")
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=50)
    filters = filters_field()
    validate_filters = SearchInput.validate_filters


class BatchSearchApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "batch"

    @extend_schema(
        operation_id="search_batch",
        request=BatchInput,
        responses=answers({202: BatchSerializer}, *WRITE_ERRORS),
    )
    def post(self, request: Request) -> Response:
        body = BatchInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        options = SearchOptions(
            mode=data["mode"], score=data["score"], limit=data["limit"], filters=data["filters"]
        )
        batch = batch_search_create(gmt=data["gmt"], options=options)
        transaction.on_commit(lambda: _queued(batch))
        batch.refresh_from_db()  # run already where tasks run in process: one state, not two
        return Response(batch_payload(batch), status=status.HTTP_202_ACCEPTED)


class TaskQueueUnavailable(APIException):
    """503 with Retry-After (DRF's handler sends `wait`): the broker cannot take the task."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    wait = 5


QUEUE_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 1, "interval_max": 1}


def _queued(batch: BatchSearch) -> None:
    """The batch's task sent to the broker (run here where tasks run in process). A broker that
    cannot be reached fails the batch with the reason and answers 503, instead of a 500 and a
    batch left queued that no worker will ever see."""
    try:
        with batch_search_run_task.app.connection_for_write() as connection:  # a batch is rare
            batch_search_run_task.apply_async(
                args=[str(batch.id)], connection=connection, retry=True, retry_policy=QUEUE_RETRY
            )
    except Exception as error:  # kombu and its transports raise errors of their own
        if settings.CELERY_TASK_ALWAYS_EAGER:
            raise  # the task itself failed, in process: not the queue
        reason = f"the task queue cannot be reached: {str(error).strip().splitlines()[0]}"
        batch_search_fail(batch_id=str(batch.id), error=reason)
        raise TaskQueueUnavailable(f"{reason}; the batch was not started, try again") from error


class BatchSearchDetailApi(APIView):
    @extend_schema(
        operation_id="search_batch_detail", responses=answers({200: BatchSerializer}, 404)
    )
    def get(self, request: Request, batch_id: str) -> Response:
        return Response(batch_payload(get_object_or_404(BatchSearch, id=batch_id)))


class BatchSearchResultsApi(APIView):
    @extend_schema(
        operation_id="search_batch_results",
        responses=answers({(200, "text/tab-separated-values"): OpenApiTypes.STR}, 404, 409),
    )
    def get(self, request: Request, batch_id: str) -> HttpResponseBase:
        batch = get_object_or_404(BatchSearch, id=batch_id)
        if batch.status != BatchStatus.DONE:
            detail = f"batch {batch.id} is {batch.status} ({batch.n_done}/{batch.n_queries})"
            return Response({"detail": detail}, status=status.HTTP_409_CONFLICT)
        response = FileResponse(
            open(batch.result_file, "rb"),  # noqa: SIM115 (FileResponse closes it)
            as_attachment=True,
            filename=f"batch-{batch.id}.tsv",
        )
        response["Content-Type"] = "text/tab-separated-values; charset=utf-8"
        return response


def batch_payload(batch: BatchSearch) -> dict[str, Any]:
    done = batch.status == BatchStatus.DONE
    return {
        "id": str(batch.id),
        "status": batch.status,
        "n_queries": batch.n_queries,
        "n_done": batch.n_done,
        "error": batch.error,
        "created_at": batch.created_at,
        "finished_at": batch.finished_at,
        "status_url": reverse("api:search-batch-detail", args=[batch.id]),
        "results_url": reverse("api:search-batch-results", args=[batch.id]) if done else None,
        "page": reverse("search:batch-detail", args=[batch.id]),
        "filters": batch_filters(batch),
        "queries": batch_outcomes(batch),
    }
