"""Day-before session reminders. The front desk works from the list on the Today page (call, then mark the
patient reminded); a clinic that wants messages names a transport in STEPDOWN_REMINDER_TRANSPORT and the
nightly job sends them. Off by default: a text to a patient's phone is a disclosure, so the message says no
more than that there is an appointment (no program, no session type, no clinic name — minimum necessary)."""

from __future__ import annotations

import datetime as dt
from typing import Protocol
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from clinic.actors import ActorLike
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import require_clinic
from scheduling.models import Booking, Occurrence

VIA_PHONE, VIA_MESSAGE = "phone", "message"


class ReminderTransport(Protocol):
    name: str

    def send(self, *, booking: Booking, text: str) -> bool:
        """Deliver the reminder; False when the patient has no address this transport can use."""


class EmailTransport:
    """Reminders by e-mail through Django's mail settings, to the patient's own address."""

    name = "email"

    def send(self, *, booking: Booking, text: str) -> bool:
        if not booking.patient.email:
            return False
        send_mail("Appointment reminder", text, None, [booking.patient.email])
        return True


def transport() -> ReminderTransport | None:
    path = settings.STEPDOWN_REMINDER_TRANSPORT
    if not path:
        return None
    try:
        return import_string(path)()
    except ImportError as error:
        raise ImproperlyConfigured(f"STEPDOWN_REMINDER_TRANSPORT={path!r} cannot be imported") from error


def day_before(day: dt.date):
    """Everyone booked into a session on `day` (the clinic's calendar day), by time then name."""
    return (
        Booking.objects.filter(
            status=Booking.Status.BOOKED,
            occurrence__local_date=day,
            occurrence__status=Occurrence.Status.SCHEDULED,
        )
        .select_related("patient", "occurrence__room")
        .order_by("starts_at", "patient__last_name", "patient__first_name", "pk")
    )


def reminders_due_day(now: dt.datetime | None = None) -> dt.date | None:
    """Tomorrow in the clinic's own calendar once its day has reached the reminder hour, else None."""
    local = timezone.localtime(now or timezone.now(), ZoneInfo(require_clinic().timezone))
    if local.hour < settings.STEPDOWN_REMINDER_HOUR:
        return None
    return local.date() + dt.timedelta(days=1)


def reminder_text(booking: Booking) -> str:
    local = timezone.localtime(booking.starts_at, ZoneInfo(require_clinic().timezone))
    hour = local.strftime("%I:%M %p").lstrip("0")
    return (
        f"Reminder: you have an appointment tomorrow, {local:%A %B} {local.day}, at {hour}. "
        "If you cannot come, please call us so your place can go to someone waiting."
    )


def _stamp(actor: ActorLike, booking: Booking, via: str) -> None:
    booking.reminded_at, booking.reminded_via = timezone.now(), via
    booking.save(update_fields=["reminded_at", "reminded_via", "updated_at"])
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        obj=booking,
        patient=booking.patient_id,
        detail={"reminded_via": via},
    )


@transaction.atomic
def mark_reminded(*, actor: ActorLike, booking: Booking, via: str = VIA_PHONE) -> Booking:
    """The front desk reached the patient. Marking twice keeps the first time."""
    booking = Booking.objects.select_for_update().get(pk=booking.pk)
    if booking.status != Booking.Status.BOOKED:
        raise ValidationError("This booking is no longer active.")
    if booking.reminded_at is None:
        _stamp(actor, booking, via)
    return booking


def reminders_send(*, day: dt.date, actor: ActorLike = None) -> int:
    """Send the configured transport's reminders for `day` to those not reminded yet. Each is its own
    transaction, locked with SKIP LOCKED, so two workers never message a patient twice."""
    sender = transport()
    if sender is None:
        return 0
    sent = 0
    for pk in list(day_before(day).filter(reminded_at__isnull=True).values_list("pk", flat=True)):
        with transaction.atomic():
            booking = (
                Booking.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("patient")
                .filter(pk=pk, reminded_at__isnull=True, status=Booking.Status.BOOKED)
                .first()
            )
            if booking is None or not sender.send(booking=booking, text=reminder_text(booking)):
                continue
            _stamp(actor, booking, sender.name)
            sent += 1
    return sent
