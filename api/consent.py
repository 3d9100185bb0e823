"""Part 2 consents, recipients and the accounting of disclosures over REST.

Consents are created and revoked, never changed or deleted (a signed consent is immutable). Disclosures
are read-only here: they are written only by patients.consent.services.disclose (including, automatically,
for reads by outside API clients — see api.base.ClinicViewSet.disclosure_guard).
"""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.base import ClinicViewSet
from api.lookups import resolve_in_clinic
from clinic.tenancy.context import clinic_today
from clinic.tenancy.roles import Perm
from patients.consent import rules
from patients.consent.models import Consent, Disclosure, Recipient
from patients.consent.services import (
    CONSENT_FIELDS,
    RECIPIENT_FIELDS,
    SIGNATURE_FIELDS,
    consent_create,
    consent_revoke,
    recipient_create,
)
from patients.models import Patient


class RecipientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Recipient
        fields = ("id", *RECIPIENT_FIELDS, "is_active", "created_at")
        read_only_fields = ("id", "is_active", "created_at")

    def create(self, validated_data):
        return recipient_create(actor=self.context["request"].user, fields=validated_data)


class ConsentSerializer(serializers.ModelSerializer):
    patient = serializers.UUIDField(source="patient_id")
    recipients = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=50,
        write_only=True,
        help_text="Ids of named recipients (see /recipients/).",
    )
    information_categories = serializers.ListField(
        child=serializers.ChoiceField(choices=list(rules.CATEGORIES.items())),
        allow_empty=False,
        max_length=20,
    )
    status = serializers.SerializerMethodField()
    named_recipients = serializers.SerializerMethodField()

    class Meta:
        model = Consent
        fields = (
            "id",
            "patient",
            "recipients",
            "named_recipients",
            *CONSENT_FIELDS,
            *SIGNATURE_FIELDS,
            "expiry_event_on",
            "status",
            "revoked_on",
            "revocation_method",
            "revocation_reason",
            "created_at",
        )
        read_only_fields = (
            "id",
            "expiry_event_on",
            "status",
            "revoked_on",
            "revocation_method",
            "revocation_reason",
            "created_at",
        )
        extra_kwargs = {"disclosing_party": {"required": False}}

    def get_status(self, obj: Consent) -> str:
        return obj.status_on(clinic_today())

    @extend_schema_field(serializers.ListField(child=serializers.UUIDField()))
    def get_named_recipients(self, obj: Consent) -> list[str]:
        return [str(link.recipient_id) for link in obj.recipient_links.all()]

    def create(self, validated_data):
        patient = resolve_in_clinic(Patient, validated_data.pop("patient_id"), "patient")
        recipients = [
            resolve_in_clinic(Recipient, pk, "recipients") for pk in validated_data.pop("recipients", [])
        ]
        return consent_create(
            actor=self.context["request"].user, patient=patient, fields=validated_data, recipients=recipients
        )


class RevokeSerializer(serializers.Serializer):
    revoked_on = serializers.DateField(required=False, help_text="Defaults to today (clinic time).")
    revocation_method = serializers.ChoiceField(choices=Consent.RevocationMethod.choices, default="written")
    revocation_reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class RevocationSerializer(serializers.Serializer):
    revocable = serializers.BooleanField()
    written_only = serializers.BooleanField(help_text="A TPO consent is revoked in writing (§2.33(a)(2)).")
    revoked_on = serializers.DateField(allow_null=True)
    revocation_method = serializers.CharField(allow_blank=True)


class DisclosureSerializer(serializers.ModelSerializer):
    class Meta:
        model = Disclosure
        fields = (
            "id",
            "patient",
            "recipient",
            "consent",
            "purpose",
            "information_categories",
            "channel",
            "disclosed_at",
            "disclosed_by_label",
            "description",
            "document_sha256",
        )
        read_only_fields = fields


class ConsentFilter(django_filters.FilterSet):
    # Declared explicitly: django-filter's automatic fields query the (scoped) manager at import time.
    patient = django_filters.UUIDFilter(field_name="patient_id")
    purpose = django_filters.ChoiceFilter(choices=list(rules.PURPOSES.items()))

    class Meta:
        model = Consent
        fields: tuple = ()


class DisclosureFilter(django_filters.FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient_id")
    since = django_filters.IsoDateTimeFilter(field_name="disclosed_at", lookup_expr="gte")

    class Meta:
        model = Disclosure
        fields: tuple = ()


class RecipientViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ClinicViewSet
):
    model = Recipient
    serializer_class = RecipientSerializer
    patient_lookup = None  # a recipient is not patient data
    action_perms = {
        "list": Perm.CONSENT_VIEW,
        "retrieve": Perm.CONSENT_VIEW,
        "create": Perm.CONSENT_MANAGE,
    }


class ConsentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ClinicViewSet
):
    model = Consent
    serializer_class = ConsentSerializer
    filterset_class = ConsentFilter
    action_perms = {
        "list": Perm.CONSENT_VIEW,
        "retrieve": Perm.CONSENT_VIEW,
        "create": Perm.CONSENT_MANAGE,
        "revocation": Perm.CONSENT_VIEW,
        "revoke": Perm.CONSENT_MANAGE,
    }

    def refine_queryset(self, queryset):
        return queryset.prefetch_related("recipient_links")

    @extend_schema(responses=RevocationSerializer, summary="Whether and how this consent can be revoked")
    @action(detail=True, methods=["get"], url_path="revoke")
    def revocation(self, request, pk=None, **kwargs) -> Response:
        consent = self.get_object()
        return Response(
            RevocationSerializer(
                {
                    "revocable": consent.is_signed and consent.revoked_on is None,
                    "written_only": consent.purpose == "tpo",
                    "revoked_on": consent.revoked_on,
                    "revocation_method": consent.revocation_method,
                }
            ).data
        )

    @extend_schema(request=RevokeSerializer, responses=ConsentSerializer, summary="Revoke the consent")
    @revocation.mapping.post
    def revoke(self, request, pk=None, **kwargs) -> Response:
        """Append the revocation (nothing is deleted). A TPO consent is revoked in writing."""
        consent = self.get_object()
        body = RevokeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            consent = consent_revoke(
                actor=request.user,
                consent=consent,
                revoked_on=data.get("revoked_on") or clinic_today(),
                method=data["revocation_method"],
                reason=data["revocation_reason"],
            )
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from error
        consent = self.get_queryset().get(pk=consent.pk)
        return Response(
            ConsentSerializer(consent, context=self.get_serializer_context()).data, status=status.HTTP_200_OK
        )


class DisclosureViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicViewSet):
    model = Disclosure
    serializer_class = DisclosureSerializer
    filterset_class = DisclosureFilter
    action_perms = {"list": Perm.DISCLOSURE_VIEW, "retrieve": Perm.DISCLOSURE_VIEW}
