"""Intake assessments (six ASAM dimensions, withdrawal history, level-of-care recommendation) and their
amendments.

A signed assessment never changes: the database refuses UPDATE/DELETE of a signed row (migration 0002),
and later corrections are AssessmentAmendment rows, themselves append-only.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models

from clinic.tenancy.models import TenantModel
from patients.intake import asam
from patients.levels_of_care import CHOICES as LEVEL_CHOICES
from patients.models import Patient

NOTES_MAX = 4000
# TextField's max_length only sizes the form widget; the validator makes full_clean (and the API) enforce it.
notes_validators = [MaxLengthValidator(NOTES_MAX)]
RATING_CHOICES = [(r.value, f"{r.value} · {r.label} — {r.means}") for r in asam.RATINGS]
rating_validators = [MinValueValidator(asam.MIN_RATING), MaxValueValidator(asam.MAX_RATING)]

# Benzodiazepines and Z-drugs of the reference table (clinical_data.json benzodiazepine_equivalence).
BENZODIAZEPINES = (
    "alprazolam", "chlordiazepoxide", "clobazam", "clonazepam", "clorazepate", "diazepam", "estazolam",
    "flurazepam", "lorazepam", "oxazepam", "quazepam", "temazepam", "triazolam", "zolpidem", "zopiclone",
    "eszopiclone", "zaleplon",
)  # fmt: skip
BENZODIAZEPINE_CHOICES = [(name, name.title()) for name in BENZODIAZEPINES] + [
    ("other", "Other (say which in the notes)"),
    ("none", "None currently"),
]


def _rating(number: int) -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(
        f"Dimension {number} risk rating", choices=RATING_CHOICES, validators=rating_validators
    )


def _notes(number: int) -> models.TextField:
    return models.TextField(
        f"Dimension {number} notes", max_length=NOTES_MAX, validators=notes_validators, blank=True
    )


class IntakeAssessment(TenantModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SIGNED = "signed", "Signed"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="intake_assessments")
    assessed_on = models.DateField()
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="assessing clinician",
    )

    d1_rating, d1_notes = _rating(1), _notes(1)
    d2_rating, d2_notes = _rating(2), _notes(2)
    d3_rating, d3_notes = _rating(3), _notes(3)
    d4_rating, d4_notes = _rating(4), _notes(4)
    d5_rating, d5_notes = _rating(5), _notes(5)
    d6_rating, d6_notes = _rating(6), _notes(6)

    prior_withdrawal_attempts = models.PositiveSmallIntegerField(
        "prior benzodiazepine withdrawal attempts", default=0, validators=[MaxValueValidator(99)]
    )
    withdrawal_seizures = models.BooleanField("history of withdrawal seizures", default=False)
    withdrawal_seizures_when = models.CharField("when (seizures)", max_length=200, blank=True)
    withdrawal_delirium = models.BooleanField("history of withdrawal delirium", default=False)
    withdrawal_delirium_when = models.CharField("when (delirium)", max_length=200, blank=True)
    complicated_withdrawal_notes = models.TextField(
        "other complicated withdrawal", max_length=NOTES_MAX, validators=notes_validators, blank=True
    )

    has_depression = models.BooleanField("depression", default=False)
    has_anxiety_panic = models.BooleanField("anxiety / panic", default=False)
    has_ptsd = models.BooleanField("PTSD", default=False)
    has_insomnia = models.BooleanField("insomnia", default=False)
    has_chronic_pain = models.BooleanField("chronic pain", default=False)
    has_bipolar = models.BooleanField("bipolar disorder", default=False)
    suicidality_current = models.BooleanField("suicidality — current", default=False)
    suicidality_past = models.BooleanField("suicidality — past", default=False)
    co_occurring_notes = models.TextField(
        "co-occurring conditions", max_length=NOTES_MAX, validators=notes_validators, blank=True
    )

    current_benzodiazepine = models.CharField(max_length=20, choices=BENZODIAZEPINE_CHOICES)
    daily_dose_mg = models.DecimalField(
        "daily dose (mg) as assessed",
        max_digits=7,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(2000)],
    )

    # What the rules suggested for these ratings (asam.py), kept so the record shows what the clinician saw.
    suggested_level = models.CharField(max_length=8, choices=LEVEL_CHOICES, editable=False)
    recommended_level = models.CharField("recommended level of care", max_length=8, choices=LEVEL_CHOICES)
    rationale = models.TextField(max_length=NOTES_MAX, validators=notes_validators)
    departure_reason = models.TextField(
        "why the recommendation differs from the suggested level",
        max_length=NOTES_MAX,
        validators=notes_validators,
        blank=True,
    )

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT, editable=False)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    signed_at = models.DateTimeField(null=True, blank=True, editable=False)
    content_hash = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-assessed_on", "-created_at"]
        indexes = [
            # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
            models.Index(fields=["clinic", "created_at", "id"], name="intake_clinic_created"),
            models.Index(fields=["clinic", "patient", "-assessed_on"], name="intake_clinic_patient"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="draft", signed_at__isnull=True, content_hash="")
                | models.Q(status="signed", signed_at__isnull=False, signed_by__isnull=False)
                & ~models.Q(content_hash=""),
                name="intake_signed_fields_match_status",
            ),
            *[
                models.CheckConstraint(
                    condition=models.Q(**{f"d{n}_rating__gte": 0, f"d{n}_rating__lte": 4}),
                    name=f"intake_d{n}_rating_0_4",
                )
                for n in asam.DIMENSION_NUMBERS
            ],
        ]

    def __str__(self) -> str:
        return f"Intake assessment {self.assessed_on} ({self.get_status_display()})"

    @property
    def is_signed(self) -> bool:
        return self.status == self.Status.SIGNED


class AssessmentAmendment(TenantModel):
    """A signed change to a signed assessment: the fields it changes and their new values. Append-only."""

    append_only = True  # the database refuses UPDATE/DELETE (clinic.tenancy.rls)

    assessment = models.ForeignKey(IntakeAssessment, on_delete=models.PROTECT, related_name="amendments")
    sequence = models.PositiveSmallIntegerField()
    changes = models.JSONField(help_text="Field name → new value (JSON-safe: dates and decimals as strings)")
    reason = models.TextField(max_length=NOTES_MAX, validators=notes_validators)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()
    # sha256 over this amendment's canonical JSON, which includes the previous hash (the original's, for
    # the first amendment): the chain shows nothing was inserted, removed or reordered.
    content_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "assessment", "sequence"], name="amendment_sequence_unique"
            )
        ]

    def __str__(self) -> str:
        return f"Amendment {self.sequence} to {self.assessment_id}"
