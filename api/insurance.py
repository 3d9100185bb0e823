"""Coverages, verifications of benefits, authorizations and electronic eligibility checks over REST.

Writes go through patients.insurance.services (the same rules and audit as the browser). Eligibility checks
are read-only except `start`, which builds and sends a 270; answers arrive through the transport.
"""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.base import ClinicViewSet
from api.lookups import resolve_in_clinic
from api.mixins import ParentIsFixed, PartialUpdateOnly
from clinic.tenancy.roles import Perm
from patients.eligibility.x12 import spec_data as x12_spec
from patients.insurance import selectors, services
from patients.insurance.models import Authorization, BenefitVerification, Coverage, EligibilityCheck
from patients.models import Patient


# --- coverages ----------------------------------------------------------------------------------------------
class CoverageSerializer(ParentIsFixed, serializers.ModelSerializer):
    parent_field = "patient"
    patient = serializers.UUIDField(source="patient_id")

    class Meta:
        model = Coverage
        fields = ("id", "patient", *services.COVERAGE_FIELDS, "created_at", "updated_at")
        read_only_fields = ("id", "created_at", "updated_at")
        validators: list = []  # the service reports the one-active-priority rule on the priority field

    def create(self, validated_data):
        patient = resolve_in_clinic(Patient, validated_data.pop("patient_id"), "patient")
        return services.coverage_create(
            actor=self.context["request"].user, patient=patient, fields=validated_data
        )

    def update(self, instance, validated_data):
        fields = self._drop_parent(instance, validated_data)
        return services.coverage_update(actor=self.context["request"].user, coverage=instance, fields=fields)


class PatientUpdatedFilter(django_filters.FilterSet):
    # Declared explicitly: django-filter's automatic fields query the (scoped) manager at import time.
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")


class CoverageFilter(PatientUpdatedFilter):
    patient = django_filters.UUIDFilter(field_name="patient_id")
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = Coverage
        fields: tuple = ()


class CoverageViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    PartialUpdateOnly,
    ClinicViewSet,
):
    model = Coverage
    serializer_class = CoverageSerializer
    filterset_class = CoverageFilter
    action_perms = {
        "list": Perm.INSURANCE_VIEW,
        "retrieve": Perm.INSURANCE_VIEW,
        "create": Perm.INSURANCE_MANAGE,
        "partial_update": Perm.INSURANCE_MANAGE,
    }


# --- verifications ------------------------------------------------------------------------------------------
class VerificationSerializer(ParentIsFixed, serializers.ModelSerializer):
    parent_field = "coverage"
    coverage = serializers.UUIDField(source="coverage_id")
    verified_at = serializers.DateTimeField(required=False, help_text="Defaults to now.")
    verified_by = serializers.IntegerField(source="verified_by_id", read_only=True, allow_null=True)
    eligibility_check = serializers.UUIDField(source="eligibility_check_id", read_only=True, allow_null=True)

    class Meta:
        model = BenefitVerification
        fields = (
            "id",
            "coverage",
            *services.VERIFICATION_FIELDS,
            "verified_by",
            "eligibility_check",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "created_at", "updated_at")

    def create(self, validated_data):
        coverage = resolve_in_clinic(Coverage, validated_data.pop("coverage_id"), "coverage")
        return services.verification_record(
            actor=self.context["request"].user, coverage=coverage, fields=validated_data
        )

    def update(self, instance, validated_data):
        fields = self._drop_parent(instance, validated_data)
        return services.verification_update(
            actor=self.context["request"].user, verification=instance, fields=fields
        )


class CoverageChildFilter(PatientUpdatedFilter):
    patient = django_filters.UUIDFilter(field_name="coverage__patient_id")
    coverage = django_filters.UUIDFilter(field_name="coverage_id")


class VerificationFilter(CoverageChildFilter):
    class Meta:
        model = BenefitVerification
        fields: tuple = ()


class _CoverageChild:
    def patient_of(self, obj):
        return obj.coverage.patient_id

    def refine_queryset(self, queryset):
        return queryset.select_related("coverage")


class VerificationViewSet(
    _CoverageChild,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    PartialUpdateOnly,
    ClinicViewSet,
):
    model = BenefitVerification
    serializer_class = VerificationSerializer
    filterset_class = VerificationFilter
    action_perms = {
        "list": Perm.INSURANCE_VIEW,
        "retrieve": Perm.INSURANCE_VIEW,
        "create": Perm.INSURANCE_MANAGE,
        "partial_update": Perm.INSURANCE_MANAGE,
    }


