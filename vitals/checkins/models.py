"""Patient daily check-ins: the personal link a patient opens on their phone, and what they report.

A `CheckInLink` is reached through a signed token (see selectors.checkin_link_token); the row decides
whether it still works (expiry, revocation). A `CheckIn` is one patient's report for one calendar day
in the clinic's time zone: one per clinic, patient and local day.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from clinic.actors import Actor, ActorKind
from clinic.tenancy.models import TenantModel
from patients.models import Patient
from patients.validators import phone_validator

SCALE_0_10 = [MinValueValidator(0), MaxValueValidator(10)]


class CheckInSettings(TenantModel):
    """One per clinic: the number a patient is told to call when a check-in answer needs the team."""

    care_team_phone = models.CharField(
        "care team phone",
        max_length=30,
        blank=True,
        validators=[phone_validator],
        help_text="Shown to patients whose check-in says “Call your care team today”.",
    )
    care_team_hours = models.CharField(
        "when the team answers",
        max_length=200,
        blank=True,
        help_text="For example “Mon–Fri 8am–6pm; after hours the on-call nurse answers”.",
    )

    class Meta:
        verbose_name_plural = "check-in settings"
        constraints = [models.UniqueConstraint(fields=["clinic"], name="checkinsettings_one_per_clinic")]


class CheckInLink(TenantModel):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="checkin_links")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoke_reason = models.CharField(max_length=300, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["clinic", "patient", "-created_at"], name="checkinlink_clinic_patient"),
            # The missed-check-in sweep: links in force (not revoked) by expiry.
            models.Index(
                fields=["clinic", "expires_at"],
                condition=models.Q(revoked_at__isnull=True),
                name="checkinlink_clinic_live",
            ),
        ]

    def __str__(self) -> str:
        return f"Check-in link {self.short_id}"

    @property
    def short_id(self) -> str:
        return self.pk.hex[:8]

    def as_actor(self) -> Actor:
        """Who acts when the patient uses the link: the link itself, with no staff roles."""
        return Actor(kind=ActorKind.PATIENT_LINK, label=f"patient check-in link {self.short_id}", roles=())

    def status_at(self, when=None) -> str:
        when = when or timezone.now()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= when:
            return "expired"
        return "active"

    @property
    def status(self) -> str:
        return self.status_at()


class CheckIn(TenantModel):
    class DoseStatus(models.TextChoices):
        AS_PLANNED = "taken_as_planned", "Took it as planned"
        LESS = "took_less", "Took less"
        MORE = "took_more", "Took more"
        MISSED = "missed", "Missed it"
        NO_PLAN = "no_plan", "No taper plan"

    class SleepQuality(models.TextChoices):
        GOOD = "good", "Good"
        FAIR = "fair", "Fair"
        POOR = "poor", "Poor"

    class Guidance(models.TextChoices):
        NONE = "", "None"
        CALL_TEAM = "call_team", "Call the care team today"
        EMERGENCY = "emergency", "Emergency: call 911 / 988"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="checkins")
    link = models.ForeignKey(CheckInLink, on_delete=models.PROTECT, related_name="checkins")
    local_date = models.DateField(help_text="The clinic's calendar day the check-in belongs to.")
    submitted_at = models.DateTimeField()
    dose_status = models.CharField(max_length=16, choices=DoseStatus.choices)
    planned_mg_by_drug = models.JSONField(
        default=dict,
        blank=True,
        help_text='The plan for that day, as shown to the patient: {"diazepam": "10"}.',
    )
    dose_mg_by_drug = models.JSONField(
        default=dict, blank=True, help_text="What the patient says they took, when less or more than planned."
    )
    symptoms = models.JSONField(default=dict, help_text="{item id: rating 0-3} of the short form.")
    red_flags = models.JSONField(default=dict, help_text="{question id: yes/no}.")
    symptom_form_version = models.CharField(max_length=16)
    symptom_score = models.PositiveSmallIntegerField()
    sleep_hours = models.DecimalField(
        max_digits=3, decimal_places=1, validators=[MinValueValidator(0), MaxValueValidator(24)]
    )
    sleep_quality = models.CharField(max_length=8, choices=SleepQuality.choices)
    anxiety = models.PositiveSmallIntegerField(validators=SCALE_0_10)
    cravings = models.PositiveSmallIntegerField(validators=SCALE_0_10)
    alcohol = models.BooleanField()
    other_drugs = models.BooleanField()
    other_drugs_text = models.CharField(max_length=300, blank=True)
    free_text = models.TextField(blank=True, max_length=2000)
    guidance = models.CharField(max_length=12, choices=Guidance.choices, blank=True)
    guidance_version = models.CharField(max_length=16)
    flags = ArrayField(models.CharField(max_length=40), default=list, blank=True)

    class Meta:
        ordering = ["-local_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "patient", "local_date"], name="checkin_one_per_patient_day"
            ),
            models.CheckConstraint(
                condition=models.Q(anxiety__lte=10) & models.Q(cravings__lte=10), name="checkin_scales_0_10"
            ),
        ]
        indexes = [
            # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
            models.Index(fields=["clinic", "created_at", "id"], name="checkin_clinic_created"),
            models.Index(fields=["clinic", "local_date"], name="checkin_clinic_day"),
            models.Index(fields=["clinic", "updated_at"], name="checkin_clinic_updated"),
        ]

    def __str__(self) -> str:
        return f"Check-in {self.local_date:%Y-%m-%d}"
