"""Reads for hours compliance: a patient's weekly attended hours against their program's requirement.

Attended minutes are `Booking.minutes_attended` of bookings marked present, late or left early (late and
left-early bookings count the minutes they were there) in sessions that are still scheduled and whose
session type `counts_toward_hours`. Weeks run Monday to Sunday on the clinic's calendar
(`Occurrence.local_date` is already the clinic's local date). The math is scheduling/hours.py (pure);
this module reads the rows in a fixed number of queries whatever the number of weeks or sessions.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum

from clinic.tenancy.context import clinic_today
from patients.models import Patient
from scheduling import hours, levels
from scheduling.models import ATTENDED, Booking, Enrolment, Occurrence, Program

DEFAULT_WEEKS = 12  # weeks shown on the patient's hours page (the current one included)


def requirement_of(program: Program | None) -> hours.Requirement | None:
    """The program's weekly band, or None when there is no program or it sets neither bound."""
    if program is None or (program.hours_min is None and program.hours_below is None):
        return None
    return hours.Requirement(program.level, program.hours_min, program.hours_below)


def _counted() -> Q:
    """The bookings whose minutes count toward weekly hours (a filter on Booking)."""
    return Q(
        attendance__in=ATTENDED,
        minutes_attended__gt=0,
        occurrence__status=Occurrence.Status.SCHEDULED,
        occurrence__session_type__counts_toward_hours=True,
    ) & ~Q(status=Booking.Status.CANCELLED)


def attended_rows(patient: Patient | uuid.UUID, first: dt.date, last: dt.date) -> list[tuple[dt.date, int]]:
    """(local date, minutes attended) of every counted booking of the patient from `first` to `last`."""
    return list(
        Booking.objects.filter(_counted(), patient=patient, occurrence__local_date__range=(first, last))
        .order_by("occurrence__local_date")
        .values_list("occurrence__local_date", "minutes_attended")
    )


def current_enrolment(patient: Patient) -> Enrolment | None:
    return (
        Enrolment.objects.filter(patient=patient, ended_on__isnull=True)
        .select_related("program", "episode")
        .first()
    )


@dataclass(frozen=True)
class WeekRow:
    week: hours.WeekHours
    status: str | None  # hours.BELOW / WITHIN / ABOVE, or None with no requirement
    text: str  # plain words: "3.0 of at least 9 hours"
    in_progress: bool

    @property
    def week_end(self) -> dt.date:
        return self.week.week_start + dt.timedelta(days=6)


@dataclass(frozen=True)
class PatientHours:
    patient: Patient
    enrolment: Enrolment | None
    program: Program | None
    requirement: hours.Requirement | None
    requirement_text: str
    today: dt.date
    rows: list[WeekRow]  # newest first (the table)
    this_week: WeekRow
    below_run: int  # completed weeks in a row below the minimum, most recent first


def _n(value: Decimal) -> str:
    return f"{value.normalize():f}"


def week_text(week: hours.WeekHours, req: hours.Requirement | None, *, in_progress: bool) -> str:
    """Plain words: "3.0 of at least 9 hours this week", "21.5 hours; fewer than 20 expected"."""
    got = f"{week.hours:.1f}"
    when = " this week" if in_progress else ""
    if req is None:
        return f"{got} hours attended{when}"
    if req.below_hours is not None and (req.min_hours is None or hours.status(week, req) == hours.ABOVE):
        return f"{got} hours{when}; fewer than {_n(req.below_hours)} expected"
    return f"{got} of at least {_n(req.min_hours)} hours{when}"


def _row(week: hours.WeekHours, req: hours.Requirement | None, starts_on: dt.date | None = None) -> WeekRow:
    in_progress = not week.complete
    if starts_on is not None and week.week_start < starts_on:
        # The week the patient joined part-way: a full week's requirement does not apply to it.
        return WeekRow(
            week=week,
            status=None,
            text=f"{week.hours:.1f} hours attended (enrolled from {starts_on:%a %b} {starts_on.day})",
            in_progress=in_progress,
        )
    return WeekRow(
        week=week,
        status=hours.status(week, req) if req is not None else None,
        text=week_text(week, req, in_progress=in_progress),
        in_progress=in_progress,
    )


def patient_hours(
    patient: Patient, *, weeks: int = DEFAULT_WEEKS, today: dt.date | None = None
) -> PatientHours:
    """The last `weeks` weeks (this one included) of a patient's attended hours against the requirement
    of the program they are enrolled in now. Three queries: the enrolment, the attended rows, nothing
    else (the program comes with the enrolment)."""
    today = today or clinic_today()
    current = hours.week_start(today)
    first = current - dt.timedelta(weeks=max(1, weeks) - 1)
    enrolment = current_enrolment(patient)
    program = enrolment.program if enrolment else None
    req = requirement_of(program)
    starts_on = enrolment.starts_on if enrolment else None
    if starts_on is not None:
        # Weeks before this enrolment belong to no program (or another one): the table starts with it.
        first = max(first, min(hours.week_start(starts_on), current))
    found = hours.weekly_hours(
        attended_rows(patient, first, current + dt.timedelta(days=6)), first, current, today=today
    )
    rows = [_row(week, req, starts_on) for week in reversed(found)]
    if program is None:
        requirement_text = "Not enrolled in a program: there is no weekly hours requirement to compare with."
    elif req is None:
        requirement_text = f"{program.name} sets no weekly hours requirement."
    else:
        requirement_text = f"{program.name}: {levels.describe_range(req.min_hours, req.below_hours)}."
    return PatientHours(
        patient=patient,
        enrolment=enrolment,
        program=program,
        requirement=req,
        requirement_text=requirement_text,
        today=today,
        rows=rows,
        this_week=rows[0],
        below_run=hours.below_minimum_weeks_running(
            [w for w in found if starts_on is None or w.week_start >= starts_on], req
        )
        if req is not None
        else 0,
    )


