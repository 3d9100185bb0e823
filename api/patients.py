"""Patients over REST: list/search, read, create and change. Deletion is not offered (records are kept).

The patient carries its identifiers, contacts and allergies as read-only nested lists: an EHR sync needs
them with every patient, and they are readable by every role that may read the patient. Diagnoses are
clinical (the care team only, Perm.CLINICAL_VIEW), so they are a separate read-only endpoint with their
own permission rather than a field whose presence would depend on the caller's role.
"""

from __future__ import annotations

import django_filters
from django.db.models import Prefetch
from rest_framework import exceptions, mixins, serializers

from api.base import ClinicViewSet
from clinic.tenancy.roles import Perm
from patients.models import Allergy, Diagnosis, ExternalIdentifier, Patient, PatientContact
from patients.services import EDITABLE_FIELDS, patient_create, patient_update

# The nested lists are prefetched into plain lists (`to_attr`): a plain prefetch builds a related queryset for
# every row and relation (150 filtered querysets for a page of 50, most of a list request's Python time).
PREFETCHED = {"identifiers": "external_identifiers", "contacts": "contacts", "allergies": "allergies"}
_NESTED = tuple(Prefetch(relation, to_attr=f"prefetched_{name}") for name, relation in PREFETCHED.items())


class PrefetchedList(serializers.ListSerializer):
    """A nested list read from the view's prefetched list when there is one (list, retrieve), else from the
    relation (the patient just created or changed)."""

    def get_attribute(self, instance):
        prefetched = getattr(instance, f"prefetched_{self.field_name}", None)
        return prefetched if prefetched is not None else super().get_attribute(instance)


class IdentifierSerializer(serializers.ModelSerializer):
    class Meta:
        list_serializer_class = PrefetchedList
        model = ExternalIdentifier
        fields = ("id", "system", "value", "label", "is_active")
        read_only_fields = fields


class ContactSerializer(serializers.ModelSerializer):
    class Meta:
        list_serializer_class = PrefetchedList
        model = PatientContact
        fields = (
            "id",
            "name",
            "relationship",
            "phone",
            "email",
            "is_emergency_contact",
            "may_receive_information",
            "is_active",
        )
        read_only_fields = fields


class AllergySerializer(serializers.ModelSerializer):
    class Meta:
        list_serializer_class = PrefetchedList
        model = Allergy
        fields = ("id", "substance", "reaction", "severity", "status", "noted_on")
        read_only_fields = fields


class PatientSerializer(serializers.ModelSerializer):
    mrn = serializers.CharField(
        max_length=20, required=False, allow_blank=True, help_text="Leave out to assign the next clinic MRN."
    )
    identifiers = IdentifierSerializer(source="external_identifiers", many=True, read_only=True)
    contacts = ContactSerializer(many=True, read_only=True)
    allergies = AllergySerializer(many=True, read_only=True)

    class Meta:
        model = Patient
        fields = ("id", *EDITABLE_FIELDS, "identifiers", "contacts", "allergies", "created_at", "updated_at")
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
    identifier = django_filters.CharFilter(
        method="filter_identifier",
        label="An external identifier as system|value, e.g. urn:oid:2.16.840.1.113883.3.1|12345",
    )

    class Meta:
        model = Patient
        fields: tuple = ()

    def filter_identifier(self, queryset, name, value: str):
        system, bar, identifier = value.partition("|")
        if not bar or not system.strip() or not identifier.strip():
            raise exceptions.ValidationError({"identifier": ["Give the identifier as system|value."]})
        return queryset.filter(
            external_identifiers__system=system.strip(), external_identifiers__value=identifier.strip()
        )


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

    def refine_queryset(self, queryset):
        # One query per nested list, whatever the page size.
        return queryset.prefetch_related(*_NESTED)


class DiagnosisSerializer(serializers.ModelSerializer):
    patient = serializers.UUIDField(source="patient_id", read_only=True)

    class Meta:
        model = Diagnosis
        fields = (
            "id",
            "patient",
            "code",
            "description",
            "is_primary",
            "onset_on",
            "status",
            "resolved_on",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class DiagnosisFilter(django_filters.FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient_id")
    status = django_filters.ChoiceFilter(choices=Diagnosis.Status.choices)
    code = django_filters.CharFilter(field_name="code", lookup_expr="iexact")

    class Meta:
        model = Diagnosis
        fields: tuple = ()


class DiagnosisViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicViewSet):
    """Read-only: diagnoses are coded in the browser, where the ICD-10-CM list is at hand."""

    model = Diagnosis
    serializer_class = DiagnosisSerializer
    filterset_class = DiagnosisFilter
    action_perms = {"list": Perm.CLINICAL_VIEW, "retrieve": Perm.CLINICAL_VIEW}
