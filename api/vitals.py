"""Vital-sign readings and scored instruments over REST, so an EHR or a device can post them.

Writes go through vitals.services: the same refusals as the browser (impossible values, bad answers) and
the same confirmation rule — a possible but unusual value is only saved when the request says
`"confirm_unusual": true`; otherwise the answer is 422 problem+json naming each value and why.
Readings and results are append-only here (no update or delete).
"""

from __future__ import annotations

from decimal import Decimal

import django_filters
from drf_spectacular.utils import extend_schema_field
from rest_framework import mixins, serializers, status

from api.base import ClinicViewSet
from api.lookups import resolve_in_clinic
from api.schema import WriteChoiceField
from clinic.tenancy.roles import Perm
from patients.models import Patient
from vitals import services
from vitals.models import KINDS, InstrumentResult, Source, VitalReading, VitalValue

API_SOURCES = [(Source.API.value, Source.API.label), (Source.DEVICE.value, Source.DEVICE.label)]


class UnusualValuesNeedConfirmation(serializers.ValidationError):
    """422: the values are possible but unusual; send again with confirm_unusual=true if they are right."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "unusual_values"


_VALUES_SCHEMA = {
    "type": "object",
    "description": (
        "Measurements by kind: systolic_bp and diastolic_bp (mmHg), heart_rate and respiratory_rate (/min), "
        "temperature (°C), spo2 (%), weight (kg). Give at least one; unknown kinds are refused."
    ),
    "properties": {kind: {"type": "number", "nullable": True} for kind in KINDS},
    "additionalProperties": False,
}


@extend_schema_field(_VALUES_SCHEMA)
class VitalValuesField(serializers.Field):
    """In: {kind: number}. Out: the same shape, from the stored values (units in `measurements`)."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError("Give the measurements as an object of {kind: number}.")
        unknown = sorted(set(data) - set(KINDS))
        if unknown:
            raise serializers.ValidationError(
                f"Unknown measurement(s) {', '.join(unknown)}; use {', '.join(KINDS)}."
            )
        return {kind: value for kind, value in data.items() if value is not None}

    def to_representation(self, values):
        return {v.kind: _number(v.value) for v in values.all()}


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


class VitalValueSerializer(serializers.ModelSerializer):
    class Meta:
        model = VitalValue
        fields = ("kind", "value", "unit", "loinc", "loinc_codes", "confirmed_unusual")
        read_only_fields = fields


class VitalReadingSerializer(serializers.ModelSerializer):
    patient = serializers.UUIDField(source="patient_id")
    values = VitalValuesField()
    measurements = VitalValueSerializer(source="values", many=True, read_only=True)
    source = WriteChoiceField(choices=API_SOURCES, read_choices=Source.choices, default=Source.API.value)
    confirm_unusual = serializers.BooleanField(
        default=False,
        write_only=True,
        help_text="Set true to save values outside the usual range after checking them.",
    )
    position = serializers.ChoiceField(
        choices=VitalReading.Position.choices, allow_blank=True, default="", help_text="Required with a BP."
    )
    consciousness = serializers.ChoiceField(
        choices=VitalReading.Consciousness.choices, allow_blank=True, default=""
    )
    on_oxygen = serializers.BooleanField(allow_null=True, default=None)
    note = serializers.CharField(allow_blank=True, default="", max_length=2000)
    entered_by = serializers.IntegerField(source="entered_by_id", read_only=True, allow_null=True)

    class Meta:
        model = VitalReading
        fields = (
            "id",
            "patient",
            "taken_at",
            "taken_by",
            "source",
            "values",
            "confirm_unusual",
            "position",
            "on_oxygen",
            "consciousness",
            "note",
            "measurements",
            "bp_category",
            "bp_category_label",
            "news2_score",
            "news2_risk",
            "news2_partial",
            "flags",
            "entered_by",
            "created_at",
            "updated_at",
        )
        read_only_fields = (
            "id",
            "bp_category",
            "bp_category_label",
            "news2_score",
            "news2_risk",
            "news2_partial",
            "flags",
            "created_at",
            "updated_at",
        )

    def create(self, validated_data):
        patient = resolve_in_clinic(Patient, validated_data.pop("patient_id"), "patient")
        try:
            return services.vitals_record(
                actor=self.context["request"].user,
                patient=patient,
                taken_at=validated_data["taken_at"],
                values=validated_data.get("values", {}),
                position=validated_data["position"],
                taken_by=validated_data["taken_by"],
                source=validated_data["source"],
                confirm_unusual=validated_data["confirm_unusual"],
                note=validated_data["note"],
                on_oxygen=validated_data["on_oxygen"],
                consciousness=validated_data["consciousness"],
            )
        except services.UnusualValues as unusual:
            detail = {kind: [reason] for kind, reason in unusual.unusual.items()}
            detail["confirm_unusual"] = [
                f"Possible but unusual: {', '.join(unusual.unusual)}. If they were measured and typed "
                'correctly, send the reading again with "confirm_unusual": true.'
            ]
            raise UnusualValuesNeedConfirmation(detail) from unusual


