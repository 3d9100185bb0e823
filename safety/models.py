"""Safety alerts, their history, and each clinic's alert settings.

An Alert is one event a rule found (UNIQUE (clinic, dedup_key): finding it again adds nothing). Its
lifecycle is open → acknowledged → resolved (with a note) or dismissed (with a reason); resolved and
dismissed are final. AlertEvent is the append-only history shown on the alert page (who did what when,
including escalations and emails); every change is also in the audit trail.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from clinic.tenancy.models import TenantModel
from patients.models import Patient
from safety import rules_catalogue


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MODERATE = "moderate", "Moderate"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class Alert(TenantModel):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"

    Severity = Severity
    FINAL = (Status.RESOLVED, Status.DISMISSED)

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="alerts")
    rule_id = models.CharField(max_length=64)
    severity = models.CharField(max_length=12, choices=Severity.choices)
    title = models.CharField(max_length=200)
    evidence = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=1000, help_text="The rule's source, as the catalogue cited it")
    dedup_key = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    raised_at = models.DateTimeField(default=timezone.now)
    occurred_at = models.DateTimeField(help_text="When the fact the rule fired on happened")
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismiss_reason = models.TextField(blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True, help_text="New-alert email claimed")
    escalation_notified_at = models.DateTimeField(null=True, blank=True, help_text="Escalation email claimed")

    class Meta:
        ordering = ["-raised_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "dedup_key"], name="alert_one_per_event"),
            models.CheckConstraint(
                condition=models.Q(severity__in=Severity.values), name="alert_severity_known"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="resolved")
                | (models.Q(resolved_at__isnull=False) & ~models.Q(resolution_note="")),
                name="alert_resolved_has_note",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="dismissed")
                | (models.Q(dismissed_at__isnull=False) & ~models.Q(dismiss_reason="")),
                name="alert_dismissed_has_reason",
            ),
        ]
        indexes = [
            # The API list's page order (api.pagination), read within the clinic: no sort of its rows.
            models.Index(fields=["clinic", "created_at", "id"], name="alert_clinic_created"),
            models.Index(fields=["clinic", "status", "severity", "raised_at"], name="alert_inbox"),
            models.Index(fields=["clinic", "patient", "raised_at"], name="alert_patient"),
            models.Index(fields=["clinic", "updated_at"], name="alert_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_severity_display()}, {self.get_status_display()})"

    @property
    def rule(self) -> rules_catalogue.Rule | None:
        try:
            return rules_catalogue.rule(self.rule_id)
        except rules_catalogue.UnknownRule:
            return None  # a rule retired from the catalogue: the alert keeps its stored title and source

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    @property
    def severity_rank(self) -> int:
        return rules_catalogue.severity_rank(self.severity)


class AlertEvent(TenantModel):
    """One step in an alert's history. Append-only (a database trigger refuses UPDATE and DELETE)."""

    class Kind(models.TextChoices):
        RAISED = "raised", "Raised"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        ASSIGNED = "assigned", "Assigned"
        UNASSIGNED = "unassigned", "Unassigned"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"
        ESCALATED = "escalated", "Escalated"
        NOTIFIED = "notified", "Emailed on-call staff"
        NOT_NOTIFIED = "not_notified", "Not emailed"

    append_only = True

    alert = models.ForeignKey(Alert, on_delete=models.PROTECT, related_name="events")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=254, blank=True, help_text="Empty: done by Stepdown itself")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "created_at"]
        indexes = [models.Index(fields=["clinic", "alert", "at"], name="alertevent_alert")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d %H:%M}"


def _default_escalate_minutes() -> int:
    return rules_catalogue.defaults().escalate_after_minutes


def _default_cutoff():
    return rules_catalogue.defaults().checkin_cutoff


def _default_missed_sessions() -> int:
    return rules_catalogue.defaults().missed_sessions


class SafetySettings(TenantModel):
    """One per clinic, made with the catalogue's defaults the first time it is read."""

    escalate_after_minutes = models.PositiveSmallIntegerField(
        "escalate after (minutes)",
        default=_default_escalate_minutes,
        validators=[
            MinValueValidator(rules_catalogue.defaults().escalate_min),
            MaxValueValidator(rules_catalogue.defaults().escalate_max),
        ],
        help_text="A high or critical alert nobody has acknowledged after this many minutes is escalated: "
        "the on-call staff get a second email and the inbox marks it.",
    )
    checkin_cutoff = models.TimeField(
        "daily check-in cut-off",
        default=_default_cutoff,
        help_text="Clinic time. An enrolled patient with no check-in by then has missed that day's check-in.",
    )
    missed_sessions_in_a_row = models.PositiveSmallIntegerField(
        "missed sessions in a row",
        default=_default_missed_sessions,
        validators=[
            MinValueValidator(rules_catalogue.defaults().missed_sessions_min),
            MaxValueValidator(rules_catalogue.defaults().missed_sessions_max),
        ],
        help_text="A patient who misses this many booked sessions in a row (absent without an excuse) "
        "raises an alert. Excused absences and sessions the clinic cancelled do not count.",
    )
    on_call_user_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    on_call_emails = ArrayField(models.EmailField(), default=list, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name_plural = "safety settings"
        constraints = [models.UniqueConstraint(fields=["clinic"], name="safetysettings_one_per_clinic")]

    def __str__(self) -> str:
        return f"Safety settings ({self.escalate_after_minutes} min, cut-off {self.checkin_cutoff:%H:%M})"
