"""Prescribers, medications and PDMP fills over REST, for EHRs that sync them.

Writes go through prescribers.services, so the API refuses exactly what the pages refuse (NPI and DEA check
digits and duplicates, units that do not fit, impossible dates, the stop rules) and every write is audited
there. Reads are audited by the base class. Medications and fills are patient data: an outside system's reads
pass the Part 2 consent gate and are accounted as "medications" information (api.base.ClinicViewSet).

* `/prescribers/` — the registry: list (`q`, `npi`, `dea`, `is_active`, `updated_since`), read, create and
  PATCH. The registry is not patient data.
* `/medications/` — orders and statements. A POST without `identifier` records one entered by staff (201).
  A POST with `identifier: {system, value}` is the EHR upsert: the first time it creates the medication
  (201), afterwards it sets the fields sent on the same one (200); an identifier that is another patient's
  medication is 409. PATCH corrects fields; `/medications/{id}/stop/` answers GET with whether it can be
  stopped and stops it on POST. Each row carries its MME/day, computed as the medication list computes it.
* `/dispensations/` — PDMP fills, read-only (they arrive by PDMP import), with their import's provenance.

Medications and fills page oldest change first on their (clinic, updated_at, id) indexes: a sync walks the
cursor to the end and sends the time it started as the next `updated_since`.
"""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.fields import SkipField
from rest_framework.response import Response

from api.base import ClinicViewSet
from api.lookups import resolve_in_clinic
from api.mixins import ParentIsFixed, PartialUpdateOnly
from api.pagination import StableCursorPagination, SyncCursorPagination
from clinic.tenancy.context import clinic_today
from clinic.tenancy.roles import Perm
from patients.models import Patient
from prescribers import identifiers, services
from prescribers.models import DRUG_CLASS_CHOICES, Dispensation, Medication, PdmpImport, Pharmacy, Prescriber
from prescribers.selectors import line_of, prescriber_list

# What a read of medications or fills discloses to an outside system (42 CFR Part 2 consent category).
MEDICATION_CATEGORIES = ("medications",)
MME_HELP = (
    "Morphine milligram equivalents per day, computed as the medication list computes them (opioids only; "
    "null with `mme_reason` when it cannot be converted)."
)


