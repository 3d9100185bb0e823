"""Reads for the calendar and booking pages: the week and the day, one session's roster, a patient's
schedule and the patient-record panel. Each is a fixed number of queries however many rows it shows."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from clinic.tenancy.context import require_clinic
from clinic.tenancy.models import Membership
from patients.models import Patient
from patients.selectors import patient_list
from scheduling.models import (
    ATTENDED,
    Attendance,
    Booking,
    Enrolment,
    Occurrence,
    Program,
    Room,
    SessionSeries,
)

BOOKED, WAITLISTED, CANCELLED = Booking.Status.BOOKED, Booking.Status.WAITLISTED, Booking.Status.CANCELLED
UPCOMING_DAYS = 28  # how far ahead a one-off booking may be picked from


def with_counts(qs: QuerySet[Occurrence]) -> QuerySet[Occurrence]:
    """Occurrences with `n_booked` and `n_waitlisted` (one query, no per-row count)."""
    return qs.annotate(
        n_booked=Count("bookings", filter=Q(bookings__status=BOOKED)),
        n_waitlisted=Count("bookings", filter=Q(bookings__status=WAITLISTED)),
    )


@dataclass(frozen=True)
class CalendarFilter:
    facilitator: int | None = None
    room: str | None = None
    program: str | None = None

    def apply(self, qs: QuerySet[Occurrence]) -> QuerySet[Occurrence]:
        if self.facilitator:
            qs = qs.filter(facilitator_id=self.facilitator)
        if self.room:
            qs = qs.filter(room_id=self.room)
        if self.program:
            qs = qs.filter(program_id=self.program)
        return qs


@dataclass
class Day:
    date: dt.date
    sessions: list[Occurrence] = field(default_factory=list)


def sessions_between(first: dt.date, last: dt.date, where: CalendarFilter) -> list[Day]:
    """Every day from `first` to `last` (clinic-local dates) with its sessions, cancelled ones included."""
    qs = Occurrence.objects.filter(local_date__gte=first, local_date__lte=last)
    rows = with_counts(where.apply(qs)).select_related("facilitator", "room", "program", "session_type")
    days = {
        first + dt.timedelta(days=n): Day(first + dt.timedelta(days=n))
        for n in range((last - first).days + 1)
    }
    for occurrence in rows.order_by("starts_at", "id"):
        days[occurrence.local_date].sessions.append(occurrence)
    return list(days.values())


def filter_choices() -> dict[str, list]:
    """The facilitators (staff of this clinic with sessions), rooms and programs to narrow the calendar to."""
    facilitating = Occurrence.objects.values("facilitator_id")
    staff = (
        Membership.objects.active()
        .filter(clinic=require_clinic(), user_id__in=facilitating)
        .select_related("user")
    )
    people = sorted((m.user for m in staff), key=lambda u: u.display_name.lower())
    return {
        "facilitators": people,
        "rooms": list(Room.objects.filter(is_active=True)),
        "programs": list(Program.objects.filter(is_active=True)),
    }


def occurrence_detail(occurrence_id) -> Occurrence:
    return get_object_or_404(
        with_counts(Occurrence.objects.all()).select_related(
            "session_type", "program", "facilitator", "room", "series"
        ),
        pk=occurrence_id,
    )


def roster(occurrence: Occurrence) -> dict[str, list[Booking]]:
    """Booked (by name), waitlisted (first come first), and cancelled bookings of one session."""
    rows = list(
        Booking.objects.filter(occurrence=occurrence)
        .select_related("patient")
        .order_by("patient__last_name", "patient__first_name", "id")
    )
    waiting = [b for b in rows if b.status == WAITLISTED]
    waiting.sort(key=lambda b: (b.waitlisted_at or b.created_at, b.created_at))
    return {
        "booked": [b for b in rows if b.status == BOOKED],
        "waitlisted": waiting,
        "cancelled": [b for b in rows if b.status == CANCELLED],
    }


def bookable_patients(occurrence: Occurrence | None = None) -> QuerySet[Patient]:
    """Patients of this clinic who may be booked (not discharged), not already in `occurrence`."""
    qs = Patient.objects.exclude(status=Patient.Status.DISCHARGED)
    if occurrence is not None:
        taken = Booking.objects.filter(occurrence=occurrence).exclude(status=CANCELLED).values("patient_id")
        qs = qs.exclude(pk__in=taken)
    return qs.order_by("last_name", "first_name", "id")


CANDIDATES_SHOWN = 30  # a booking list is a short pick, not the clinic's census


@dataclass(frozen=True)
class Candidates:
    patients: list[Patient]
    search: str
    more: bool  # more matched than are shown: narrow the search


def booking_candidates(occurrence: Occurrence, search: str = "") -> Candidates:
    """Whom the booking form offers: patients matching `search` (name or MRN), or without one the
    session's program's enrolled patients. Never the whole clinic: a list of every patient's name is a
    disclosure nobody needs to book one person."""
    qs = bookable_patients(occurrence)
    search = search.strip()[:100]
    if search:
        qs = qs.filter(pk__in=patient_list(search=search).values("pk"))
    elif occurrence.program_id:
        enrolled = Enrolment.objects.filter(program_id=occurrence.program_id, ended_on__isnull=True)
        qs = qs.filter(pk__in=enrolled.values("patient_id"))
    else:
        qs = qs.none()
    found = list(qs[: CANDIDATES_SHOWN + 1])
    return Candidates(found[:CANDIDATES_SHOWN], search, more=len(found) > CANDIDATES_SHOWN)


def upcoming_for_booking(patient: Patient, today: dt.date) -> QuerySet[Occurrence]:
    """Scheduled sessions not over yet, in the next four weeks, the patient is not already in."""
    mine = Booking.objects.filter(patient=patient).exclude(status=CANCELLED).values("occurrence_id")
    qs = Occurrence.objects.filter(
        status=Occurrence.Status.SCHEDULED,
        ends_at__gt=timezone.now(),
        local_date__lte=today + dt.timedelta(days=UPCOMING_DAYS),
    ).exclude(pk__in=mine)
    return with_counts(qs).select_related("room", "facilitator").order_by("starts_at", "id")


def open_enrolment(patient: Patient) -> Enrolment | None:
    return Enrolment.objects.filter(patient=patient, ended_on__isnull=True).select_related("program").first()


def waitlisted_count(enrolment: Enrolment) -> int:
    return Booking.objects.filter(enrolment=enrolment, status=WAITLISTED).count()


def enrolment_get(enrolment_id) -> Enrolment:
    return get_object_or_404(Enrolment.objects.select_related("patient", "program"), pk=enrolment_id)


def series_choices(today: dt.date) -> QuerySet[SessionSeries]:
    """Running series of active programs: what an enrolment can join."""
    return (
        SessionSeries.objects.filter(program__isnull=False, program__is_active=True)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
        .select_related("program", "facilitator")
        .order_by("program__name", "title")
    )


@dataclass
class PatientSchedule:
    enrolment: Enrolment | None
    enrolments: list[Enrolment]
    upcoming: list[Booking]
    past: list[Booking]
    attendance: Counter

    @property
    def attended(self) -> int:
        return sum(self.attendance[a] for a in ATTENDED)

    @property
    def recorded(self) -> int:
        return sum(self.attendance.values())

    @property
    def tally(self) -> list[tuple[str, str, int]]:
        """(code, label, count) per attendance recorded, in the order of the choices."""
        return [
            (code, label, self.attendance[code])
            for code, label in Attendance.choices
            if self.attendance[code]
        ]


def patient_schedule(patient: Patient, today: dt.date, *, past_limit: int | None = None) -> PatientSchedule:
    """The patient's enrolments and bookings: two queries. Attendance counts cover every past session;
    `past_limit` only shortens the list shown."""
    enrolments = list(Enrolment.objects.filter(patient=patient).select_related("program"))
    bookings = list(
        Booking.objects.filter(patient=patient)
        .select_related("occurrence__room", "occurrence__facilitator")
        .order_by("starts_at", "id")
    )
    upcoming = [
        b
        for b in bookings
        if b.occurrence.local_date >= today
        and not b.attendance
        and b.status != CANCELLED
        and b.occurrence.status == Occurrence.Status.SCHEDULED
    ]
    shown = {b.pk for b in upcoming}
    past = [
        b
        for b in reversed(bookings)
        if b.pk not in shown and (b.occurrence.local_date < today or b.attendance)
    ]
    counts = Counter(b.attendance for b in past if b.attendance)
    return PatientSchedule(
        enrolment=next((e for e in enrolments if e.ended_on is None), None),
        enrolments=enrolments,
        upcoming=upcoming,
        past=past[:past_limit] if past_limit else past,
        attendance=counts,
    )
