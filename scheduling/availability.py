"""Writes for facilitators' weekly availability: the windows (weekday, local start and end) a clinician is
available for sessions. One window per write, audited; overlapping windows of one person are refused so the
list stays one plain row per stretch of time."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction

from clinic.actors import ActorLike
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import require_clinic
from clinic.tenancy.models import Membership
from scheduling.models import Availability

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def clock(value: dt.time) -> str:
    """9:00 AM → "9 AM", 13:30 → "1:30 PM" (how the clinic writes times)."""
    return f"{value:%-I:%M %p}".replace(":00 ", " ")


def window_label(window: Availability) -> str:
    return f"{WEEKDAYS[window.weekday]} {clock(window.start_time)} to {clock(window.end_time)}"


@transaction.atomic
def availability_add(
    *, actor: ActorLike, staff, weekday: int, start_time: dt.time, end_time: dt.time
) -> Availability:
    clinic = require_clinic()
    errors: dict[str, list[str]] = {}
    if not Membership.objects.active().filter(user=staff, clinic=clinic).exists():
        errors["staff"] = ["This person is not on the clinic's staff."]
    if not 0 <= int(weekday) <= 6:
        errors["weekday"] = ["Choose a day of the week."]
    if end_time <= start_time:
        errors["end_time"] = ["The window ends after it starts (on the same day)."]
    if errors:
        raise ValidationError(errors)
    # Lock the person's rows for the day so two adds at once cannot both pass the overlap check.
    same_day = Availability.objects.select_for_update().filter(staff=staff, weekday=weekday)
    overlapping = same_day.filter(start_time__lt=end_time, end_time__gt=start_time).first()
    if overlapping is not None:
        raise ValidationError({"start_time": f"This overlaps {window_label(overlapping)}, already listed."})
    window = Availability.objects.create(
        clinic=clinic, staff=staff, weekday=weekday, start_time=start_time, end_time=end_time
    )
    audit(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        obj=window,
        detail={"staff": staff.pk, "window": window_label(window)},
    )
    return window


@transaction.atomic
def availability_remove(*, actor: ActorLike, window: Availability) -> None:
    label, staff_id = window_label(window), window.staff_id
    audit(
        actor=actor,
        action=AuditEvent.Action.DELETE,
        obj=window,
        detail={"staff": staff_id, "window": label},
    )
    window.delete()
