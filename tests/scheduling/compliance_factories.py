"""A patient enrolled in a program with weeks of past sessions, and attendance recorded through the service.

Every date is the clinic's (New York) calendar: weeks are counted back from the clinic's today, never the
machine's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from clinic.tenancy.context import clinic_today, tenant_context
from scheduling import hours
from tests.scheduling.factories import make_program, make_series


def today_in(clinic) -> dt.date:
    with tenant_context(clinic):
        return clinic_today()


def monday_weeks_ago(clinic, weeks: int) -> dt.date:
    return hours.week_start(today_in(clinic)) - dt.timedelta(weeks=weeks)


@dataclass
class Enrolled:
    program: Any
    series: Any
    enrolment: Any
    patient: Any
    clinic: Any

    def occurrences(self, week_monday: dt.date) -> list:
        """The series' occurrences in the week of `week_monday`, in time order."""
        from scheduling.models import Occurrence

        with tenant_context(self.clinic):
            return list(
                Occurrence.objects.filter(
                    series=self.series,
                    local_date__range=(week_monday, week_monday + dt.timedelta(days=6)),
                ).order_by("starts_at")
            )

    def record(self, occurrence, attendance: str, minutes: int | None = None) -> None:
        from scheduling.attendance import attendance_record
        from scheduling.models import Booking

        with tenant_context(self.clinic):
            booking = Booking.objects.get(occurrence=occurrence, patient=self.patient)
            attendance_record(
                actor=None,
                occurrence=occurrence,
                rows={booking.pk: {"attendance": attendance, "minutes": minutes, "note_line": ""}},
            )


def enrol(
    clinic,
    facilitator,
    patient,
    *,
    weeks_back: int = 3,
    program: Any = None,
    program_fields: dict | None = None,
    **series_fields: Any,
) -> Enrolled:
    """`patient` enrolled from the Monday `weeks_back` weeks ago in an IOP program (9 to 20 hours) whose one
    series meets Monday, Wednesday and Friday 10:00 for 180 minutes unless changed."""
    from scheduling.services import enrolment_create

    start = monday_weeks_ago(clinic, weeks_back)
    program = program or make_program(clinic, **(program_fields or {}))
    series = make_series(clinic, facilitator, program=program, starts_on=start, **series_fields)
    with tenant_context(clinic):
        enrolment = enrolment_create(actor=None, patient=patient, program=program, starts_on=start)
    return Enrolled(program, series, enrolment, patient, clinic)
