"""Patients' daily check-ins over REST: read-only, for EHRs that sync them (filter by patient and
`updated_since`). Check-ins are written only by the patient, through their personal link."""

from __future__ import annotations

import django_filters
from rest_framework import mixins, serializers

from api.base import ClinicViewSet
from clinic.tenancy.roles import Perm
from vitals.checkins.models import CheckIn


class CheckInSerializer(serializers.ModelSerializer):
    link = serializers.UUIDField(source="link_id", read_only=True)

    class Meta:
        model = CheckIn
        fields = (
            "id",
            "patient",
            "link",
            "local_date",
            "submitted_at",
            "dose_status",
            "planned_mg_by_drug",
            "dose_mg_by_drug",
            "symptoms",
            "red_flags",
            "symptom_form_version",
            "symptom_score",
            "sleep_hours",
            "sleep_quality",
            "anxiety",
            "cravings",
            "alcohol",
            "other_drugs",
            "other_drugs_text",
            "free_text",
            "guidance",
            "guidance_version",
            "flags",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class CheckInFilter(django_filters.FilterSet):
    # Declared explicitly: django-filter's automatic fields query the (scoped) manager at import time.
    patient = django_filters.UUIDFilter(field_name="patient_id")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    local_date_from = django_filters.DateFilter(field_name="local_date", lookup_expr="gte")
    local_date_to = django_filters.DateFilter(field_name="local_date", lookup_expr="lte")
    guidance = django_filters.ChoiceFilter(choices=CheckIn.Guidance.choices)

    class Meta:
        model = CheckIn
        fields: tuple = ()


class CheckInViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicViewSet):
    model = CheckIn
    serializer_class = CheckInSerializer
    filterset_class = CheckInFilter
    action_perms = {"list": Perm.VITALS_VIEW, "retrieve": Perm.VITALS_VIEW}

    def refine_queryset(self, queryset):
        return queryset.order_by("-created_at", "-id")