class IdentifierConflict(serializers.ValidationError):
    """409: the EHR identifier is already another patient's medication; nothing was changed."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "identifier_conflict"


# --- summaries ------------------------------------------------------------------------------------------
class PrescriberSummarySerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)

    class Meta:
        model = Prescriber
        fields = ("id", "display_name", "npi", "dea", "in_program")
        read_only_fields = fields


class PharmacySummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Pharmacy
        fields = ("id", "name", "npi", "ncpdp")
        read_only_fields = fields


# --- prescribers ----------------------------------------------------------------------------------------
class PrescriberSerializer(serializers.ModelSerializer):
    # Wider than the stored 10/9 characters: spaces and dashes are dropped by the service before it checks.
    npi = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        help_text="10 digits starting with 1 or 2, with a valid check digit; unique in the clinic.",
    )
    dea = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        help_text="Two letters and seven digits, with a valid check digit; unique in the clinic.",
    )
    is_active = serializers.BooleanField(
        required=False, help_text="A new prescriber is active; PATCH false to retire one from the registry."
    )
    display_name = serializers.CharField(read_only=True)
    recipient = serializers.UUIDField(
        source="recipient_id",
        read_only=True,
        allow_null=True,
        help_text="The Part 2 recipient (/recipients/) made the first time the clinic writes to them.",
    )

    class Meta:
        model = Prescriber
        fields = (
            "id",
            *services.PRESCRIBER_FIELDS,
            "is_active",
            "display_name",
            "recipient",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "created_at", "updated_at")
        validators: list = []  # the service reports duplicate NPIs and DEA numbers on their fields

    def create(self, validated_data):
        if validated_data.pop("is_active", True) is False:
            raise serializers.ValidationError({"is_active": ["A new prescriber is active; PATCH it after."]})
        return services.prescriber_create(actor=self.context["request"].user, fields=validated_data)

    def update(self, instance, validated_data):
        return services.prescriber_update(
            actor=self.context["request"].user, prescriber=instance, fields=validated_data
        )


class PrescriberFilter(django_filters.FilterSet):
    # Declared explicitly: django-filter's automatic fields query the (scoped) manager at import time.
    q = django_filters.CharFilter(method="filter_q", label="Name, practice, NPI or DEA number")
    npi = django_filters.CharFilter(method="filter_identifier")
    dea = django_filters.CharFilter(method="filter_identifier")
    is_active = django_filters.BooleanFilter()
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Prescriber
        fields: tuple = ()

    def filter_q(self, queryset, name, value: str):
        # The registry's own search (the page's), inactive prescribers included: `is_active` narrows.
        return queryset & prescriber_list(query=value, include_inactive=True)

    def filter_identifier(self, queryset, name, value: str):
        return queryset.filter(**{name: identifiers.clean(value)})


class PrescriberPagination(StableCursorPagination):
    """Name order, on the (clinic, last_name, first_name) index."""

    ordering = ("last_name", "first_name", "id")


class PrescriberViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    PartialUpdateOnly,
    ClinicViewSet,
):
    model = Prescriber
    serializer_class = PrescriberSerializer
    filterset_class = PrescriberFilter
    pagination_class = PrescriberPagination
    patient_lookup = None  # the registry is not patient data
    action_perms = {
        "list": Perm.PRESCRIBER_VIEW,
        "retrieve": Perm.PRESCRIBER_VIEW,
        "create": Perm.PRESCRIBER_MANAGE,
        "partial_update": Perm.PRESCRIBER_MANAGE,
    }


# --- medications ----------------------------------------------------------------------------------------
class MedicationIdentifierSerializer(serializers.Serializer):
    system = serializers.CharField(
        max_length=200, help_text="The EHR's identifier system, e.g. urn:oid:… or https://ehr.example.org/rx"
    )
    value = serializers.CharField(max_length=200)


@extend_schema_field(MedicationIdentifierSerializer)
class IdentifierField(serializers.Field):
    """In: {system, value} (null: none). Out: the EHR identifier, or null for a medication staff entered."""

    def __init__(self, **kwargs) -> None:
        super().__init__(source="*", **kwargs)

    def validate_empty_values(self, data):
        if data is None:
            raise SkipField()  # null: no identifier, as if left out
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        inner = MedicationIdentifierSerializer(data=data)
        inner.is_valid(raise_exception=True)
        return {
            "external_system": inner.validated_data["system"],
            "external_id": inner.validated_data["value"],
        }

    def to_representation(self, medication: Medication):
        if not medication.external_id:
            return None
        return {"system": medication.external_system, "value": medication.external_id}


class _LinkedRecords:
    """`prescriber` and `pharmacy` ids from the body, looked up in the request's clinic only."""

    LINKS = (("prescriber", Prescriber), ("pharmacy", Pharmacy))

    def _resolve_links(self, data: dict, *, patient_id=None) -> tuple[Patient | None, dict]:
        errors: dict = {}
        patient = None
        if patient_id is not None:
            try:
                patient = resolve_in_clinic(Patient, patient_id, "patient")
            except serializers.ValidationError as error:
                errors.update(error.detail)
        for name, model in self.LINKS:
            key = f"{name}_id"
            if key not in data:
                continue
            pk = data.pop(key)
            try:
                data[name] = None if pk is None else resolve_in_clinic(model, pk, name)
            except serializers.ValidationError as error:
                errors.update(error.detail)
        if errors:
            raise serializers.ValidationError(errors)
        return patient, data


