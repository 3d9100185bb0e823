"""The patient record core. Intake, insurance and consent (a later issue) extend it."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Upper

from clinic.tenancy.models import TenantModel
from patients.levels_of_care import CHOICES as LEVEL_CHOICES
from patients.validators import mrn_validator, name_validator, phone_validator, validate_date_of_birth


class Patient(TenantModel):
    class Status(models.TextChoices):
        INTAKE = "intake", "In intake"
        ACTIVE = "active", "Active"
        ON_HOLD = "on_hold", "On hold"
        DISCHARGED = "discharged", "Discharged"

    class SexAtBirth(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        INTERSEX = "intersex", "Intersex"
        UNKNOWN = "unknown", "Unknown / not disclosed"

    mrn = models.CharField(
        "MRN", max_length=20, validators=[mrn_validator], help_text="Clinic medical record number"
    )
    first_name = models.CharField(max_length=100, validators=[name_validator])
    last_name = models.CharField(max_length=100, validators=[name_validator])
    preferred_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField(validators=[validate_date_of_birth])
    sex_at_birth = models.CharField(max_length=10, choices=SexAtBirth.choices, default=SexAtBirth.UNKNOWN)
    pronouns = models.CharField(max_length=40, blank=True)
    phone = models.CharField(max_length=30, blank=True, validators=[phone_validator])
    email = models.EmailField(blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.INTAKE)

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "mrn"], name="patient_mrn_unique_per_clinic")
        ]
        indexes = [
            models.Index("clinic", Upper("last_name"), Upper("first_name"), name="patient_clinic_name"),
            models.Index(fields=["clinic", "status"], name="patient_clinic_status"),
            models.Index(fields=["clinic", "updated_at"], name="patient_clinic_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.mrn})"

    @property
    def display_name(self) -> str:
        first = self.preferred_name or self.first_name
        return f"{first} {self.last_name}"


class CareEpisode(TenantModel):
    """One stretch of treatment at one level of care (PHP → IOP → outpatient step-down).

    Episodes are closed, never edited away: a step-down ends one episode and opens the next, so the
    history of levels and the reasons for each change stay readable.
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="care_episodes")
    level = models.CharField(max_length=8, choices=LEVEL_CHOICES)
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    start_reason = models.CharField(max_length=500, blank=True)
    end_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["started_on", "created_at"]
        indexes = [models.Index(fields=["clinic", "patient", "started_on"], name="episode_clinic_patient")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ended_on__isnull=True) | models.Q(ended_on__gte=models.F("started_on")),
                name="episode_ends_after_start",
            ),
            models.UniqueConstraint(
                fields=["clinic", "patient"],
                condition=models.Q(ended_on__isnull=True),
                name="episode_one_open_per_patient",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} from {self.started_on}"
