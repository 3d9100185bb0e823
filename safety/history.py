"""An alert's history: every change writes an AlertEvent (who, when, what; the alert page lists them) and an
audit event, in the caller's transaction. Shared by the lifecycle writes and the notifications."""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import require_clinic
from safety.models import Alert, AlertEvent


def user_or_none(actor: Any):
    return actor if isinstance(actor, get_user_model()) and actor.pk else None


def actor_label(actor: Any) -> str:
    return (getattr(actor, "audit_label", "") or getattr(actor, "email", "") or "")[:254]


def clinic_time(moment: datetime.datetime | None) -> str:
    """A moment in the clinic's own time zone, e.g. "Mar 8, 2026 14:05"."""
    if moment is None:
        return ""
    local = timezone.localtime(moment, zoneinfo.ZoneInfo(require_clinic().timezone))
    return f"{local:%b} {local.day}, {local:%Y %H:%M}"


def record_event(alert: Alert, kind: str, *, actor: Any = None, note: str = "", at=None) -> AlertEvent:
    event = AlertEvent(
        clinic_id=alert.clinic_id,
        alert=alert,
        patient_id=alert.patient_id,
        kind=kind,
        at=at or timezone.now(),
        actor=user_or_none(actor),
        actor_label=actor_label(actor),
        note=note,
    )
    event.save(force_insert=True)
    return event


def audit_alert(actor: Any, alert_id, patient_id, event: str, **detail) -> None:
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        object_type=Alert._meta.label_lower,
        object_id=str(alert_id),
        patient=patient_id,
        detail={"event": event, **detail},
    )


__all__ = ["actor_label", "audit_alert", "clinic_time", "record_event", "user_or_none"]
