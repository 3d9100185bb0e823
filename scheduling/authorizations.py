"""What a booking or an enrolment would do to the patient's insurance authorizations, before it is made.

Attendance later counts against the authorization at the session's level of care (scheduling/attendance.py:
one unit per day for a day authorization, one per session otherwise). Here the same rule looks ahead:
sessions that fall outside every approved authorization's dates, or that would use more than is left once
the sessions already booked ahead are counted, are named in a warning. Staff may book anyway (the payer
may extend, the patient may self-pay); the page asks for that explicitly and never refuses silently.

The fingerprint sums up what was warned about: a confirmation carries it, and a confirmation given for a
different picture (another session picked, units used since) is asked again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from patients.insurance.models import Authorization, Coverage
from patients.insurance.selectors import with_units_used
from patients.models import LEVEL_CHOICES, Patient
from scheduling.models import Booking, Enrolment, Occurrence, Program, SessionSeries, SessionType
from scheduling.services import program_series

# "Intensive outpatient (IOP) · ASAM 2.1" reads as "Intensive outpatient (IOP)" in a sentence.
LEVEL_LABELS = {code: str(label).split(" · ")[0] for code, label in LEVEL_CHOICES}


@dataclass(frozen=True)
class Outlook:
    warnings: tuple[str, ...] = ()
    fingerprint: str = ""

    def confirmed_by(self, given: str | None) -> bool:
        """Nothing to warn about, or the person confirmed exactly these warnings."""
        return not self.warnings or (given or "") == self.fingerprint


def _day(day: dt.date) -> str:
    return f"{day:%b} {day.day}"


def _span(days: Sequence[dt.date]) -> str:
    first, last = min(days), max(days)
    return _day(first) if first == last else f"{_day(first)} to {_day(last)}"


def _sessions(n: int) -> str:
    return f"{n} session{'s' if n != 1 else ''}"


def _level_of(occurrence: Occurrence, default_level: str | None) -> str | None:
    """The level of care the session counts at (as attendance.py decides), or None when it counts nowhere."""
    if occurrence.status != Occurrence.Status.SCHEDULED or not occurrence.session_type.counts_toward_hours:
        return None
    if occurrence.program_id:
        return occurrence.program.level
    return default_level


def _units(auth: Authorization, days: Sequence[dt.date], already_days: set[dt.date]) -> int:
    if auth.unit_type == Authorization.UnitType.DAYS:
        return len(set(days) - already_days)
    return len(days)


def booking_outlook(
    *,
    patient: Patient,
    occurrences: Sequence[Occurrence],
    today: dt.date,
    default_level: str | None = None,
) -> Outlook:
    """Warnings for booking `patient` into `occurrences` (with session_type and program loaded).
    `default_level` is the level of the patient's open enrolment, for sessions without a program.
    Three queries, however many sessions."""
    counted: dict[str, list[Occurrence]] = defaultdict(list)
    for occurrence in occurrences:
        level = _level_of(occurrence, default_level)
        if level:
            counted[level].append(occurrence)
    if not counted:
        return Outlook()
    auths = list(
        with_units_used(Authorization.objects.filter(coverage__patient=patient)).order_by(
            "start_date", "created_at"
        )
    )
    if not auths and not Coverage.objects.filter(patient=patient, is_active=True).exists():
        return Outlook()  # no insurance on file: nothing to authorize against
    wanted = {o.pk for rows in counted.values() for o in rows if not o._state.adding}
    # An unsaved session (a one-off about to be created) is named by its time: its random id is new each time.
    names = {
        str(o.pk) if not o._state.adding else f"new:{o.starts_at.isoformat()}"
        for rows in counted.values()
        for o in rows
    }
    ahead = list(
        Booking.objects.filter(
            patient=patient,
            status=Booking.Status.BOOKED,
            attendance="",
            occurrence__status=Occurrence.Status.SCHEDULED,
            occurrence__local_date__gte=today,
            occurrence__session_type__counts_toward_hours=True,
        )
        .exclude(occurrence_id__in=wanted)
        .select_related("occurrence__program", "enrolment__program")
    )

    warnings: list[str] = []
    for level, rows in counted.items():
        label = LEVEL_LABELS.get(level, level)
        approved = [a for a in auths if a.level_of_care == level and a.status == Authorization.Status.ACTIVE]
        pending = [a for a in auths if a.level_of_care == level and a.status == Authorization.Status.PENDING]
        by_auth: dict[Authorization, list[dt.date]] = defaultdict(list)
        outside: list[dt.date] = []
        for occurrence in rows:
            day = occurrence.local_date
            auth = next((a for a in approved if a.start_date <= day <= a.end_date), None)
            if auth is None:
                outside.append(day)
            else:
                by_auth[auth].append(day)
        if outside:
            sessions = f"{_sessions(len(outside))} ({_span(outside)})"
            waiting = [a for a in pending if any(a.start_date <= d <= a.end_date for d in outside)]
            if waiting:
                warnings.append(f"{sessions}: the {label} authorization for these dates is still pending.")
            elif approved:
                covers = "; ".join(
                    f"{_day(a.start_date)} to {_day(a.end_date)}, {a.end_date:%Y}" for a in approved
                )
                warnings.append(f"{sessions} outside the {label} authorization's dates (it covers {covers}).")
            else:
                warnings.append(f"{sessions}: no approved {label} authorization on file.")
        for auth, days in by_auth.items():
            booked_ahead = [
                b.occurrence.local_date
                for b in ahead
                if auth.start_date <= b.occurrence.local_date <= auth.end_date
                and _booking_level(b, default_level) == level
            ]
            committed = _units(auth, booked_ahead, set())
            need = _units(auth, days, set(booked_ahead))
            left = max(auth.units_authorized - auth.units_used - committed, 0)
            if need > left:
                unit = auth.get_unit_type_display().lower()
                number = auth.authorization_number or "on file"
                warnings.append(
                    f"{label} authorization {number}: {auth.units_authorized} {unit} authorized, "
                    f"{auth.units_used} used and {committed} booked ahead, so {left} left; this adds {need} "
                    f"({_span(days)})."
                )
    if not warnings:
        return Outlook()
    basis = "|".join([str(patient.pk), *sorted(names), *warnings])
    return Outlook(tuple(warnings), hashlib.sha256(basis.encode()).hexdigest()[:20])


def _booking_level(booking: Booking, default_level: str | None) -> str | None:
    if booking.occurrence.program_id:
        return booking.occurrence.program.level
    if booking.enrolment_id:
        return booking.enrolment.program.level
    return default_level


def enrolment_outlook(
    *,
    patient: Patient,
    program: Program,
    series: Sequence[SessionSeries] | None,
    starts_on: dt.date,
    today: dt.date,
) -> Outlook:
    """`booking_outlook` over the sessions an enrolment would book: the chosen series (or all the
    program's) from the start date, as far as they are scheduled."""
    joining = list(series) if series else list(program_series(program, starts_on))
    upcoming = Occurrence.objects.filter(
        series__in=joining, local_date__gte=max(starts_on, today), status=Occurrence.Status.SCHEDULED
    ).select_related("session_type", "program")
    return booking_outlook(
        patient=patient, occurrences=list(upcoming), today=today, default_level=program.level
    )


def new_session_outlook(
    *,
    patient: Patient,
    session_type: SessionType,
    starts_at: dt.datetime,
    local_date: dt.date,
    today: dt.date,
) -> Outlook:
    """`booking_outlook` for a one-off session not created yet: it counts at the level of the patient's
    open enrolment (it has no program of its own)."""
    enrolment = (
        Enrolment.objects.filter(patient=patient, ended_on__isnull=True).select_related("program").first()
    )
    probe = Occurrence(session_type=session_type, starts_at=starts_at, local_date=local_date)
    return booking_outlook(
        patient=patient,
        occurrences=[probe],
        today=today,
        default_level=enrolment.program.level if enrolment else None,
    )