# --- the clinic-wide weekly check (the safety sweep reads this) -----------------------------------------
@dataclass(frozen=True)
class WeekBelowMinimum:
    patient_id: uuid.UUID
    enrolment_id: uuid.UUID
    program_id: uuid.UUID
    program_name: str
    level: str
    week_start: dt.date
    minutes: int
    sessions: int
    min_hours: Decimal

    @property
    def hours(self) -> Decimal:
        return hours.to_hours(self.minutes)


def weeks_below_minimum(
    week: dt.date, *, patient_ids: Iterable[uuid.UUID] | None = None
) -> list[WeekBelowMinimum]:
    """Patients enrolled for the whole week of `week` (Monday to Sunday) in a program with a minimum,
    whose counted minutes that week are below it. Two queries: the enrolments, the minutes per patient.

    A week the patient joined or left part-way is not judged: the requirement is a full week's.
    """
    monday = hours.week_start(week)
    sunday = monday + dt.timedelta(days=6)
    enrolments = Enrolment.objects.filter(
        Q(ended_on__isnull=True) | Q(ended_on__gte=sunday),
        starts_on__lte=monday,
        program__hours_min__isnull=False,
    ).values_list("pk", "patient_id", "program_id", "program__name", "program__level", "program__hours_min")
    if patient_ids is not None:
        enrolments = enrolments.filter(patient_id__in=list(patient_ids))
    enrolled = list(enrolments.order_by("patient_id"))
    if not enrolled:
        return []
    totals = {
        pid: (minutes or 0, sessions)
        for pid, minutes, sessions in Booking.objects.filter(
            _counted(),
            patient_id__in=[row[1] for row in enrolled],
            occurrence__local_date__range=(monday, sunday),
        )
        .values("patient_id")
        .annotate(minutes=Sum("minutes_attended"), sessions=Count("id"))
        .values_list("patient_id", "minutes", "sessions")
        .order_by()
    }
    found = []
    for enrolment_id, patient_id, program_id, name, level, min_hours in enrolled:
        minutes, sessions = totals.get(patient_id, (0, 0))
        if minutes < min_hours * 60:
            found.append(
                WeekBelowMinimum(
                    patient_id=patient_id,
                    enrolment_id=enrolment_id,
                    program_id=program_id,
                    program_name=name,
                    level=level,
                    week_start=monday,
                    minutes=minutes,
                    sessions=sessions,
                    min_hours=min_hours,
                )
            )
    return found


def last_completed_week(today: dt.date | None = None) -> dt.date:
    """The Monday of the most recent week that is over (last week)."""
    today = today or clinic_today()
    return hours.week_start(today) - dt.timedelta(weeks=1)


# --- the missed-session rule's facts -------------------------------------------------------------------
@dataclass(frozen=True)
class RecordedSession:
    booking_id: uuid.UUID
    patient_id: uuid.UUID
    occurrence_id: uuid.UUID
    title: str
    local_date: dt.date
    starts_at: dt.datetime
    attendance: str


def recorded_sessions(
    *, patient_ids: Sequence[uuid.UUID] | None, since: dt.date, until: dt.date
) -> dict[uuid.UUID, list[RecordedSession]]:
    """Per patient, their booked sessions with attendance recorded from `since` to `until`, newest first.
    One query. Bookings of sessions the clinic cancelled are left out (nobody could attend them)."""
    rows = (
        Booking.objects.filter(
            occurrence__local_date__range=(since, until),
            occurrence__status=Occurrence.Status.SCHEDULED,
        )
        .exclude(attendance="")
        .exclude(status=Booking.Status.CANCELLED)
    )
    if patient_ids is not None:
        rows = rows.filter(patient_id__in=list(patient_ids))
    found: dict[uuid.UUID, list[RecordedSession]] = {}
    for pk, pid, oid, title, day, starts_at, attendance in rows.order_by(
        "patient_id", "-starts_at"
    ).values_list(
        "pk",
        "patient_id",
        "occurrence_id",
        "occurrence__title",
        "occurrence__local_date",
        "starts_at",
        "attendance",
    ):
        found.setdefault(pid, []).append(RecordedSession(pk, pid, oid, title, day, starts_at, attendance))
    return found


def patients_absent_since(since: dt.date, until: dt.date) -> list[uuid.UUID]:
    """Patients with at least one unexcused absence recorded from `since` to `until` (the sweep's set)."""
    return sorted(
        set(
            Booking.objects.filter(
                occurrence__local_date__range=(since, until),
                occurrence__status=Occurrence.Status.SCHEDULED,
                attendance="absent",
            )
            .exclude(status=Booking.Status.CANCELLED)
            .values_list("patient_id", flat=True)
        )
    )
