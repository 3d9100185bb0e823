"""Reads for scheduling (query-count conscious). Calendar, roster and compliance reads live in their own
modules (selectors_calendar.py, compliance.py) beside this one."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from scheduling.models import Booking, Occurrence, Program, SessionSeries


def occurrence_get(occurrence_id) -> Occurrence:
    return get_object_or_404(
        Occurrence.objects.select_related("session_type", "program", "facilitator", "room", "series"),
        pk=occurrence_id,
    )


def series_get(series_id) -> SessionSeries:
    return get_object_or_404(
        SessionSeries.objects.select_related("session_type", "program", "facilitator", "room"), pk=series_id
    )


def program_get(program_id) -> Program:
    return get_object_or_404(Program, pk=program_id)


def booking_get(booking_id) -> Booking:
    return get_object_or_404(
        Booking.objects.select_related("occurrence__session_type", "patient"), pk=booking_id
    )


def participants(occurrence: Occurrence):
    """Who is in a session (booked and waitlisted), by name: the attendance form and the sign-in sheet."""
    return (
        Booking.objects.filter(occurrence=occurrence)
        .exclude(status=Booking.Status.CANCELLED)
        .select_related("patient", "recorded_by")
        .order_by("status", "patient__last_name", "patient__first_name")
    )


def patient_upcoming(patient, *, now, limit: int = 3) -> list[Booking]:
    """The patient's next sessions (booked or waitlisted, not cancelled, not over): the check-in page shows
    them so a patient on their phone knows when and where the next group is. One query."""
    return list(
        Booking.objects.filter(patient=patient, ends_at__gt=now)
        .filter(occurrence__status=Occurrence.Status.SCHEDULED)
        .exclude(status=Booking.Status.CANCELLED)
        .select_related("occurrence__room", "occurrence__session_type")
        .order_by("starts_at")[:limit]
    )
