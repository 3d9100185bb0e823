"""Demo schedule: three programs (PHP days, IOP evenings, outpatient step-down), rooms, weekly groups
that began two weeks ago, the patients in treatment enrolled at their level of care,
and the past sessions' attendance taken and notes signed by their facilitator. Everything goes through
the scheduling services, so the horizon, rosters, waitlists and authorization usage are the real ones.
Idempotent: nothing is added once the clinic has a program.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from decimal import Decimal

from django.db.models import Q

from clinic.accounts.models import User
from clinic.actors import ActorLike
from clinic.tenancy.context import clinic_today, tenant_context
from clinic.tenancy.models import Clinic, Membership
from clinic.tenancy.roles import Role
from patients.models import CareEpisode, Patient
from scheduling import attendance, services
from scheduling.models import Booking, Occurrence, Program, SessionType

WEEKS_OF_HISTORY = 2
# (name, level, hours_min, hours_below, description)
PROGRAMS = (
    ("Day program (PHP)", "php", Decimal(20), None, "Weekday mornings and afternoons, five days a week."),
    ("Evening IOP", "iop", Decimal(9), Decimal(20), "Three evenings a week: skills, process and peers."),
    ("Step-down outpatient", "op", None, Decimal(9), "A weekly step-down group."),
)
ROOMS = (("Group room A", 12), ("Group room B", 12), ("Office 1", 2), ("Office 2", 2))
# (program level, session type code, title, weekdays, start, minutes, room, facilitator role, capacity)
SERIES = (
    (
        "php",
        "dbt_skills",
        "PHP DBT skills",
        [0, 1, 2, 3, 4],
        dt.time(9, 0),
        180,
        "Group room A",
        Role.CLINICIAN,
        10,
    ),
    (
        "php",
        "relapse_prevention",
        "PHP relapse prevention",
        [0, 1, 2, 3, 4],
        dt.time(13, 0),
        120,
        "Group room B",
        Role.PSYCHIATRIST,
        10,
    ),
    (
        "iop",
        "dbt_skills",
        "Evening DBT skills",
        [0, 2, 4],
        dt.time(18, 0),
        90,
        "Group room A",
        Role.CLINICIAN,
        8,
    ),
    (
        "iop",
        "peer_support",
        "Evening peer support",
        [0, 2, 4],
        dt.time(19, 45),
        60,
        "Group room B",
        Role.NURSE,
        8,
    ),
    (
        "iop",
        "relapse_prevention",
        "Relapse prevention",
        [1],
        dt.time(18, 0),
        90,
        "Group room A",
        Role.PSYCHIATRIST,
        8,
    ),
    (
        "op",
        "relapse_prevention",
        "Step-down group",
        [3],
        dt.time(17, 0),
        90,
        "Group room B",
        Role.CLINICIAN,
        12,
    ),
)


def _staff(clinic: Clinic, role: Role) -> User | None:
    membership = (
        Membership.objects.filter(clinic=clinic, roles__contains=[role.value])
        .select_related("user")
        .order_by("created_at")
        .first()
    )
    return membership.user if membership else None


def _setup(clinic: Clinic, actor: ActorLike, start: dt.date) -> dict[str, Program]:
    types = {t.code: t for t in services.session_types_ensure()}
    programs = {
        level: services.program_save(
            actor=actor,
            fields={
                "name": name,
                "level": level,
                "hours_min": hours_min,
                "hours_below": hours_below,
                "description": description,
            },
        )
        for name, level, hours_min, hours_below, description in PROGRAMS
    }
    rooms = {
        name: services.room_save(actor=actor, fields={"name": name, "capacity": seats})
        for name, seats in ROOMS
    }
    for level, code, title, weekdays, start_time, minutes, room, role, capacity in SERIES:
        facilitator = _staff(clinic, role)
        if facilitator is None:
            continue
        services.series_create(
            actor=actor,
            fields={
                "program": programs[level],
                "session_type": types[code],
                "title": title,
                "facilitator": facilitator,
                "room": rooms[room],
                "weekdays": weekdays,
                "start_time": start_time,
                "minutes": minutes,
                "starts_on": start,
                "capacity": capacity,
            },
        )
    return programs


def _enrol(
    actor: ActorLike, patients: Sequence[Patient], programs: dict[str, Program], start: dt.date
) -> int:
    episodes = {
        e.patient_id: e
        for e in CareEpisode.objects.filter(ended_on__isnull=True, patient__in=[p.pk for p in patients])
    }
    made = 0
    for patient in patients:
        episode = episodes.get(patient.pk)
        if episode is None or patient.status == Patient.Status.DISCHARGED or episode.level not in programs:
            continue
        services.enrolment_create(
            actor=actor,
            patient=patient,
            program=programs[episode.level],
            starts_on=max(start, episode.started_on),
            reason="Demo enrolment",
        )
        made += 1
    return made


# Each attended participant gets a line of their own (a signed group note refuses copied lines).
OPENERS = ("Engaged throughout", "Quiet at first, then joined in", "Arrived unsettled, settled by the break")
MIDDLES = (
    "practised the skill in pairs",
    "completed the diary card",
    "shared a plan for the evening",
    "named one trigger from the week",
)
ENDINGS = (
    "no withdrawal complaints",
    "reports sleeping better",
    "asked about the next dose step",
    "no concerns",
)


def _lines(rng: random.Random) -> list[str]:
    lines = [f"{a}; {b}; {c}." for a in OPENERS for b in MIDDLES for c in ENDINGS]
    rng.shuffle(lines)
    return lines


def _take_attendance(occurrence: Occurrence, rng: random.Random) -> None:
    """Most come, some late or leave early, a few miss; the facilitator records it and signs the note."""
    rows: dict = {}
    lines = _lines(rng)
    for booking in Booking.objects.filter(occurrence=occurrence, status=Booking.Status.BOOKED):
        roll = rng.random()
        if roll < 0.08:
            rows[booking.pk] = {"attendance": "absent"}
        elif roll < 0.12:
            rows[booking.pk] = {"attendance": "excused"}
        else:
            status, minutes = "present", None
            if roll < 0.2:
                status, minutes = "late", occurrence.minutes - rng.choice((10, 15, 20))
            elif roll < 0.25:
                status, minutes = "left_early", occurrence.minutes // 2
            rows[booking.pk] = {"attendance": status, "minutes": minutes, "note_line": lines.pop()}
    if not rows:
        return
    attendance.attendance_record(actor=occurrence.facilitator, occurrence=occurrence, rows=rows)
    attendance.note_sign(
        actor=occurrence.facilitator,
        occurrence=occurrence,
        summary=f"{occurrence.session_type.name}: reviewed last week's practice and taught the next skill.",
    )


def seed_scheduling(
    *, clinic: Clinic, actor: ActorLike, patients: Sequence[Patient], rng: random.Random
) -> int:
    """Returns how many rows (programs, enrolments and past sessions recorded) were created."""
    with tenant_context(clinic):
        if Program.objects.exists() or SessionType.objects.filter(is_active=False).exists():
            return 0
        today = clinic_today()
        start = today - dt.timedelta(weeks=WEEKS_OF_HISTORY)
        start -= dt.timedelta(days=start.weekday())  # from a Monday, so every weekday has history
        programs = _setup(clinic, actor, start)
        made = len(programs) + _enrol(actor, patients, programs, start)
        past = (
            Occurrence.objects.filter(local_date__lt=today, status=Occurrence.Status.SCHEDULED)
            .filter(~Q(series__isnull=True))
            .select_related("session_type", "facilitator")
            .order_by("starts_at")
        )
        for occurrence in past:
            _take_attendance(occurrence, rng)
            made += 1
        return made
