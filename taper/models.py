"""Taper plans as stored: a plan, its immutable versions (each a full dated schedule), and doses taken.

The schedule itself is computed by the pure engine (taper/engine.py); a version stores the engine's
inputs *and* its output, so an old version stays readable exactly as it was approved even if the
catalogue or the engine changes later. Past steps are copied into a new version unchanged; only the
future is recomputed (see taper/revisions.py `revise`).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from clinic.tenancy.models import TenantModel
from patients.models import Patient
from taper.catalogue import EquivalenceTable, FormKind, Split
from taper.engine import LiquidUse, Phase, Strategy

TABLE_CHOICES = [(t.value, t.label) for t in EquivalenceTable]
DOSE_DIGITS = {"max_digits": 9, "decimal_places": 3}


class TaperSettings(TenantModel):
    """One per clinic: the equivalence table a new plan starts from (a psychiatrist may choose per plan)."""

    default_table = models.CharField(
        max_length=16, choices=TABLE_CHOICES, default=EquivalenceTable.ASHTON.value
    )
    default_interval_days = models.PositiveSmallIntegerField(default=14)
    default_rate_percent = models.DecimalField(max_digits=5, decimal_places=2, default=10)
    # The end-of-taper floor (taper/data/taper_rules.json `tail_exemption`): program policy, unverified
    # until a psychiatrist of the clinic confirms it; changing it clears the confirmation.
    tail_floor_de_mg = models.DecimalField(max_digits=5, decimal_places=2, default=2)
    tail_floor_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tail_floor_confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clinic"], name="tapersettings_one_per_clinic")]

    @property
    def tail_floor_confirmed(self) -> bool:
        return self.tail_floor_confirmed_at is not None


class FormularyEntry(TenantModel):
    """The clinic's departures from the catalogue: a catalogue formulation its pharmacies do not stock, or
    a formulation the clinic adds (entered by the clinic, so marked unverified on every schedule)."""

    catalogue_id = models.CharField(
        max_length=64, blank=True, help_text="Catalogue formulation id; blank for a clinic-added formulation."
    )
    stocked = models.BooleanField(default=True)
    # Clinic-added formulations only:
    drug = models.CharField(max_length=40, blank=True)
    kind = models.CharField(
        max_length=16, blank=True, choices=[(k.value, k.value.replace("_", " ")) for k in FormKind]
    )
    strength_mg = models.DecimalField(null=True, blank=True, **DOSE_DIGITS)
    split = models.CharField(max_length=10, blank=True, choices=[(s.value, s.value) for s in Split])
    mg_per_ml = models.DecimalField(null=True, blank=True, **DOSE_DIGITS)
    note = models.CharField(max_length=300, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["drug", "catalogue_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "catalogue_id"],
                condition=~models.Q(catalogue_id=""),
                name="formulary_one_row_per_catalogue_id",
            )
        ]

    @property
    def is_custom(self) -> bool:
        return not self.catalogue_id

    @property
    def formulation_id(self) -> str:
        return self.catalogue_id or f"clinic-{self.pk}"


class TaperPlan(TenantModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PROPOSED = "proposed", "Awaiting approval"
        APPROVED = "approved", "Approved"
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        STOPPED = "stopped", "Stopped"

    OPEN_STATUSES = (Status.DRAFT, Status.PROPOSED, Status.APPROVED, Status.ACTIVE)

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="taper_plans")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    current_version = models.ForeignKey(
        "TaperPlanVersion", null=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True)
    activated_at = models.DateTimeField(null=True)
    held_since = models.DateField(
        null=True, help_text="Set while the taper is paused until a psychiatrist resumes it."
    )
    closed_at = models.DateTimeField(null=True)
    closed_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
            models.Index(fields=["clinic", "created_at", "id"], name="taperplan_clinic_created"),
            models.Index(fields=["clinic", "status", "patient"], name="taperplan_clinic_status"),
        ]
        constraints = [
            # One open plan per patient: a second draft would leave staff unsure which plan is in force.
            models.UniqueConstraint(
                fields=["clinic", "patient"],
                condition=models.Q(status__in=["draft", "proposed", "approved", "active"]),
                name="taperplan_one_open_per_patient",
            )
        ]

    def __str__(self) -> str:
        return f"Taper plan for {self.patient} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class TaperPlanVersion(TenantModel):
    """An immutable snapshot: the engine inputs, who changed what and why, and the resulting steps."""

    class Change(models.TextChoices):
        CREATED = "created", "Created"
        EDITED = "edited", "Edited"
        HELD = "held", "Held"
        SLOWED = "slowed", "Rate changed"
        RESUMED = "resumed", "Resumed"

    plan = models.ForeignKey(TaperPlan, on_delete=models.PROTECT, related_name="versions")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField()
    change = models.CharField(max_length=12, choices=Change.choices)
    reason = models.TextField(help_text="Why this version was made.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    effective_from = models.DateField(
        help_text="Steps before this date are copied from the previous version."
    )
    # Engine inputs (strings/JSON so the version reads back exactly as entered).
    table = models.CharField(max_length=16, choices=TABLE_CHOICES)
    strategy = models.CharField(
        max_length=16, choices=[(s.value, s.value.replace("_", " ")) for s in Strategy]
    )
    regimen = models.JSONField(help_text="[{drug, dose_mg, time_of_day}] in effect before effective_from.")
    rate_percent = models.DecimalField(max_digits=5, decimal_places=2)
    interval_days = models.PositiveSmallIntegerField()
    substitution_interval_days = models.PositiveSmallIntegerField(null=True)
    slow_rate_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True)
    slow_below_de_mg = models.DecimalField(null=True, **DOSE_DIGITS)
    target_de_mg = models.DecimalField(default=0, **DOSE_DIGITS)
    holds = models.JSONField(default=list, help_text="[{days, at_step|on_date}]")
    formulations = models.JSONField(help_text="Formulation ids available when the schedule was computed.")
    override_reason = models.TextField(blank=True)
    override_steps = ArrayField(
        models.PositiveSmallIntegerField(), default=list, blank=True, help_text="Steps the override accepts."
    )
    liquid = models.CharField(
        max_length=8,
        choices=[(c.value, c.value) for c in LiquidUse],
        default=LiquidUse.CAP.value,
        help_text="When a dose may move to the stocked oral liquid.",
    )
    min_switch_days = models.PositiveSmallIntegerField(null=True, blank=True)
    tail_floor_de_mg = models.DecimalField(null=True, **DOSE_DIGITS)
    high_dose_confirmation = models.CharField(
        max_length=40, blank=True, help_text="What the person saving a high-dose plan typed to confirm it."
    )
    # Engine output summary.
    baseline_de_mg = models.DecimalField(**DOSE_DIGITS)
    end_date = models.DateField()
    final_de_mg = models.DecimalField(**DOSE_DIGITS)
    cap_wording = models.CharField(max_length=300)
    cap_source = models.CharField(max_length=300)
    violations = models.JSONField(default=list)
    unverified = models.JSONField(default=list)
    notes = models.JSONField(default=list)
    # [{code, rule, title, detail, source, steps}]: what the approval page shows above the button.
    warnings = models.JSONField(default=list)
    # [{code, label, outcome, changes, fixes}]: what would keep the requested pace (taper/alternatives.py).
    alternatives = models.JSONField(default=list)
    other_table = models.CharField(max_length=16, blank=True)
    baseline_other_de_mg = models.DecimalField(null=True, **DOSE_DIGITS)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True)
    approval_warnings = models.JSONField(
        default=list, help_text="The warnings shown to the psychiatrist when they approved this version."
    )

    class Meta:
        ordering = ["plan", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "plan", "number"], name="taperversion_number_unique")
        ]
        # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
        indexes = [models.Index(fields=["clinic", "created_at", "id"], name="taperversion_clinic_created")]

    def __str__(self) -> str:
        return f"Version {self.number} ({self.get_change_display()})"

    @property
    def table_label(self) -> str:
        return EquivalenceTable(self.table).label


class TaperStep(TenantModel):
    version = models.ForeignKey(TaperPlanVersion, on_delete=models.CASCADE, related_name="steps")
    plan = models.ForeignKey(TaperPlan, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    index = models.PositiveSmallIntegerField()
    phase = models.CharField(max_length=14, choices=[(p.value, p.value) for p in Phase])
    start = models.DateField()
    end = models.DateField(null=True, help_text="Inclusive; empty for the open-ended last step.")
    daily_de_mg = models.DecimalField(**DOSE_DIGITS)
    window_reduction_percent = models.DecimalField(max_digits=6, decimal_places=2)
    step_percent = models.DecimalField(max_digits=6, decimal_places=2, default=0)
    requested_percent = models.DecimalField(max_digits=6, decimal_places=2, null=True)
    other_table_de_mg = models.DecimalField(null=True, **DOSE_DIGITS)
    delayed_days = models.PositiveSmallIntegerField(default=0)
    # [{drug, time, mg, de_mg, tablets: [[formulation_id, count]], liquid: [formulation_id, ml] | null}]
    doses = models.JSONField()
    # [{formulation_id, description, tablets, ml, unverified}]
    dispense = models.JSONField(default=list)
    flags = ArrayField(models.CharField(max_length=24), default=list, blank=True)

    class Meta:
        ordering = ["version", "index"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "version", "index"], name="taperstep_index_unique")
        ]
        indexes = [
            # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
            models.Index(fields=["clinic", "created_at", "id"], name="taperstep_clinic_created"),
            models.Index(fields=["clinic", "patient", "start"], name="taperstep_clinic_patient_start"),
        ]

    def __str__(self) -> str:
        return f"Step {self.index} from {self.start:%Y-%m-%d}"

    def covers(self, day) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    @property
    def daily_mg_by_drug(self) -> dict[str, str]:
        from decimal import Decimal

        totals: dict[str, Decimal] = {}
        for dose in self.doses:
            totals[dose["drug"]] = totals.get(dose["drug"], Decimal(0)) + Decimal(dose["mg"])
        return {drug: f"{mg.normalize():f}" for drug, mg in totals.items()}  # "10", not "1E+1"


class DoseRecord(TenantModel):
    """What the patient actually took on one day (nurse entry, the patient's check-in, or an EHR)."""

    class Source(models.TextChoices):
        NURSE = "nurse", "Recorded by staff"
        CHECKIN = "checkin", "Patient check-in"
        API = "api", "EHR / API"

    plan = models.ForeignKey(TaperPlan, on_delete=models.PROTECT, related_name="dose_records")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    mg_by_drug = models.JSONField(help_text='{"diazepam": "5"}: total mg taken that day by drug.')
    de_mg = models.DecimalField(**DOSE_DIGITS)
    planned_de_mg = models.DecimalField(null=True, **DOSE_DIGITS)
    as_planned = models.BooleanField(null=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["plan", "day"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "plan", "day"], name="doserecord_one_per_day")
        ]
        indexes = [
            # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
            models.Index(fields=["clinic", "created_at", "id"], name="doserecord_clinic_created"),
            models.Index(fields=["clinic", "patient", "day"], name="doserecord_clinic_patient_day"),
        ]