class FlagDetailSerializer(serializers.Serializer):
    """One flag an instrument's answers raised (as stored with the result; for the schema)."""

    flag = serializers.CharField()
    rule = serializers.CharField()
    label = serializers.CharField()
    severity = serializers.CharField()
    reason = serializers.CharField()
    evidence = serializers.JSONField()
    source = serializers.CharField()
    status = serializers.CharField()


class InstrumentResultSerializer(serializers.ModelSerializer):
    patient = serializers.UUIDField(source="patient_id")
    instrument = serializers.CharField(max_length=40, help_text="e.g. ciwa_b, phq9, gad7")
    answers = serializers.DictField(
        child=serializers.IntegerField(), help_text="{item_id: answer} for every item of the instrument."
    )
    source = WriteChoiceField(choices=API_SOURCES, read_choices=Source.choices, default=Source.API.value)
    entered_by = serializers.IntegerField(source="entered_by_id", read_only=True, allow_null=True)
    item_scores = serializers.DictField(child=serializers.IntegerField(), read_only=True)
    flag_details = serializers.SerializerMethodField()

    class Meta:
        model = InstrumentResult
        fields = (
            "id",
            "patient",
            "instrument",
            "instrument_name",
            "instrument_version",
            "answers",
            "item_scores",
            "completed_at",
            "source",
            "total",
            "band",
            "band_label",
            "flags",
            "flag_details",
            "loinc_total",
            "entered_by",
            "created_at",
            "updated_at",
        )
        read_only_fields = (
            "id",
            "instrument_name",
            "instrument_version",
            "total",
            "band",
            "band_label",
            "flags",
            "loinc_total",
            "created_at",
            "updated_at",
        )

    @extend_schema_field(FlagDetailSerializer(many=True))
    def get_flag_details(self, obj: InstrumentResult) -> list:
        return obj.flag_details

    def create(self, validated_data):
        patient = resolve_in_clinic(Patient, validated_data.pop("patient_id"), "patient")
        return services.instrument_result_record(
            actor=self.context["request"].user,
            patient=patient,
            instrument=validated_data["instrument"],
            answers=validated_data["answers"],
            completed_at=validated_data["completed_at"],
            source=validated_data["source"],
        )


class VitalReadingFilter(django_filters.FilterSet):
    # Declared explicitly: django-filter's automatic fields query the (scoped) manager at import time.
    patient = django_filters.UUIDFilter(field_name="patient_id")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    taken_since = django_filters.IsoDateTimeFilter(field_name="taken_at", lookup_expr="gte")

    class Meta:
        model = VitalReading
        fields: tuple = ()


class InstrumentResultFilter(django_filters.FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient_id")
    instrument = django_filters.CharFilter()
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = InstrumentResult
        fields: tuple = ()


class VitalReadingViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ClinicViewSet
):
    model = VitalReading
    serializer_class = VitalReadingSerializer
    filterset_class = VitalReadingFilter
    action_perms = {
        "list": Perm.VITALS_VIEW,
        "retrieve": Perm.VITALS_VIEW,
        "create": Perm.VITALS_RECORD,
    }

    def refine_queryset(self, queryset):
        return queryset.prefetch_related("values")


class InstrumentResultViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ClinicViewSet
):
    model = InstrumentResult
    serializer_class = InstrumentResultSerializer
    filterset_class = InstrumentResultFilter
    disclosure_categories = ("assessments",)
    action_perms = {
        "list": Perm.VITALS_VIEW,
        "retrieve": Perm.VITALS_VIEW,
        "create": Perm.VITALS_RECORD,
    }
