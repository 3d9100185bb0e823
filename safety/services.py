"""The alert pipeline's writes: raising alerts from findings, their lifecycle, and the clinic's settings.

- `alerts_raise` turns findings into alerts with ONE set-based INSERT … ON CONFLICT (clinic_id, dedup_key)
  DO NOTHING, so the same event found twice (on save and again by the sweep, or by a job run twice, or by
  two jobs at once) is one alert.
- Lifecycle: open → acknowledged → resolved (note required) or dismissed (reason required). An open alert
  may be resolved or dismissed straight away (that acknowledges it too). Resolved and dismissed are final.

Every change writes an AlertEvent (the history on the alert page) and an audit event in the same
transaction (`safety.history`). Escalation and email are `safety.notifications`; their writes are
importable from here too.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Iterable, Sequence

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone

from clinic.actors import ActorLike, as_actor
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit, audit_many
from clinic.tenancy.context import require_clinic, tenant_context
from clinic.tenancy.models import Clinic
from patients.models import Patient
from safety import rules_catalogue
from safety.findings import Finding
from safety.history import audit_alert, clinic_time, record_event
from safety.models import Alert, AlertEvent, SafetySettings
from safety.notifications import alert_notify, alerts_escalate_due, alerts_notify_pending, notify_on_commit
from safety.selectors import alert_staff, clinic_members, open_alert_count_changed, safety_settings

Status = Alert.Status
Kind = AlertEvent.Kind
MAX_NOTE = 2000


class IllegalTransition(ValidationError):
    """The alert's state does not allow this (e.g. resolving a dismissed alert). Plain-language message."""

    def __init__(self, message: str) -> None:
        super().__init__({"__all__": [message]})
        self.plain = message


def _person(user) -> str:
    return user.display_name if user is not None else "Stepdown"


# --- raising --------------------------------------------------------------------------------------------
_RAISE_SQL = """
WITH new AS (
    INSERT INTO {alert} (
        id, clinic_id, created_at, updated_at, patient_id, rule_id, severity, title, evidence, source,
        dedup_key, status, raised_at, occurred_at, resolution_note, dismiss_reason
    )
    SELECT f.id, %(clinic)s, %(now)s, %(now)s, f.patient_id, f.rule_id, f.severity, f.title,
           f.evidence::jsonb, f.source, f.dedup_key, 'open', %(now)s, f.occurred_at, '', ''
    FROM unnest(
        %(ids)s::uuid[], %(patients)s::uuid[], %(rules)s::text[], %(severities)s::text[], %(titles)s::text[],
        %(evidence)s::text[], %(sources)s::text[], %(keys)s::text[], %(occurred)s::timestamptz[]
    ) AS f(id, patient_id, rule_id, severity, title, evidence, source, dedup_key, occurred_at)
    ORDER BY f.dedup_key
    ON CONFLICT (clinic_id, dedup_key) DO NOTHING
    RETURNING id, patient_id
), history AS (
    INSERT INTO {event} (id, clinic_id, created_at, updated_at, alert_id, patient_id, kind, at,
                         actor_label, note)
    SELECT gen_random_uuid(), %(clinic)s, %(now)s, %(now)s, new.id, new.patient_id, 'raised', %(now)s, '', ''
    FROM new
)
SELECT id FROM new
"""


