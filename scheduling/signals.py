"""Signals other apps listen to. scheduling never imports its listeners (safety and the check-in page
connect to these)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the writing transaction after sessions, bookings or enrolments changed, with kwargs
# clinic_id: int, patient_ids: list[UUID] (empty when a series changed for everyone).
schedule_changed = Signal()

# Sent inside the writing transaction after attendance was recorded for an occurrence, with kwargs
# clinic_id: int, occurrence_id: UUID, patient_ids: list[UUID]. safety evaluates the missed-session rule
# after the commit.
attendance_recorded = Signal()
