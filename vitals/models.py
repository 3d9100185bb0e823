"""Vital-sign readings (one value per kind, unit and LOINC stored with it), scored instruments, clinic
thresholds and licensed instrument definitions a clinic loads itself.

Rows are written only by vitals.services (validated by the pure modules classification/scoring/thresholds).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from clinic.tenancy.models import TenantModel
from patients.models import Patient

NOTE_MAX = 2000

# The kind codes of VitalValue (contracts.md) and the field names of vitals/data/vital_signs.json they read.
KIND_TO_DATA = {
    "systolic_bp": "systolic_bp",
    "diastolic_bp": "diastolic_bp",
    "heart_rate": "heart_rate",
    "respiratory_rate": "respiratory_rate",
    "temperature": "body_temperature",
    "spo2": "spo2",
    "weight": "body_weight",
}
DATA_TO_KIND = {data: kind for kind, data in KIND_TO_DATA.items()}
KINDS = tuple(KIND_TO_DATA)


class Source(models.TextChoices):
    CLINIC = "clinic", "Entered at the clinic"
    CHECKIN = "checkin", "Patient check-in"
    API = "api", "API (EHR or other system)"
    DEVICE = "device", "Device"


class VitalReading(TenantModel):
    """One set of vital signs taken together, with its classification (computed when it was recorded)."""

    class Position(models.TextChoices):
        SITTING = "sitting", "Sitting"
        STANDING = "standing", "Standing"
        LYING = "lying", "Lying"

    class Consciousness(models.TextChoices):
        ALERT = "A", "Alert"
        CONFUSION = "C", "New confusion"
        VOICE = "V", "Responds to voice"
        PAIN = "P", "Responds to pain"
        UNRESPONSIVE = "U", "Unresponsive"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="vital_readings")
    taken_at = models.DateTimeField()
    taken_by = models.CharField(max_length=200, help_text="Who took the measurements.")
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.CLINIC)
    position = models.CharField(
        "BP position", max_length=10, choices=Position.choices, blank=True, help_text="For blood pressure."
    )
    on_oxygen = models.BooleanField(
        "On supplemental oxygen", null=True, blank=True, help_text="NEWS2 input; empty when not recorded."
    )
    consciousness = models.CharField(
        max_length=1, choices=Consciousness.choices, blank=True, help_text="ACVPU; NEWS2 input."
    )
    note = models.TextField(blank=True, max_length=NOTE_MAX)
    # Classification at the time of recording (from vitals.classification, clinic thresholds applied).
    bp_category = models.CharField(max_length=16, blank=True)
    bp_category_label = models.CharField(max_length=60, blank=True)
    news2_score = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Only when all 7 inputs exist."
    )
    news2_risk = models.CharField(max_length=16, blank=True)
    news2_partial = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Sum of the NEWS2 sub-scores present (a floor when inputs are missing).",
    )
    flags = ArrayField(
        models.CharField(max_length=64),
        default=list,
        blank=True,
        help_text="Ids of the threshold checks this reading crossed (vitals/data/vital_signs.json).",
    )

    class Meta:
        ordering = ["-taken_at", "-created_at"]
        indexes = [
            models.Index(fields=["clinic", "patient", "taken_at"], name="vitalreading_patient_time"),
            # The safety sweep reads a clinic's rows written since its look-back window; with `id`, the API
            # list's page order (api.pagination) too, without a sort.
            models.Index(fields=["clinic", "created_at", "id"], name="vitalreading_clinic_created_id"),
        ]

    def __str__(self) -> str:
        return f"Vitals {self.taken_at:%Y-%m-%d %H:%M}"


class VitalValue(TenantModel):
    """One measured value, with its UCUM unit and LOINC code(s) from the data file."""

    reading = models.ForeignKey(VitalReading, on_delete=models.CASCADE, related_name="values")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=[(k, k.replace("_", " ")) for k in KINDS])
    value = models.DecimalField(max_digits=6, decimal_places=1)
    unit = models.CharField(max_length=16, help_text="UCUM")
    loinc = models.CharField(max_length=10, help_text="Primary LOINC code")
    loinc_codes = ArrayField(models.CharField(max_length=10), default=list, help_text="All LOINC codings")
    taken_at = models.DateTimeField()
    confirmed_unusual = models.BooleanField(
        default=False, help_text="Outside the usual range; the person entering it confirmed it."
    )

    class Meta:
        ordering = ["taken_at"]
        indexes = [
            models.Index(
                fields=["clinic", "patient", "kind", "taken_at"], name="vitalvalue_patient_kind_time"
            )
        ]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "reading", "kind"], name="vitalvalue_one_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.value} {self.unit}"


class InstrumentResult(TenantModel):
    """A scored instrument (CIWA-B, PHQ-9, GAD-7, or a clinic's licensed one) with every item answer kept."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="instrument_results")
    instrument = models.CharField(max_length=40)
    instrument_name = models.CharField(max_length=40, help_text="Short name at the time of scoring.")
    instrument_version = models.CharField(max_length=200)
    answers = models.JSONField(help_text="{item_id: answer} as given")
    item_scores = models.JSONField(default=dict, help_text="{item_id: score} after reverse-scoring")
    total = models.DecimalField(max_digits=7, decimal_places=2)
    band = models.CharField(max_length=40)
    band_label = models.CharField(max_length=80)
    flags = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    flag_details = models.JSONField(
        default=list,
        blank=True,
        help_text="[{flag, rule, label, severity, reason, evidence, source, status}]",
    )
    loinc_total = models.CharField(max_length=10, blank=True)
    completed_at = models.DateTimeField()
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.CLINIC)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-completed_at", "-created_at"]
        indexes = [
            models.Index(
                fields=["clinic", "patient", "instrument", "completed_at"], name="instresult_patient_time"
            ),
            # The safety sweep's look-back window and the API list's page order (api.pagination).
            models.Index(fields=["clinic", "created_at", "id"], name="instresult_clinic_created_id"),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_name} {self.total:g} ({self.band_label})"


class VitalThresholdSettings(TenantModel):
    """A clinic's tighten-only overrides of the reference thresholds (validated by vitals.thresholds)."""

    overrides = models.JSONField(
        default=dict, blank=True, help_text='{"checks": {id: {"value": v}}, "usual": {vital: {"min", "max"}}}'
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name_plural = "vital threshold settings"
        constraints = [models.UniqueConstraint(fields=["clinic"], name="vitalthresholds_one_per_clinic")]

    def __str__(self) -> str:
        return "Vital thresholds"


class ClinicInstrument(TenantModel):
    """A licensed instrument definition a clinic loaded itself (e.g. the ISI filled from its licensed copy).

    The JSON passes vitals.scoring.load_definition; built-ins stay files in vitals/instruments/.
    """

    instrument = models.CharField(max_length=40)
    definition = models.JSONField()
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "instrument"], name="clinicinstrument_one_per_id")
        ]

    def __str__(self) -> str:
        return self.instrument
