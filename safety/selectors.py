"""Reads of alerts, their history and the clinic's alert settings. Query counts stay flat: list reads
select the patient and people they show in the same query."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from clinic.tenancy.context import require_clinic
from clinic.tenancy.models import Membership
from clinic.tenancy.roles import Perm
from safety import rules_catalogue
from safety.models import Alert, AlertEvent, SafetySettings

ACTIVE = (Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED)

_SEVERITY_RANK = Case(
    *(When(severity=name, then=Value(rank)) for rank, name in enumerate(rules_catalogue.SEVERITIES)),
    default=Value(-1),
    output_field=IntegerField(),
)


def _with_people(query: QuerySet[Alert]) -> QuerySet[Alert]:
    return query.select_related("patient", "assigned_to", "acknowledged_by", "resolved_by", "dismissed_by")


def open_alerts(*, rule_ids: Iterable[str] | None = None, patient=None) -> QuerySet[Alert]:
    """Alerts still needing someone: open or acknowledged (not yet resolved or dismissed).

    The taper review queue lists patients with an open `withdrawal_trend_rising` alert this way; an
    acknowledged one stays on the queue until it is resolved or dismissed."""
    query = Alert.objects.filter(status__in=ACTIVE)
    if rule_ids is not None:
        query = query.filter(rule_id__in=list(rule_ids))
    if patient is not None:
        query = query.filter(patient_id=getattr(patient, "pk", patient))
    return query.order_by("-raised_at", "id")


# The badge is on every page of the care team: counted once per clinic per TTL, not once per page. The
# services that open or close alerts drop the count (open_alert_count_changed); the TTL bounds what they
# cannot see (a count cached by a request racing the change). The number is the clinic's, the same for every
# member; the template tag shows it only to roles that may see alerts.
OPEN_ALERT_COUNT_TTL_SECONDS = 30


def _open_alert_count_key(clinic_id: int) -> str:
    return f"safety:open-alert-count:{clinic_id}"


def open_alert_count() -> int:
    """Alerts nobody has acknowledged yet (the navigation badge); cached per clinic for up to 30 s."""
    key = _open_alert_count_key(require_clinic().pk)
    count = cache.get(key)
    if count is None:
        count = Alert.objects.filter(status=Alert.Status.OPEN).count()
        cache.set(key, count, OPEN_ALERT_COUNT_TTL_SECONDS)
    return count


def open_alert_count_changed(clinic_id: int) -> None:
    """Alerts were opened or closed: drop the cached badge count now and again once the change commits
    (a page rendered in between would have cached the old count)."""
    key = _open_alert_count_key(clinic_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


@dataclass(frozen=True)
class InboxFilter:
    status: str = "active"  # "active" (open + acknowledged), "all", or one status
    severity: str = ""
    rule_id: str = ""
    assigned_to_id: int | None = None
    patient_id: Any = None


def alert_inbox(filters: InboxFilter) -> QuerySet[Alert]:
    """The inbox: most severe first, newest first within a severity."""
    query = Alert.objects.all()
    if filters.status == "active":
        query = query.filter(status__in=ACTIVE)
    elif filters.status in Alert.Status.values:
        query = query.filter(status=filters.status)
    if filters.severity:
        query = query.filter(severity=filters.severity)
    if filters.rule_id:
        query = query.filter(rule_id=filters.rule_id)
    if filters.assigned_to_id is not None:
        query = query.filter(assigned_to_id=filters.assigned_to_id)
    if filters.patient_id is not None:
        query = query.filter(patient_id=filters.patient_id)
    return _with_people(query).annotate(rank=_SEVERITY_RANK).order_by("-rank", "-raised_at", "id")


def alert_get(*, alert_id) -> Alert:
    return get_object_or_404(_with_people(Alert.objects.all()), pk=alert_id)


def alert_history(*, alert: Alert) -> list[AlertEvent]:
    return list(AlertEvent.objects.filter(alert=alert).select_related("actor").order_by("at", "created_at"))


def patient_alerts(*, patient_id) -> QuerySet[Alert]:
    return _with_people(Alert.objects.filter(patient_id=patient_id)).order_by("-raised_at", "id")


def patient_alert_summary(*, patient_id, limit: int) -> tuple[list[Alert], int]:
    """The patient's alerts still needing someone (most severe first, at most `limit`) and how many there
    are; two queries."""
    active = Alert.objects.filter(patient_id=patient_id, status__in=ACTIVE)
    shown = list(
        _with_people(active).annotate(rank=_SEVERITY_RANK).order_by("-rank", "-raised_at", "id")[:limit]
    )
    return shown, active.count()


# --- settings and people ------------------------------------------------------------------------------
def safety_settings() -> SafetySettings:
    """The clinic's settings, made with the catalogue's defaults the first time they are read."""
    found = SafetySettings.objects.first()
    if found is not None:
        return found
    # ON CONFLICT DO NOTHING: two first reads at once make one row.
    SafetySettings.objects.bulk_create([SafetySettings(clinic=require_clinic())], ignore_conflicts=True)
    return SafetySettings.objects.get()


def alert_staff() -> list:
    """Active members of this clinic whose roles may act on alerts (assignees, on-call choices)."""
    from clinic.tenancy.roles import PERMISSIONS

    roles = [role.value for role in PERMISSIONS[Perm.ALERT_ACT]]
    User = get_user_model()
    return list(
        User.objects.filter(
            is_active=True,
            memberships__clinic=require_clinic(),
            memberships__is_active=True,
            memberships__roles__overlap=roles,
        )
        .distinct()
        .order_by("full_name", "email")
    )


def clinic_members() -> list:
    """Every active member of this clinic (on-call choices: an admin may be on call too)."""
    memberships = (
        Membership.objects.filter(clinic=require_clinic(), is_active=True, user__is_active=True)
        .select_related("user")
        .order_by("user__full_name", "user__email")
    )
    return [membership.user for membership in memberships]


def on_call_recipients(settings: SafetySettings | None = None) -> list[str]:
    """Email addresses to notify: the chosen staff who are still active members, then the extra addresses.
    Deduplicated (case-insensitively), in a stable order."""
    settings = settings or safety_settings()
    User = get_user_model()
    emails = list(
        User.objects.filter(
            pk__in=settings.on_call_user_ids,
            is_active=True,
            memberships__clinic=require_clinic(),
            memberships__is_active=True,
        )
        .order_by("email")
        .values_list("email", flat=True)
    )
    seen: set[str] = set()
    found = []
    for email in [*emails, *settings.on_call_emails]:
        if email.lower() not in seen:
            seen.add(email.lower())
            found.append(email)
    return found


# --- evidence, readably ---------------------------------------------------------------------------------
LABELS = {
    "kind": "Fact",
    "reading_id": "Reading",
    "result_id": "Result",
    "checkin_id": "Check-in",
    "taken_at": "Taken",
    "completed_at": "Completed",
    "submitted_at": "Submitted",
    "local_date": "Day",
    "bp_category": "Blood-pressure category",
    "spo2": "SpO2 (%)",
    "systolic_bp": "Systolic BP (mmHg)",
    "diastolic_bp": "Diastolic BP (mmHg)",
    "heart_rate": "Heart rate (/min)",
    "respiratory_rate": "Respiratory rate (/min)",
    "body_temperature": "Temperature (°C)",
    "body_weight": "Weight (kg)",
    "item_text": "Question",
    "rule": "Rule",
    "observed": "Observed",
    "meaning": "Meaning",
    "reason": "Why",
    "source": "Source",
    "status": "Source status",
}


# Codes that evidence carries as values ("kind"), in words.
VALUE_LABELS = {
    "vital_reading": "Vital-signs reading",
    "instrument_result": "Instrument result",
    "checkin": "Daily check-in",
    "checkin_missed": "No daily check-in",
    "trend": "Score trend",
    "co_prescription": "Medicines taken together",
    "mme": "Opioid dose (morphine milligram equivalents per day)",
    "alcohol_with_benzodiazepine": "Alcohol while on a benzodiazepine",
    "overlapping_fills": "Overlapping benzodiazepine fills",
    "outside_taper_plan": "Benzodiazepine outside the taper plan",
    "fill_above_taper_step": "Fill above the taper plan's current dose",
    "multiple_provider_episode": "Many prescribers and pharmacies",
    # Row kinds of the medication list.
    "dispensation": "PDMP fill",
    "medication": "Medication order",
    "reported": "Reported by the patient",
    "program": "Taper plan (this program)",
}


@dataclass
class EvidenceRow:
    label: str
    text: str = ""
    children: list[EvidenceRow] = field(default_factory=list)


def _label(key: str, overrides: dict[str, str]) -> str:
    if key in overrides:
        return overrides[key]
    if key in LABELS:
        return LABELS[key]
    return key.replace("_", " ").strip().capitalize() or key


def _text(key: str, value: Any, tz) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and key.endswith("_at"):
        moment = parse_datetime(value)
        if moment is not None and moment.tzinfo is not None:
            return timezone.localtime(moment, tz).strftime("%b %-d, %Y %H:%M")
    if isinstance(value, str) and key.endswith(("_date", "day")):
        try:
            return datetime.date.fromisoformat(value).strftime("%b %-d, %Y")
        except ValueError:
            return value
    if key == "kind" and isinstance(value, str):
        return VALUE_LABELS.get(value, value.replace("_", " "))
    if isinstance(value, (str, int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _rows(value: Any, overrides: dict[str, str], tz, key: str = "") -> list[EvidenceRow]:
    if isinstance(value, dict):
        rows = []
        for name, item in value.items():
            if isinstance(item, (dict, list)) and item:
                rows.append(EvidenceRow(_label(name, overrides), children=_rows(item, overrides, tz, name)))
            else:
                rows.append(EvidenceRow(_label(name, overrides), _text(name, item, tz)))
        return rows
    if isinstance(value, list):
        rows = []
        for index, item in enumerate(value, start=1):
            if isinstance(item, dict):
                rows.append(EvidenceRow(f"{index}.", children=_rows(item, overrides, tz)))
            else:
                rows.append(EvidenceRow(f"{index}.", _text(key, item, tz)))
        return rows
    return [EvidenceRow(_label(key, overrides), _text(key, value, tz))]


def evidence_rows(alert: Alert, tz) -> list[EvidenceRow]:
    """The alert's evidence as labelled rows (nested for nested values), times in the clinic's zone."""
    return finding_rows(alert.rule, alert.evidence, tz)


def finding_rows(rule, evidence: dict | None, tz) -> list[EvidenceRow]:
    """Evidence (of an alert, or of a finding not raised yet) as labelled rows."""
    overrides = dict(rule.evidence_labels) if rule is not None else {}
    return _rows(evidence or {}, overrides, tz)
