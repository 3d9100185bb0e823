"""An alert's history: every change writes an AlertEvent (who, when, what; the alert page lists them) and an
audit event, in the caller's transaction. Shared by the lifecycle writes and the notifications."""

from __future__ import annotations

import datetime
import zoneinfo

from django.utils import timezone

from clinic.actors import ActorLike, as_actor
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import require_clinic
from safety.models import Alert, AlertEvent


def clinic_time(moment: datetime.datetime | None) -> str:
    """A moment in the clinic's own time zone, e.g. "Mar 8, 2026 14:05"."""
    if moment is None:
        return ""
    local = timezone.localtime(moment, zoneinfo.ZoneInfo(require_clinic().timezone))
    return f"{local:%b} {local.day}, {local:%Y %H:%M}"


def record_event(alert: Alert, kind: str, *, actor: ActorLike = None, note: str = "", at=None) -> AlertEvent:
    who = as_actor(actor)
    event = AlertEvent(
        clinic_id=alert.clinic_id,
        alert=alert,
        patient_id=alert.patient_id,
        kind=kind,
        at=at or timezone.now(),
        actor=who.user,
        actor_label=who.label[:254],
        note=note,
    )
    event.save(force_insert=True)
    return event


def audit_alert(actor: ActorLike, alert_id, patient_id, event: str, **detail) -> None:
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        object_type=Alert._meta.label_lower,
        object_id=str(alert_id),
        patient=patient_id,
        detail={"event": event, **detail},
    )


__all__ = ["audit_alert", "clinic_time", "record_event"]
