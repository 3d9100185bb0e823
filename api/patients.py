"""Patients over REST: list/search, read, create and change. Deletion is not offered (records are kept)."""

from __future__ import annotations

import django_filters
from rest_framework import mixins, serializers
from rest_framework.response import Response

from api.base import ClinicViewSet
from clinic.tenancy.roles import Perm
from patients.models import Patient
from patients.services import EDITABLE_FIELDS, patient_create, patient_update


class PatientSerializer(serializers.ModelSerializer):
    mrn = serializers.CharField(
        max_length=20, required=False, allow_blank=True, help_text="Leave out to assign the next clinic MRN."
    )

    class Meta:
        model = Patient
        fields = ("id", *EDITABLE_FIELDS, "created_at", "updated_at")
        read_only_fields = ("id", "created_at", "updated_at")

    def create(self, validated_data):
        return patient_create(actor=self.context["request"].user, fields=validated_data)

    def update(self, instance, validated_data):
        return patient_update(actor=self.context["request"].user, patient=instance, fields=validated_data)


class PatientFilter(django_filters.FilterSet):
    # Declared explicitly: django-filter's automatic fields query the (scoped) manager at import time.
    status = django_filters.ChoiceFilter(choices=Patient.Status.choices)
    mrn = django_filters.CharFilter(field_name="mrn", lookup_expr="iexact")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Patient
        fields: tuple = ()


class PatientViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    ClinicViewSet,
):
    model = Patient
    serializer_class = PatientSerializer
    filterset_class = PatientFilter
    action_perms = {
        "list": Perm.PATIENT_VIEW,
        "retrieve": Perm.PATIENT_VIEW,
        "create": Perm.PATIENT_CREATE,
        "update": Perm.PATIENT_EDIT,
        "partial_update": Perm.PATIENT_EDIT,
    }

    def patient_of(self, obj: Patient):
        return obj.pk

    def list(self, request, *args, **kwargs) -> Response:
        response = super().list(request, *args, **kwargs)
        self.audit_list(len(response.data.get("results", [])))
        return response
