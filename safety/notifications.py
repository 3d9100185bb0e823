"""Alert e-mail and escalation.

- Escalation: an unacknowledged high/critical alert older than the clinic's `escalate_after_minutes` gets
  `escalated_at` by a compare-and-set UPDATE, and one escalation email.
- Email is claimed before it is sent (UPDATE … SET notified_at WHERE notified_at IS NULL) inside the
  sending transaction: a retried or duplicated task never sends twice, and a failed send un-claims.
- Emails are sent by a task enqueued after commit; the escalation job re-enqueues any that were lost.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable

from django.conf import settings as django_settings
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from clinic.tenancy.context import require_clinic, tenant_context
from clinic.tenancy.models import Clinic
from safety import rules_catalogue
from safety.history import audit_alert, clinic_time, record_event
from safety.models import Alert, AlertEvent
from safety.selectors import on_call_recipients, safety_settings

Status = Alert.Status
Kind = AlertEvent.Kind
# Operational, not clinical: a new high/critical alert whose email was never sent (the broker was down when
# it was raised) is picked up by the escalation job after this long.
NOTIFY_RETRY_AFTER = datetime.timedelta(minutes=5)


def notify_on_commit(clinic_id: int, alert_ids: Iterable, kind: str) -> None:
    """Send the email task after commit. robust: a broker outage must not fail a request whose data is
    already committed; the escalation job re-sends what was never claimed (NOTIFY_RETRY_AFTER)."""
    from safety import tasks

    for alert_id in alert_ids:
        tasks.notify_alert.delay_on_commit(clinic_id, str(alert_id), kind)


# --- escalation ---------------------------------------------------------------------------------------------
_ESCALATE_SQL = """
WITH due AS (
    UPDATE {alert}
    SET escalated_at = %(now)s, updated_at = %(now)s
    WHERE clinic_id = %(clinic)s AND status = 'open' AND escalated_at IS NULL
      AND severity = ANY(%(severities)s::text[]) AND raised_at <= %(cutoff)s
    RETURNING id, patient_id
), history AS (
    INSERT INTO {event} (id, clinic_id, created_at, updated_at, alert_id, patient_id, kind, at,
                         actor_label, note)
    SELECT gen_random_uuid(), %(clinic)s, %(now)s, %(now)s, due.id, due.patient_id, 'escalated', %(now)s, '',
           %(note)s
    FROM due
)
SELECT id, patient_id FROM due
"""


def alerts_escalate_due(*, clinic: Clinic, now: datetime.datetime | None = None) -> list[uuid.UUID]:
    """Escalate this clinic's unacknowledged high/critical alerts raised at least `escalate_after_minutes`
    ago: one compare-and-set UPDATE (escalated_at IS NULL), so running it twice escalates nothing twice.
    Each escalated alert gets one escalation email after commit. Returns the escalated ids."""
    now = now or timezone.now()
    with tenant_context(clinic):
        minutes = safety_settings().escalate_after_minutes
        sql = _ESCALATE_SQL.format(
            alert=connection.ops.quote_name(Alert._meta.db_table),
            event=connection.ops.quote_name(AlertEvent._meta.db_table),
        )
        params = {
            "now": now,
            "clinic": clinic.pk,
            "severities": sorted(rules_catalogue.defaults().escalate_severities),
            "cutoff": now - datetime.timedelta(minutes=minutes),
            "note": f"Not acknowledged within {minutes} minutes",
        }
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            due = cursor.fetchall()
        for alert_id, patient_id in due:
            audit_alert(None, alert_id, patient_id, "escalated", after_minutes=minutes)
        notify_on_commit(clinic.pk, [alert_id for alert_id, _ in due], "escalation")
        return [alert_id for alert_id, _ in due]


def alerts_notify_pending(*, clinic: Clinic, now: datetime.datetime | None = None) -> int:
    """Safety net: re-enqueue the email of open high/critical alerts whose email was never claimed (the task
    was lost). The claim in `alert_notify` makes a duplicate harmless."""
    now = now or timezone.now()
    with tenant_context(clinic):
        pending = list(
            Alert.objects.filter(
                status=Status.OPEN,
                notified_at__isnull=True,
                severity__in=sorted(rules_catalogue.defaults().notify_severities),
                raised_at__lte=now - NOTIFY_RETRY_AFTER,
            ).values_list("pk", flat=True)[:500]
        )
        notify_on_commit(clinic.pk, pending, "new")
        return len(pending)


# --- email --------------------------------------------------------------------------------------------------
NOTIFY_FIELDS = {"new": "notified_at", "escalation": "escalation_notified_at"}


def alert_url(alert: Alert) -> str:
    path = reverse("safety:detail", kwargs={"clinic_slug": require_clinic().slug, "alert_id": alert.pk})
    return f"{django_settings.SITE_URL}{path}"


def alert_notify(*, alert_id, kind: str = "new") -> bool:
    """Email the on-call staff about one alert, at most once per kind.

    The claim (UPDATE … SET <field> = now() WHERE id = … AND <field> IS NULL) and the send share one
    transaction: a second task blocks on the row and then finds it claimed; a send that fails rolls the
    claim back so the retry sends. No patient name or detail goes in the email: the rule, the severity and
    a link that needs a sign-in (minimum necessary)."""
    if kind not in NOTIFY_FIELDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    field = NOTIFY_FIELDS[kind]
    clinic = require_clinic()
    with transaction.atomic():
        now = timezone.now()
        claimed = Alert.objects.filter(pk=alert_id, **{f"{field}__isnull": True}).update(
            **{field: now, "updated_at": now}
        )
        if not claimed:
            return False
        alert = Alert.objects.get(pk=alert_id)
        settings = safety_settings()
        recipients = on_call_recipients(settings)
        why_not = ""
        if alert.status != Status.OPEN:
            why_not = f"The alert was already {alert.get_status_display().lower()}"
        elif not recipients:
            why_not = "No on-call staff are set in the alert settings"
        if why_not:
            record_event(alert, Kind.NOT_NOTIFIED, note=why_not, at=now)
            audit_alert(None, alert.pk, alert.patient_id, "notification_skipped", kind=kind, why=why_not)
            return False
        rule = alert.rule
        context = {
            "alert": alert,
            "clinic": clinic,
            "kind": kind,
            "url": alert_url(alert),
            "raised": clinic_time(alert.raised_at),
            "criteria": rule.criteria if rule else "",
            "minutes": settings.escalate_after_minutes,
        }
        subject = " ".join(render_to_string("safety/email/alert_subject.txt", context).split())
        body = render_to_string("safety/email/alert_message.txt", context)
        EmailMessage(subject, body, django_settings.DEFAULT_FROM_EMAIL, recipients).send()
        label = "Escalation emailed" if kind == "escalation" else "Emailed"
        record_event(alert, Kind.NOTIFIED, note=f"{label} to {', '.join(recipients)}", at=now)
        audit_alert(None, alert.pk, alert.patient_id, "notified", kind=kind, recipients=len(recipients))
        return True


__all__ = [
    "NOTIFY_RETRY_AFTER",
    "alert_notify",
    "alert_url",
    "alerts_escalate_due",
    "alerts_notify_pending",
    "notify_on_commit",
]
