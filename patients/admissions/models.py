"""Inquiries: a person who called (or was referred) about care, before they are a patient.

The stage rules live in `stages.py`; these tables only hold where each inquiry is and how it got there.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils import timezone

from clinic.tenancy.models import TenantModel
from patients.admissions import stages
from patients.admissions.substances import BENZODIAZEPINES, OTHER_SUBSTANCES
from patients.levels_of_care import CHOICES as LEVEL_CHOICES
from patients.models import Patient
from patients.validators import name_validator, phone_validator, validate_date_of_birth

REASON_MAX_LENGTH = 2000
NOTE_MAX_LENGTH = 500


class Inquiry(TenantModel):
    class ReferralSource(models.TextChoices):
        SELF = "self", "Self"
        FAMILY = "family", "Family or friend"
        PRIMARY_CARE = "primary_care", "Primary care"
        PSYCHIATRIST = "psychiatrist", "Psychiatrist"
        HOSPITAL = "hospital", "Hospital / ED"
        COURT = "court", "Court"
        EAP = "eap", "Employee assistance program (EAP)"
        OTHER = "other", "Other"

    class Relationship(models.TextChoices):
        SELF = "self", "The prospective patient"
        SPOUSE = "spouse", "Spouse or partner"
        PARENT = "parent", "Parent"
        CHILD = "child", "Adult child"
        SIBLING = "sibling", "Sibling"
        OTHER_FAMILY = "other_family", "Other family member"
        OTHER = "other", "Other"

    class ClosedReason(models.TextChoices):
        HIGHER_LEVEL = (
            "higher_level",
            "Needs a higher level of care (medically managed withdrawal, inpatient)",
        )
        LOWER_LEVEL = "lower_level", "Outpatient care is enough"
        NOT_COVERED = "not_covered", "Not covered / out of network"
        CLINICAL_FIT = "clinical_fit", "Primary need is outside this program"
        LOGISTICS = "logistics", "Distance or schedule"
        PATIENT_DECLINED = "patient_declined", "Prospective patient declined"
        NO_CONTACT = "no_contact", "Could not be reached"
        COST = "cost", "Cost"
        OTHER = "other", "Other (explain in the note)"

    referral_source = models.CharField(max_length=20, choices=ReferralSource.choices)
    referral_detail = models.CharField(
        max_length=200, blank=True, help_text="Who referred, e.g. the practice or the court program."
    )

    contact_name = models.CharField("contact's name", max_length=200, validators=[name_validator])
    contact_relationship = models.CharField(
        "contact is", max_length=20, choices=Relationship.choices, default=Relationship.SELF
    )
    contact_phone = models.CharField(
        "contact's phone", max_length=30, blank=True, validators=[phone_validator]
    )
    contact_email = models.EmailField("contact's e-mail", blank=True)

    first_name = models.CharField(max_length=100, validators=[name_validator])
    last_name = models.CharField(max_length=100, validators=[name_validator])
    date_of_birth = models.DateField(null=True, blank=True, validators=[validate_date_of_birth])
    phone = models.CharField(max_length=30, blank=True, validators=[phone_validator])
    email = models.EmailField(blank=True)

    reason = models.TextField(
        "reason for seeking care",
        max_length=REASON_MAX_LENGTH,
        blank=True,
        validators=[MaxLengthValidator(REASON_MAX_LENGTH)],
    )
    other_substances = ArrayField(
        models.CharField(max_length=12, choices=OTHER_SUBSTANCES), default=list, blank=True
    )
    other_substances_note = models.CharField(max_length=NOTE_MAX_LENGTH, blank=True)

    stage = models.CharField(max_length=20, choices=stages.CHOICES, default=stages.Stage.NEW)
    stage_entered_at = models.DateTimeField(default=timezone.now)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_reason = models.CharField(max_length=20, choices=ClosedReason.choices, blank=True)
    closed_note = models.CharField(max_length=NOTE_MAX_LENGTH, blank=True)
    intake_at = models.DateTimeField("intake appointment", null=True, blank=True)
    level_of_care = models.CharField(
        max_length=8, choices=LEVEL_CHOICES, blank=True, help_text="Recommended at assessment; admitted to."
    )
    admitted_on = models.DateField(null=True, blank=True)
    patient = models.ForeignKey(
        Patient, null=True, blank=True, on_delete=models.PROTECT, related_name="inquiries"
    )

    class Meta:
        ordering = ["stage_entered_at", "created_at"]
        verbose_name_plural = "inquiries"
        indexes = [
            # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
            models.Index(fields=["clinic", "created_at", "id"], name="inquiry_clinic_created"),
            models.Index(fields=["clinic", "stage", "stage_entered_at"], name="inquiry_clinic_stage"),
            models.Index(fields=["clinic", "updated_at"], name="inquiry_clinic_updated"),
            models.Index(fields=["clinic", "patient"], name="inquiry_clinic_patient"),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.get_stage_display()})"

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def other_substance_labels(self) -> list[str]:
        labels = dict(OTHER_SUBSTANCES)
        return [labels.get(code, code) for code in self.other_substances]

    @property
    def stage_enum(self) -> stages.Stage:
        return stages.Stage(self.stage)

    @property
    def is_open(self) -> bool:
        return stages.is_open(self.stage)


class ReportedBenzodiazepine(TenantModel):
    """A benzodiazepine and daily dose as the caller reported them (not a verified medication list)."""

    inquiry = models.ForeignKey(Inquiry, on_delete=models.CASCADE, related_name="benzodiazepines")
    drug = models.CharField(max_length=20, choices=BENZODIAZEPINES)
    daily_dose_mg = models.DecimalField("daily dose (mg)", max_digits=7, decimal_places=2)

    class Meta:
        ordering = ["created_at", "drug"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "inquiry", "drug"], name="inquiry_benzo_once"),
            models.CheckConstraint(
                condition=models.Q(daily_dose_mg__gt=0), name="inquiry_benzo_dose_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_drug_display()} {self.daily_dose_mg.normalize():f} mg/day"


class InquiryStageChange(TenantModel):
    """One move of an inquiry between stages. Written by the services only, never edited."""

    inquiry = models.ForeignKey(Inquiry, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=20, choices=stages.CHOICES, blank=True)
    to_stage = models.CharField(max_length=20, choices=stages.CHOICES)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=NOTE_MAX_LENGTH, blank=True)

    class Meta:
        ordering = ["changed_at", "created_at"]
        indexes = [models.Index(fields=["clinic", "inquiry", "changed_at"], name="inquiry_change_clinic_inq")]

    def __str__(self) -> str:
        return f"{self.from_stage or '—'} → {self.to_stage}"