class MedicationSerializer(ParentIsFixed, _LinkedRecords, serializers.ModelSerializer):
    parent_field = "patient"
    patient = serializers.UUIDField(source="patient_id", help_text="Set at creation; cannot be changed.")
    identifier = IdentifierField(
        required=False,
        allow_null=True,
        help_text="The EHR's identifier of this order: a POST carrying it creates the medication once and "
        "updates the same one afterwards. Null for a medication entered by staff.",
    )
    prescriber = serializers.UUIDField(
        source="prescriber_id", required=False, allow_null=True, help_text="A prescriber (/prescribers/)."
    )
    prescriber_summary = PrescriberSummarySerializer(source="prescriber", read_only=True, allow_null=True)
    pharmacy = serializers.UUIDField(source="pharmacy_id", required=False, allow_null=True)
    pharmacy_summary = PharmacySummarySerializer(source="pharmacy", read_only=True, allow_null=True)
    start_on = serializers.DateField(required=False, help_text="Defaults to today (clinic).")
    drug_class_label = serializers.CharField(source="class_label", read_only=True)
    source_label = serializers.CharField(source="get_source_display", read_only=True)
    daily_amount = serializers.DecimalField(
        source="_line.daily_amount",
        max_digits=16,
        decimal_places=4,
        read_only=True,
        allow_null=True,
        help_text="Ingredient per day: mg (mcg/hour for a patch), from strength, dose and frequency.",
    )
    mme_per_day = serializers.DecimalField(
        source="_line.mme_per_day",
        max_digits=14,
        decimal_places=2,
        read_only=True,
        allow_null=True,
        help_text=MME_HELP,
    )
    mme_reason = serializers.CharField(source="_line.mme_reason", read_only=True)

    class Meta:
        model = Medication
        fields = (
            "id",
            "patient",
            "identifier",
            "source",
            "source_label",
            "provenance",
            "status",
            "drug_text",
            "rxnorm",
            "ingredient",
            "drug_class",
            "drug_class_label",
            "strength",
            "strength_unit",
            "form",
            "route",
            "dose",
            "dose_unit",
            "doses_per_day",
            "as_needed",
            "sig",
            "indication",
            "quantity",
            "days_supply",
            "written_on",
            "start_on",
            "end_on",
            "prescriber",
            "prescriber_summary",
            "pharmacy",
            "pharmacy_summary",
            "daily_amount",
            "mme_per_day",
            "mme_reason",
            "stopped_on",
            "stop_reason",
            "entered_by_label",
            "created_at",
            "updated_at",
        )
        read_only_fields = (
            "id",
            "source",
            "provenance",
            "status",
            "ingredient",
            "drug_class",
            "stopped_on",
            "stop_reason",
            "entered_by_label",
            "created_at",
            "updated_at",
        )
        validators: list = []  # one medication per EHR identifier: the upsert, not a refusal

    def to_representation(self, instance: Medication):
        instance._line = line_of(instance)  # the medication list's line for this row, for the computed fields
        return super().to_representation(instance)

    def create(self, validated_data):
        actor = self.context["request"].user
        data = dict(validated_data)
        system, external_id = data.pop("external_system", None), data.pop("external_id", None)
        patient, fields = self._resolve_links(data, patient_id=data.pop("patient_id"))
        if external_id is None:
            self.created = True
            return services.medication_create(actor=actor, patient=patient, fields=fields)
        try:
            medication, self.created = services.medication_upsert_from_ehr(
                actor=actor, patient=patient, system=system, external_id=external_id, fields=fields
            )
        except services.IdentifierInUse as error:
            raise IdentifierConflict(error.message_dict) from error
        return medication

    def update(self, instance, validated_data):
        data = self._drop_parent(instance, dict(validated_data))
        sent = (data.pop("external_system", None), data.pop("external_id", None))
        if sent != (None, None) and sent != (instance.external_system, instance.external_id):
            raise serializers.ValidationError({"identifier": ["Cannot be changed after creation."]})
        _, fields = self._resolve_links(data)
        return services.medication_update(
            actor=self.context["request"].user, medication=instance, fields=fields
        )


class MedicationStopSerializer(serializers.Serializer):
    stopped_on = serializers.DateField(required=False, help_text="Defaults to today (clinic).")
    reason = serializers.CharField(
        max_length=300,
        required=False,
        allow_blank=True,
        default="",
        help_text="Why it was stopped (required), e.g. the prescriber agreed to consolidate.",
    )


class MedicationStopStateSerializer(serializers.Serializer):
    stoppable = serializers.BooleanField(
        help_text="Whether a stop is possible now (the medication is active)."
    )
    status = serializers.ChoiceField(choices=Medication.Status.choices)
    stopped_on = serializers.DateField(allow_null=True)
    stop_reason = serializers.CharField(allow_blank=True)
    requires = serializers.ListField(child=serializers.CharField(), help_text="The body fields a stop takes.")