# --- authorizations -----------------------------------------------------------------------------------------
class AuthorizationSerializer(ParentIsFixed, serializers.ModelSerializer):
    parent_field = "coverage"
    coverage = serializers.UUIDField(source="coverage_id")
    units_used = serializers.SerializerMethodField()
    units_remaining = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()

    class Meta:
        model = Authorization
        fields = (
            "id",
            "coverage",
            *services.AUTHORIZATION_FIELDS,
            "units_used",
            "units_remaining",
            "warnings",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "created_at", "updated_at")

    def _balance(self, obj):
        cache = self.context.setdefault("_balances", {})
        if obj.pk not in cache:
            cache[obj.pk] = selectors.authorization_balance(obj)
        return cache[obj.pk]

    def get_units_used(self, obj) -> int:
        return self._balance(obj).used

    def get_units_remaining(self, obj) -> int:
        return self._balance(obj).remaining

    def get_warnings(self, obj) -> list[str]:
        return list(self._balance(obj).warnings)

    def create(self, validated_data):
        coverage = resolve_in_clinic(Coverage, validated_data.pop("coverage_id"), "coverage")
        return services.authorization_create(
            actor=self.context["request"].user, coverage=coverage, fields=validated_data
        )

    def update(self, instance, validated_data):
        fields = self._drop_parent(instance, validated_data)
        self.context.pop("_balances", None)
        return services.authorization_update(
            actor=self.context["request"].user, authorization=instance, fields=fields
        )


class AuthorizationFilter(CoverageChildFilter):
    status = django_filters.ChoiceFilter(choices=Authorization.Status.choices)

    class Meta:
        model = Authorization
        fields: tuple = ()


class AuthorizationViewSet(
    _CoverageChild,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    PartialUpdateOnly,
    ClinicViewSet,
):
    model = Authorization
    serializer_class = AuthorizationSerializer
    filterset_class = AuthorizationFilter
    action_perms = {
        "list": Perm.INSURANCE_VIEW,
        "retrieve": Perm.INSURANCE_VIEW,
        "create": Perm.INSURANCE_MANAGE,
        "partial_update": Perm.INSURANCE_MANAGE,
    }

    def refine_queryset(self, queryset):
        return selectors.with_units_used(queryset.select_related("coverage"))


# --- electronic eligibility ---------------------------------------------------------------------------------
class EligibilityCheckSerializer(serializers.ModelSerializer):
    coverage = serializers.UUIDField(source="coverage_id", read_only=True)
    verification = serializers.SerializerMethodField()

    class Meta:
        model = EligibilityCheck
        fields = (
            "id",
            "coverage",
            "trace_number",
            "status",
            "service_types",
            "sent_at",
            "answered_at",
            "summary",
            "rejections",
            "error_message",
            "request_text",
            "response_text",
            "verification",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    def get_verification(self, obj) -> str | None:
        verification = getattr(obj, "verification", None)
        return str(verification.pk) if verification else None


class EligibilityStartSerializer(serializers.Serializer):
    coverage = serializers.UUIDField()
    service_types = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(x12_spec.SERVICE_TYPES)),
        required=False,
        allow_empty=False,
        max_length=99,
        help_text="X12 service type codes (EQ01). Default: AI, AK, CJ, BB (substance abuse IOP and PHP).",
    )


class EligibilityCheckFilter(CoverageChildFilter):
    status = django_filters.ChoiceFilter(choices=EligibilityCheck.Status.choices)

    class Meta:
        model = EligibilityCheck
        fields: tuple = ()


class EligibilityCheckViewSet(
    _CoverageChild, mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicViewSet
):
    model = EligibilityCheck
    serializer_class = EligibilityCheckSerializer
    filterset_class = EligibilityCheckFilter
    action_perms = {
        "list": Perm.INSURANCE_VIEW,
        "retrieve": Perm.INSURANCE_VIEW,
        "start": Perm.INSURANCE_MANAGE,
    }

    def refine_queryset(self, queryset):
        return queryset.select_related("coverage", "verification")

    @extend_schema(request=EligibilityStartSerializer, responses={201: EligibilityCheckSerializer})
    @action(detail=False, methods=["post"])
    def start(self, request, *args, **kwargs) -> Response:
        """Build and send a 270 for a coverage. The answer arrives later (poll the check)."""
        data = EligibilityStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        coverage = resolve_in_clinic(Coverage, data.validated_data["coverage"], "coverage")
        try:
            check = services.eligibility_check_start(
                actor=request.user, coverage=coverage, service_types=data.validated_data.get("service_types")
            )
        except DjangoValidationError as error:
            detail = (
                error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}
            )
            raise serializers.ValidationError(detail) from error
        return Response(
            EligibilityCheckSerializer(check, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )
