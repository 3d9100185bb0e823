"""Intake assessments over REST: read-only for the care team. Writing and signing happen in the browser,
where the clinician sees the suggested level and confirms the signature."""

from __future__ import annotations

import django_filters
from rest_framework import mixins, serializers

from api.base import ClinicViewSet
from clinic.tenancy.roles import Perm
from patients.intake import content
from patients.intake.models import AssessmentAmendment, IntakeAssessment
from patients.intake.services import effective_values


class AmendmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = AssessmentAmendment
        fields = ("id", "sequence", "changes", "reason", "author", "signed_at", "content_hash")
        read_only_fields = fields


class IntakeAssessmentSerializer(serializers.ModelSerializer):
    amendments = AmendmentSerializer(many=True, read_only=True)
    effective = serializers.SerializerMethodField(
        help_text="The signed original with every amendment applied in order (field → value)."
    )

    class Meta:
        model = IntakeAssessment
        fields = (
            "id",
            "patient",
            "assessed_by",
            *content.EDITABLE_FIELDS,
            "suggested_level",
            "status",
            "signed_by",
            "signed_at",
            "content_hash",
            "amendments",
            "effective",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    def get_effective(self, obj: IntakeAssessment) -> dict:
        return effective_values(obj, list(obj.amendments.all()))


class IntakeAssessmentFilter(django_filters.FilterSet):
    # Declared explicitly: django-filter's automatic fields query the (scoped) manager at import time.
    patient = django_filters.UUIDFilter(field_name="patient_id")
    status = django_filters.ChoiceFilter(choices=IntakeAssessment.Status.choices)

    class Meta:
        model = IntakeAssessment
        fields: tuple = ()


class IntakeAssessmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicViewSet):
    model = IntakeAssessment
    serializer_class = IntakeAssessmentSerializer
    filterset_class = IntakeAssessmentFilter
    action_perms = {"list": Perm.CLINICAL_VIEW, "retrieve": Perm.CLINICAL_VIEW}

    def refine_queryset(self, queryset):
        return queryset.prefetch_related("amendments").order_by("-assessed_on", "-created_at", "id")
