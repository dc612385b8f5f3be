"""Perturbagen API: every signature of one perturbagen, their consensus, similar perturbagens."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.throttling import ScopedRateThrottle
from search.apis.bodies import StrictSerializer
from search.apis.schemas import PerturbagenSerializer, answers
from search.selectors.perturbagens import perturbagen_detail


class PerturbagenDetailApi(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "lookup"  # it runs a search for the similar perturbagens

    class InputSerializer(StrictSerializer):
        n = serializers.IntegerField(
            min_value=1, max_value=250, default=25, help_text="consensus genes per side"
        )

    @extend_schema(
        operation_id="perturbagen_detail",
        parameters=[InputSerializer],
        responses=answers({200: PerturbagenSerializer}, 400, 404, 429),
    )
    def get(self, request: Request, pert_id: str) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(perturbagen_detail(pert_id=pert_id, n_genes=params.validated_data["n"]))