def alerts_raise(
    *, clinic: Clinic, findings: Iterable[Finding], now: datetime.datetime | None = None
) -> list[Alert]:
    """Record the findings that are new as open alerts; return only those (an event already alerted on is
    skipped by the unique dedup key, even when another transaction is raising it at the same moment).

    Title, severity and source come from the rule catalogue (an unknown rule id raises UnknownRule). New
    high/critical alerts are emailed to on-call staff after commit."""
    findings = list(findings)
    if not findings:
        return []
    now = now or timezone.now()
    with tenant_context(clinic):
        unique: dict[str, Finding] = {}
        for finding in findings:
            if not isinstance(finding, Finding):
                raise TypeError(f"alerts_raise takes Findings, got {type(finding).__name__}")
            unique.setdefault(finding.dedup_key, finding)
        rules = {rule_id: rules_catalogue.rule(rule_id) for rule_id in {f.rule_id for f in unique.values()}}
        patient_ids = {uuid.UUID(str(f.patient_id)) for f in unique.values()}
        known = set(Patient.objects.filter(pk__in=patient_ids).values_list("pk", flat=True))
        if patient_ids - known:
            raise ValueError(
                f"Findings name patients not in {clinic.slug}: {sorted(map(str, patient_ids - known))}"
            )
        rows = sorted(unique.values(), key=lambda f: f.dedup_key)
        params = {
            "clinic": clinic.pk,
            "now": now,
            "ids": [uuid.uuid4() for _ in rows],
            "patients": [uuid.UUID(str(f.patient_id)) for f in rows],
            "rules": [f.rule_id for f in rows],
            "severities": [rules[f.rule_id].severity for f in rows],
            "titles": [rules[f.rule_id].title for f in rows],
            "evidence": [json.dumps(f.evidence, cls=DjangoJSONEncoder) for f in rows],
            "sources": [rules[f.rule_id].citation[:1000] for f in rows],
            "keys": [f.dedup_key for f in rows],
            "occurred": [f.occurred_at for f in rows],
        }
        sql = _RAISE_SQL.format(
            alert=connection.ops.quote_name(Alert._meta.db_table),
            event=connection.ops.quote_name(AlertEvent._meta.db_table),
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            new_ids = [row[0] for row in cursor.fetchall()]
        if not new_ids:
            return []
        alerts = list(Alert.objects.filter(pk__in=new_ids).order_by("raised_at", "dedup_key"))
        audit_many(
            actor=None,
            action=AuditEvent.Action.CREATE,
            items=[
                {
                    "obj": alert,
                    "patient": alert.patient_id,
                    "detail": {
                        "rule": alert.rule_id,
                        "severity": alert.severity,
                        "dedup_key": alert.dedup_key,
                    },
                }
                for alert in alerts
            ],
        )
        open_alert_count_changed(clinic.pk)
        notify = rules_catalogue.defaults().notify_severities
        notify_on_commit(clinic.pk, [a.pk for a in alerts if a.severity in notify], "new")
        return alerts


# --- lifecycle ------------------------------------------------------------------------------------------
ACTIONS = ("acknowledge", "assign", "resolve", "dismiss")


def alert_problem(alert: Alert, action: str) -> str | None:
    """Why `action` is not possible on the alert now, in plain words; None when it is."""
    if action not in ACTIONS:
        raise ValueError(f"unknown alert action {action!r}")
    if alert.status == Status.RESOLVED:
        return (
            f"This alert was resolved by {_person(alert.resolved_by)} "
            f"on {clinic_time(alert.resolved_at)}; a resolved alert cannot be changed."
        )
    if alert.status == Status.DISMISSED:
        return (
            f"This alert was dismissed by {_person(alert.dismissed_by)} "
            f"on {clinic_time(alert.dismissed_at)}; a dismissed alert cannot be changed."
        )
    if action == "acknowledge" and alert.status == Status.ACKNOWLEDGED:
        return (
            f"This alert was already acknowledged by {_person(alert.acknowledged_by)} "
            f"on {clinic_time(alert.acknowledged_at)}."
        )
    return None


def _locked(alert: Alert) -> Alert:
    return (
        Alert.objects.select_for_update(of=("self",))
        .select_related("acknowledged_by", "resolved_by", "dismissed_by", "assigned_to")
        .get(pk=alert.pk)
    )


def _check(alert: Alert, action: str) -> None:
    problem = alert_problem(alert, action)
    if problem:
        raise IllegalTransition(problem)


def _text(value: str | None, field: str, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationError({field: [what]})
    if len(text) > MAX_NOTE:
        raise ValidationError({field: [f"Keep it under {MAX_NOTE} characters."]})
    return text


def _acknowledge_fields(alert: Alert, actor: ActorLike, now: datetime.datetime) -> list[str]:
    if alert.acknowledged_at is not None:
        return []
    alert.acknowledged_at = now
    alert.acknowledged_by = as_actor(actor).user
    return ["acknowledged_at", "acknowledged_by"]


@transaction.atomic
def alert_acknowledge(*, actor: ActorLike, alert: Alert) -> Alert:
    """Someone has seen the alert and is on it: it stops escalating."""
    alert = _locked(alert)
    _check(alert, "acknowledge")
    now = timezone.now()
    alert.status = Status.ACKNOWLEDGED
    changed = _acknowledge_fields(alert, actor, now)
    alert.save(update_fields=["status", *changed, "updated_at"])
    open_alert_count_changed(alert.clinic_id)
    record_event(alert, Kind.ACKNOWLEDGED, actor=actor, at=now)
    audit_alert(actor, alert.pk, alert.patient_id, "acknowledged")
    return alert


@transaction.atomic
def alert_assign(*, actor: ActorLike, alert: Alert, assignee=None) -> Alert:
    """Give the alert to a member who may act on alerts (None: unassign)."""
    alert = _locked(alert)
    _check(alert, "assign")
    if assignee is not None and assignee.pk not in {user.pk for user in alert_staff()}:
        raise ValidationError(
            {"assigned_to": ["Choose a member of this clinic whose role may act on safety alerts."]}
        )
    if alert.assigned_to_id == getattr(assignee, "pk", None):
        return alert
    alert.assigned_to = assignee
    alert.save(update_fields=["assigned_to", "updated_at"])
    if assignee is None:
        record_event(alert, Kind.UNASSIGNED, actor=actor)
    else:
        record_event(alert, Kind.ASSIGNED, actor=actor, note=f"To {assignee.display_name}")
    audit_alert(actor, alert.pk, alert.patient_id, "assigned", assigned_to=getattr(assignee, "pk", None))
    return alert


def _close(
    alert: Alert,
    actor: ActorLike,
    *,
    action: str,
    status: str,
    kind: str,
    text: str,
    fields: tuple[str, str, str],
):
    """Resolve or dismiss: the alert counts as acknowledged too; who, when and the required text are kept."""
    alert = _locked(alert)
    _check(alert, action)
    now = timezone.now()
    changed = _acknowledge_fields(alert, actor, now)
    at_field, by_field, text_field = fields
    alert.status = status
    setattr(alert, at_field, now)
    setattr(alert, by_field, as_actor(actor).user)
    setattr(alert, text_field, text)
    alert.save(update_fields=["status", *changed, *fields, "updated_at"])
    open_alert_count_changed(alert.clinic_id)
    record_event(alert, kind, actor=actor, note=text, at=now)
    audit_alert(actor, alert.pk, alert.patient_id, status)
    return alert


@transaction.atomic
def alert_resolve(*, actor: ActorLike, alert: Alert, note: str) -> Alert:
    """Close the alert with what was done (the note is required)."""
    note = _text(note, "note", "Say what was done: a resolved alert needs a note.")
    return _close(
        alert,
        actor,
        action="resolve",
        status=Status.RESOLVED,
        kind=Kind.RESOLVED,
        text=note,
        fields=("resolved_at", "resolved_by", "resolution_note"),
    )


@transaction.atomic
def alert_dismiss(*, actor: ActorLike, alert: Alert, reason: str) -> Alert:
    """Close the alert as not needing action (a reason is required, e.g. a mis-typed reading)."""
    reason = _text(reason, "reason", "Say why: a dismissed alert needs a reason.")
    return _close(
        alert,
        actor,
        action="dismiss",
        status=Status.DISMISSED,
        kind=Kind.DISMISSED,
        text=reason,
        fields=("dismissed_at", "dismissed_by", "dismiss_reason"),
    )


_BULK_ACK_SQL = """
WITH done AS (
    UPDATE {alert}
    SET status = 'acknowledged', acknowledged_at = %(now)s, acknowledged_by_id = %(user)s,
        updated_at = %(now)s
    WHERE clinic_id = %(clinic)s AND status = 'open' AND id = ANY(%(ids)s::uuid[])
    RETURNING id, patient_id
), history AS (
    INSERT INTO {event} (id, clinic_id, created_at, updated_at, alert_id, patient_id, kind, at, actor_id,
                         actor_label, note)
    SELECT gen_random_uuid(), %(clinic)s, %(now)s, %(now)s, done.id, done.patient_id, 'acknowledged', %(now)s,
           %(user)s, %(label)s, ''
    FROM done
)
SELECT id, patient_id FROM done
"""


@transaction.atomic
def alerts_acknowledge_bulk(*, actor: ActorLike, alert_ids: Sequence) -> list[uuid.UUID]:
    """Acknowledge every listed alert that is still open, in one UPDATE; return the ids acknowledged.
    Alerts already acknowledged, closed, or not of this clinic are left alone."""
    clinic = require_clinic()
    try:
        ids = sorted({uuid.UUID(str(value)) for value in alert_ids})
    except ValueError as error:
        raise ValidationError({"alerts": ["Choose alerts from the list."]}) from error
    if not ids:
        raise ValidationError({"alerts": ["Choose at least one alert to acknowledge."]})
    user = as_actor(actor).user
    sql = _BULK_ACK_SQL.format(
        alert=connection.ops.quote_name(Alert._meta.db_table),
        event=connection.ops.quote_name(AlertEvent._meta.db_table),
    )
    params = {
        "now": timezone.now(),
        "user": user.pk if user else None,
        "label": as_actor(actor).label,
        "clinic": clinic.pk,
        "ids": ids,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        done = cursor.fetchall()
    open_alert_count_changed(clinic.pk)
    audit_many(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        items=[
            {
                "object_type": Alert._meta.label_lower,
                "object_id": str(alert_id),
                "patient": patient_id,
                "detail": {"event": "acknowledged", "bulk": True},
            }
            for alert_id, patient_id in done
        ],
    )
    return [alert_id for alert_id, _ in done]


# --- settings -------------------------------------------------------------------------------------------
@transaction.atomic
def safety_settings_update(
    *,
    actor: ActorLike,
    escalate_after_minutes: int,
    checkin_cutoff: datetime.time,
    on_call_user_ids: Sequence[int],
    on_call_emails: Sequence[str],
    missed_sessions_in_a_row: int | None = None,
) -> SafetySettings:
    """Save the clinic's alert settings (`missed_sessions_in_a_row` None: left as it is)."""
    current = safety_settings()
    found = SafetySettings.objects.select_for_update().get(pk=current.pk)
    errors: dict[str, list[str]] = {}
    members = {user.pk for user in clinic_members()}
    user_ids = sorted({int(pk) for pk in on_call_user_ids})
    if set(user_ids) - members:
        errors["on_call_users"] = ["Choose active members of this clinic."]
    emails: list[str] = []
    for raw in on_call_emails:
        email = raw.strip()
        if not email:
            continue
        try:
            validate_email(email)
        except ValidationError:
            errors.setdefault("on_call_emails", []).append(f"{email} is not an email address.")
            continue
        if email.lower() not in {e.lower() for e in emails}:
            emails.append(email)
    before = {
        "escalate_after_minutes": found.escalate_after_minutes,
        "checkin_cutoff": found.checkin_cutoff.strftime("%H:%M"),
        "missed_sessions_in_a_row": found.missed_sessions_in_a_row,
        "on_call_users": len(found.on_call_user_ids),
        "on_call_emails": len(found.on_call_emails),
    }
    found.escalate_after_minutes = escalate_after_minutes
    found.checkin_cutoff = checkin_cutoff
    if missed_sessions_in_a_row is not None:
        found.missed_sessions_in_a_row = missed_sessions_in_a_row
    found.on_call_user_ids = user_ids
    found.on_call_emails = emails
    found.updated_by = as_actor(actor).user
    try:
        found.full_clean(exclude=["on_call_user_ids", "on_call_emails"], validate_constraints=False)
    except ValidationError as error:
        for name, problems in error.message_dict.items():
            errors.setdefault(name, []).extend(problems)
    if errors:
        raise ValidationError(errors)
    found.save()
    after = {
        "escalate_after_minutes": found.escalate_after_minutes,
        "checkin_cutoff": found.checkin_cutoff.strftime("%H:%M"),
        "missed_sessions_in_a_row": found.missed_sessions_in_a_row,
        "on_call_users": len(user_ids),
        "on_call_emails": len(emails),
    }
    audit(
        actor=actor,
        action=AuditEvent.Action.ADMIN,
        obj=found,
        detail={"event": "safety_settings_saved", "before": before, "after": after},
    )
    return found


__all__ = [
    "ACTIONS",
    "MAX_NOTE",
    "IllegalTransition",
    "alert_acknowledge",
    "alert_assign",
    "alert_dismiss",
    "alert_notify",
    "alert_problem",
    "alert_resolve",
    "alerts_acknowledge_bulk",
    "alerts_escalate_due",
    "alerts_notify_pending",
    "alerts_raise",
    "safety_settings_update",
]