class MedicationFilter(django_filters.FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient_id")
    status = django_filters.ChoiceFilter(choices=Medication.Status.choices)
    drug_class = django_filters.ChoiceFilter(choices=DRUG_CLASS_CHOICES)
    source = django_filters.ChoiceFilter(choices=Medication.Source.choices)
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Medication
        fields: tuple = ()


class MedicationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartialUpdateOnly, ClinicViewSet):
    model = Medication
    serializer_class = MedicationSerializer
    filterset_class = MedicationFilter
    pagination_class = SyncCursorPagination
    disclosure_categories = MEDICATION_CATEGORIES
    action_perms = {
        "list": Perm.MEDICATION_VIEW,
        "retrieve": Perm.MEDICATION_VIEW,
        "create": Perm.MEDICATION_RECORD,
        "partial_update": Perm.MEDICATION_RECORD,
        "stopping": Perm.MEDICATION_VIEW,
        "stop": Perm.MEDICATION_RECORD,
    }

    def refine_queryset(self, queryset):
        # The computed fields read the prescriber and pharmacy: loaded with the rows, one query per page.
        return queryset.select_related("prescriber", "pharmacy")

    def _fresh(self, medication: Medication) -> Medication:
        return self.refine_queryset(Medication.objects.all()).get(pk=medication.pk)

    @extend_schema(
        responses={
            201: MedicationSerializer,
            200: OpenApiResponse(MedicationSerializer, description="EHR upsert: the existing one, updated."),
            409: OpenApiResponse(description="The identifier is another patient's medication."),
        },
        summary="Record a medication, or upsert an EHR's by its identifier",
    )
    def create(self, request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        medication = serializer.save()
        code = status.HTTP_201_CREATED if serializer.created else status.HTTP_200_OK
        return Response(self.get_serializer(self._fresh(medication)).data, status=code)

    @extend_schema(
        responses=MedicationStopStateSerializer, summary="Whether the medication can be stopped now"
    )
    @action(detail=True, methods=["get"], url_path="stop")
    def stopping(self, request, pk=None, **kwargs) -> Response:
        medication = self.get_object()
        body = {
            "stoppable": medication.status == Medication.Status.ACTIVE,
            "status": medication.status,
            "stopped_on": medication.stopped_on,
            "stop_reason": medication.stop_reason,
            "requires": ["stopped_on", "reason"],
        }
        return Response(MedicationStopStateSerializer(body).data)

    @extend_schema(
        request=MedicationStopSerializer,
        responses={200: MedicationSerializer},
        summary="Stop the medication (its last day becomes the stop day)",
    )
    @stopping.mapping.post
    def stop(self, request, pk=None, **kwargs) -> Response:
        medication = self.get_object()  # 404 for another clinic's medication before the body is read
        body = MedicationStopSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        # A refusal (already stopped, no reason, a day outside start…today) is a 400 problem on its field.
        medication = services.medication_stop(
            actor=request.user,
            medication=medication,
            stopped_on=data.get("stopped_on") or clinic_today(),
            reason=data["reason"],
        )
        return Response(self.get_serializer(self._fresh(medication)).data)


# --- dispensations (PDMP fills) ---------------------------------------------------------------------------
class PdmpImportSummarySerializer(serializers.ModelSerializer):
    imported_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = PdmpImport
        fields = (
            "id",
            "state",
            "format",
            "storage_policy",
            "queried_at",
            "transaction_id",
            "imported_at",
            "imported_by_label",
        )
        read_only_fields = fields


class DispensationSerializer(serializers.ModelSerializer):
    patient = serializers.UUIDField(source="patient_id", read_only=True)
    prescriber = serializers.UUIDField(source="prescriber_id", read_only=True, allow_null=True)
    prescriber_summary = PrescriberSummarySerializer(
        source="prescriber",
        read_only=True,
        allow_null=True,
        help_text="Null when the prescriber is not in the registry.",
    )
    pharmacy = serializers.UUIDField(source="pharmacy_id", read_only=True, allow_null=True)
    pharmacy_summary = PharmacySummarySerializer(source="pharmacy", read_only=True, allow_null=True)
    pdmp_import = PdmpImportSummarySerializer(read_only=True, help_text="Where the fill came from.")
    drug_class_label = serializers.CharField(source="class_label", read_only=True)
    mme_per_day = serializers.DecimalField(
        source="_line.mme_per_day",
        max_digits=14,
        decimal_places=2,
        read_only=True,
        allow_null=True,
        help_text=MME_HELP,
    )
    mme_reason = serializers.CharField(source="_line.mme_reason", read_only=True)

    class Meta:
        model = Dispensation
        fields = (
            "id",
            "patient",
            "drug_text",
            "rxnorm",
            "ndc",
            "ingredient",
            "drug_class",
            "drug_class_label",
            "strength",
            "strength_unit",
            "form",
            "quantity",
            "quantity_unit",
            "days_supply",
            "filled_on",
            "written_on",
            "supply_end",
            "daily_amount",
            "fill_number",
            "refills_authorized",
            "rx_number",
            "payment_method",
            "reported_mme",
            "reported_lme",
            "mme_per_day",
            "mme_reason",
            "prescriber",
            "prescriber_summary",
            "prescriber_name",
            "pharmacy",
            "pharmacy_summary",
            "pharmacy_name",
            "pdmp_import",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    def to_representation(self, instance: Dispensation):
        instance._line = line_of(instance)
        return super().to_representation(instance)


class DispensationFilter(django_filters.FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient_id")
    drug_class = django_filters.ChoiceFilter(choices=DRUG_CLASS_CHOICES)
    filled_since = django_filters.DateFilter(field_name="filled_on", lookup_expr="gte")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Dispensation
        fields: tuple = ()


class DispensationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicViewSet):
    """Read-only: fills are facts a state PDMP reported, written only by a PDMP import."""

    model = Dispensation
    serializer_class = DispensationSerializer
    filterset_class = DispensationFilter
    pagination_class = SyncCursorPagination
    disclosure_categories = MEDICATION_CATEGORIES
    action_perms = {"list": Perm.MEDICATION_VIEW, "retrieve": Perm.MEDICATION_VIEW}

    def refine_queryset(self, queryset):
        # One query per page for the summaries; the stored report itself is never read here.
        return queryset.select_related("prescriber", "pharmacy", "pdmp_import").defer(
            "pdmp_import__raw", "pdmp_import__pdf"
        )
