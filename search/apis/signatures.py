"""Signature APIs: one signature, its genes, its neighbours."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from search.apis.bodies import StrictSerializer
from search.apis.schemas import (
    NeighboursSerializer,
    SignatureDetailSerializer,
    SignatureGenesSerializer,
    answers,
)
from search.selectors.signatures import (
    signature_detail,
    signature_genes,
    signature_neighbours,
)

MAX_ROWS = 1000


class SignatureDetailApi(APIView):
    @extend_schema(
        operation_id="signature_detail", responses=answers({200: SignatureDetailSerializer}, 404)
    )
    def get(self, request: Request, sig_id: str) -> Response:
        return Response(signature_detail(sig_id=sig_id))


class SignatureGenesApi(APIView):
    class InputSerializer(StrictSerializer):
        n = serializers.IntegerField(min_value=1, max_value=MAX_ROWS, default=50)

    @extend_schema(
        operation_id="signature_genes",
        parameters=[InputSerializer],
        responses=answers({200: SignatureGenesSerializer}, 400, 404),
    )
    def get(self, request: Request, sig_id: str) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(signature_genes(sig_id=sig_id, n=params.validated_data["n"]))


class SignatureSimilarApi(APIView):
    class InputSerializer(StrictSerializer):
        limit = serializers.IntegerField(min_value=1, max_value=MAX_ROWS, default=20)

    @extend_schema(
        operation_id="signature_similar",
        parameters=[InputSerializer],
        responses=answers({200: NeighboursSerializer}, 400, 404),
    )
    def get(self, request: Request, sig_id: str) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        rows = signature_neighbours(sig_id=sig_id, k=params.validated_data["limit"])
        return Response({"sig_id": sig_id, "results": rows})
