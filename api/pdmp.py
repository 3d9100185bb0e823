"""PDMP reports over REST: an EHR or PDMP gateway integration posts the report it pulled for a patient.

`POST /api/v1/pdmp-imports/` with the report as base64 (`content`, the exact bytes: a FHIR `$pdmp-history`
Bundle, the documented CSV, or a PDF) imports it as the state's storage policy allows, all or nothing;
with `"preview": true` it answers what would be imported and writes nothing. A report with problems is a
400 problem listing every one. List and read the imports (their fills are `/api/v1/dispensations/`).
"""

from __future__ import annotations

import base64
import binascii

import django_filters
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from api.base import ClinicViewSet
from api.lookups import resolve_in_clinic
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.roles import Perm
from patients.models import Patient
from prescribers import pdmp_import
from prescribers.models import PdmpImport
from prescribers.pdmp.records import DispensationRecord


class PdmpImportSerializer(serializers.ModelSerializer):
    class Meta:
        model = PdmpImport
        fields = (
            "id",
            "patient",
            "state",
            "format",
            "storage_policy",
            "queried_at",
            "transaction_id",
            "report_sha256",
            "filename",
            "patient_name_on_report",
            "patient_birth_date_on_report",
            "fill_count",
            "new_fill_count",
            "note",
            "imported_by_label",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class PdmpImportRequestSerializer(serializers.Serializer):
    patient = serializers.UUIDField()
    state = serializers.CharField(
        max_length=2, help_text="The state whose PDMP the report came from, e.g. OR"
    )
    format = serializers.ChoiceField(choices=pdmp_import.FORMATS)
    content = serializers.CharField(help_text="The report file, base64-encoded", max_length=15 * 1024 * 1024)
    filename = serializers.CharField(max_length=255, required=False, default="")
    queried_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    transaction_id = serializers.CharField(max_length=200, required=False, default="")
    note = serializers.CharField(max_length=1000, required=False, default="", allow_blank=True)
    identity_confirmed = serializers.BooleanField(required=False, default=False)
    preview = serializers.BooleanField(required=False, default=False)

    def validate_content(self, value: str) -> bytes:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as error:
            raise serializers.ValidationError("Not valid base64.") from error


def _record(r: DispensationRecord) -> dict:
    return {
        "filled_on": r.filled_on,
        "drug": r.drug_text,
        "ingredient": r.ingredient,
        "drug_class": r.drug_class,
        "quantity": str(r.quantity),
        "days_supply": r.days_supply,
        "prescriber": r.prescriber.name,
        "pharmacy": r.pharmacy.name,
    }


class PdmpImportFilter(django_filters.FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient_id")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = PdmpImport
        fields: tuple = ()


class PdmpImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicViewSet):
    model = PdmpImport
    serializer_class = PdmpImportSerializer
    filterset_class = PdmpImportFilter
    disclosure_categories = ("medications",)
    # The report travels base64-encoded (4/3 of the 10 MB a report may be), plus the other fields.
    max_body_bytes = 16 * 1024 * 1024
    action_perms = {
        "list": Perm.MEDICATION_VIEW,
        "retrieve": Perm.MEDICATION_VIEW,
        "create": Perm.MEDICATION_RECORD,
    }

    def refine_queryset(self, queryset):
        return queryset.defer("raw", "pdf").order_by("-created_at", "-id")

    def create(self, request, *args, **kwargs):
        given = PdmpImportRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        patient = resolve_in_clinic(Patient, data["patient"], "patient")
        if data["preview"]:
            preview = pdmp_import.preview(
                patient=patient, state=data["state"], format=data["format"], data=data["content"]
            )
            audit(
                actor=request.user,
                action=AuditEvent.Action.VIEW,
                obj=patient,
                patient=patient,
                detail={"view": "PDMP report preview (API)", "state": preview.state},
            )
            return Response(
                {
                    "state": preview.state,
                    "storage": preview.storage,
                    "what_is_kept": preview.what_is_kept,
                    "identity_warnings": preview.identity_warnings,
                    "problems": [
                        {"where": p.where, "field": p.field, "message": p.message} for p in preview.problems
                    ],
                    "notes": list(preview.report.notes) if preview.report else [],
                    "already_imported": str(preview.already_imported.pk)
                    if preview.already_imported
                    else None,
                    "new": [_record(r) for r in preview.new],
                    "on_file": [_record(r) for r in preview.on_file],
                }
            )
        row = pdmp_import.commit(
            actor=request.user,
            patient=patient,
            state=data["state"],
            format=data["format"],
            data=data["content"],
            filename=data["filename"],
            queried_at=data["queried_at"],
            transaction_id=data["transaction_id"],
            note=data["note"],
            identity_confirmed=data["identity_confirmed"],
        )
        return Response(PdmpImportSerializer(row).data, status=status.HTTP_201_CREATED)
