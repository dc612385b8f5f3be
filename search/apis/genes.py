"""Gene APIs: autocomplete, one gene, identifier resolution, and a gene's signatures (the
gene-centric reverse search)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.throttling import ScopedRateThrottle
from search.apis.bodies import StrictSerializer
from search.apis.gene_schemas import (
    GeneDetailSerializer,
    GeneListSerializer,
    GeneSignaturesSerializer,
    ResolveSerializer,
)
from search.apis.schemas import WRITE_ERRORS, answers
from search.apis.signatures import MAX_ROWS
from search.engine.genes import GeneResolver, Resolution
from search.selectors.genes import (
    AUTOCOMPLETE_MAX,
    gene_autocomplete,
    gene_lookup,
    gene_record,
    gene_registry_release,
    gene_resolver,
)
from search.selectors.signatures import (
    gene_reverse_search,
)

MAX_IDENTIFIERS = 5000
MAX_IDENTIFIER_LENGTH = 100


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and other non-strings instead of converting them."""

    default_error_messages = {"not_a_string": "Not a string: got {kind}."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string", kind=type(data).__name__)
        return super().to_internal_value(data)


class GeneAutocompleteApi(APIView):
    class InputSerializer(StrictSerializer):
        q = serializers.CharField(max_length=MAX_IDENTIFIER_LENGTH)
        limit = serializers.IntegerField(min_value=1, max_value=AUTOCOMPLETE_MAX, default=20)

    @extend_schema(
        operation_id="genes_autocomplete",
        parameters=[InputSerializer],
        responses=answers({200: GeneListSerializer}, 400),
    )
    def get(self, request: Request) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        genes = gene_autocomplete(
            query=params.validated_data["q"], limit=params.validated_data["limit"]
        )
        return Response(
            {
                "query": params.validated_data["q"],
                "results": [gene_record(gene).as_dict() for gene in genes],
            }
        )


class GeneDetailApi(APIView):
    @extend_schema(
        operation_id="gene_detail", responses=answers({200: GeneDetailSerializer}, 300, 404)
    )
    def get(self, request: Request, identifier: str) -> Response:
        resolution, record = gene_lookup(identifier=identifier)
        return Response({**record.as_dict(), "matched_by": str(resolution.matched_by)})


class GeneResolveApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "lookup"

    class InputSerializer(StrictSerializer):
        identifiers = serializers.ListField(
            child=StrictCharField(max_length=MAX_IDENTIFIER_LENGTH),
            allow_empty=False,
            max_length=MAX_IDENTIFIERS,
        )

    @extend_schema(
        operation_id="genes_resolve",
        request=InputSerializer,
        responses=answers({200: ResolveSerializer}, *WRITE_ERRORS),
    )
    def post(self, request: Request) -> Response:
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        resolver = gene_resolver()
        resolutions = resolver.resolve_many(body.validated_data["identifiers"])
        release = gene_registry_release()
        counts = {kind: 0 for kind in ("resolved", "ambiguous", "unknown")}
        for resolution in resolutions:
            counts[resolution.status] += 1
        return Response(
            {
                "registry_release": release.pk if release else None,
                "summary": counts,
                "results": [_resolution_payload(resolver, r) for r in resolutions],
            }
        )


def _resolution_payload(resolver: GeneResolver, resolution: Resolution) -> dict[str, Any]:
    genes = [resolver.genes[entrez_id].as_dict() for entrez_id in resolution.entrez_ids]
    return {
        "query": resolution.query,
        "status": str(resolution.status),
        "matched_by": str(resolution.matched_by) if resolution.matched_by else None,
        "gene": genes[0] if resolution.entrez_id is not None else None,
        "candidates": genes if resolution.entrez_id is None else [],
    }


class GeneSignaturesApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "lookup"

    class InputSerializer(StrictSerializer):
        direction = serializers.ChoiceField(choices=["up", "down", "both"], default="both")
        pert_type = serializers.CharField(required=False, max_length=32)
        cell_id = serializers.CharField(required=False, max_length=64)
        limit = serializers.IntegerField(min_value=1, max_value=MAX_ROWS, default=25)

    @extend_schema(
        operation_id="gene_signatures",
        parameters=[InputSerializer],
        responses=answers({200: GeneSignaturesSerializer}, 300, 400, 404, 429),
    )
    def get(self, request: Request, identifier: str) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(gene_reverse_search(identifier=identifier, **params.validated_data))
