"""What the gene APIs answer, declared for the OpenAPI schema (as schemas.py does for the others):
a gene, identifier resolution, and a gene's signatures (the reverse search)."""

from __future__ import annotations

from rest_framework import serializers

from search.apis.schemas import (
    FilterReportSerializer,
    HubFractionsSerializer,
    SignatureMetadataSerializer,
    number_field,
    texts_field,
)


class GeneSerializer(serializers.Serializer):
    entrez_id = serializers.IntegerField()
    symbol = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    gene_type = serializers.CharField(allow_blank=True)
    chromosome = serializers.CharField(allow_blank=True)
    ensembl_ids = texts_field()
    aliases = texts_field()
    l1000_type = serializers.CharField(allow_blank=True, allow_null=True)
    is_landmark = serializers.BooleanField()
    l1000_symbols = texts_field()
    probe_ids = texts_field()


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


class GeneSignatureRowSerializer(SignatureMetadataSerializer):
    value = number_field()
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


class GeneHubSerializer(HubFractionsSerializer):
    is_hub = serializers.BooleanField()


class GeneAccuracySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["landmark", "inferred"])
    pcc_model = serializers.FloatField(help_text="r across the held-out paired samples")
    pcc_ridge = serializers.FloatField(help_text="the ridge baseline's r")
    n_samples = serializers.IntegerField()
    poor = serializers.BooleanField(help_text="r below 0.3")


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
    hub = GeneHubSerializer(allow_null=True, help_text="null: not computed for this index")
    accuracy = GeneAccuracySerializer(allow_null=True, help_text="null: not evaluated")
