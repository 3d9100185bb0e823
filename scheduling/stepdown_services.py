"""Step-down: the facts scheduling/stepdown.py judges, its recommendation with the why and the source, and
the clinician's acceptance.

Stepdown never changes a level of care by itself. `stepdown_recommendation` only reads; the one write is
`stepdown_accept`, which a clinician with SCHEDULE_MANAGE posts: it ends the current enrolment and enrols
the patient in the chosen program of the next lower level, in one transaction (all or nothing), through
scheduling.services' own enrolment_end and enrolment_create (rosters, bookings, care episode, audit).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import cache
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from clinic.actors import ActorLike, as_actor
from clinic.tenancy.context import clinic_today, require_clinic
from clinic.tenancy.roles import Perm
from patients.levels_of_care import BY_CODE as LEVELS_BY_CODE
from patients.models import Patient
from scheduling import compliance, hours, services, stepdown
from scheduling.models import ATTENDED, Attendance, Booking, Enrolment, Occurrence, Program
from vitals.models import InstrumentResult

SOURCE = (
    "Step-down criteria: scheduling/data/stepdown.json (program policy, status U: no guideline sets "
    "numeric step-down thresholds). Levels of care by weekly hours: ASAM Criteria 3rd ed. (2013), "
    "clinical.md §7a levels of care; next-capabilities.md §4 (hours and codes)."
)


@cache
def criteria_sources() -> tuple[tuple[str, str, str], ...]:
    """(criterion, status, source) from the data file, for the "why / source" disclosure."""
    raw = json.loads(stepdown.CRITERIA_FILE.read_text(encoding="utf-8"))["criteria"]
    return tuple((name, entry["status"], entry["source"]) for name, entry in raw.items())


def level_label(level: str) -> str:
    found = LEVELS_BY_CODE.get(level)
    return found.label if found else level


def _local_date(moment: dt.datetime, zone: ZoneInfo) -> dt.date:
    return timezone.localtime(moment, zone).date()


def stepdown_facts(enrolment: Enrolment, *, today: dt.date | None = None) -> stepdown.StepDownFacts:
    """What stepdown.suggest needs, read in four queries (attended minutes, sessions per week, scores)."""
    today = today or clinic_today()
    zone = ZoneInfo(require_clinic().timezone)
    start = enrolment.starts_on
    last = hours.week_start(today) + dt.timedelta(days=6)
    weeks = hours.weekly_hours(
        compliance.attended_rows(enrolment.patient_id, start, last), start, max(start, today), today=today
    )
    sessions = (
        Booking.objects.filter(
            patient_id=enrolment.patient_id,
            status=Booking.Status.BOOKED,
            occurrence__status=Occurrence.Status.SCHEDULED,
            occurrence__local_date__range=(start, today),
        )
        .exclude(attendance=Attendance.CANCELLED_BY_CLINIC)
        .values_list("occurrence__local_date")
        .annotate(n=Count("id"), came=Count("id", filter=Q(attendance__in=ATTENDED)))
        .order_by()
    )
    scheduled: dict[dt.date, int] = {}
    attended: dict[dt.date, int] = {}
    for day, n, came in sessions:
        week = hours.week_start(day)
        scheduled[week] = scheduled.get(week, 0) + n
        attended[week] = attended.get(week, 0) + came
    criteria = stepdown.load_criteria()
    since = today - dt.timedelta(days=criteria.ciwa_b_days + 1)  # a day more: the zone shifts the date
    scores = [
        (_local_date(at, zone), stepdown.CIWA_B, int(total))
        for at, total in InstrumentResult.objects.filter(
            patient_id=enrolment.patient_id,
            instrument=stepdown.CIWA_B,
            completed_at__gte=dt.datetime.combine(since, dt.time(0), tzinfo=zone),
        ).values_list("completed_at", "total")
    ]
    return stepdown.StepDownFacts(
        level=enrolment.program.level,
        weeks=weeks,
        scheduled_sessions_by_week=scheduled,
        attended_sessions_by_week=attended,
        scores=scores,
        taper_progress=None,  # not a criterion by default (stepdown.json min_taper_progress: null)
        today=today,
    )


@dataclass(frozen=True)
class Recommendation:
    enrolment: Enrolment
    suggestion: stepdown.Suggestion
    from_label: str
    to_label: str
    targets: list[Program]  # active programs at the lower level (same audience first)
    source: str = SOURCE

    @property
    def headline(self) -> str:
        if self.suggestion.eligible:
            return f"Consider stepping down from {self.from_label} to {self.to_label}."
        return f"Not yet ready to step down to {self.to_label}."


def target_programs(level: str, audience: str) -> list[Program]:
    found = Program.objects.filter(level=level, is_active=True).order_by("name")
    return sorted(found, key=lambda p: (p.audience != audience, p.name))


def stepdown_recommendation(
    enrolment: Enrolment | None, *, today: dt.date | None = None
) -> Recommendation | None:
    """The suggestion for the patient's current enrolment; None with no enrolment or at the lowest level."""
    if enrolment is None or enrolment.ended_on is not None:
        return None
    suggestion = stepdown.suggest(stepdown_facts(enrolment, today=today), stepdown.load_criteria())
    if suggestion is None:
        return None
    return Recommendation(
        enrolment=enrolment,
        suggestion=suggestion,
        from_label=level_label(suggestion.from_level),
        to_label=level_label(suggestion.to_level),
        targets=target_programs(suggestion.to_level, enrolment.program.audience),
    )


@transaction.atomic
def stepdown_accept(
    *,
    actor: ActorLike,
    patient: Patient,
    from_program_id: object,
    target_program: Program | None,
    starts_on: dt.date,
    reason: str = "",
) -> Enrolment:
    """A clinician accepts a step-down: the current enrolment ends the day before `starts_on` (or the day
    it began, when that is later) and the patient is enrolled in `target_program`. Refused, with nothing
    written, when the page was stale (the enrolment or its program changed), the target is not an active
    program of the next lower level, or the start is in the past."""
    if not as_actor(actor).allows(Perm.SCHEDULE_MANAGE):
        raise ValidationError("Only a clinician who manages the schedule can accept a step-down.")
    current = (
        Enrolment.objects.select_for_update(of=("self",))
        .select_related("program")
        .filter(patient=patient, ended_on__isnull=True)
        .first()
    )
    if current is None or str(current.program_id) != str(from_program_id):
        raise ValidationError(
            {"__all__": ["The patient's enrolment changed since this page was opened; look again and retry."]}
        )
    to_level = stepdown.STEP_DOWN.get(current.program.level)
    if to_level is None:
        raise ValidationError({"__all__": [f"{current.program.name} is already the lowest level of care."]})
    if target_program is None or not target_program.is_active or target_program.level != to_level:
        raise ValidationError(
            {"program": [f"Choose an active {level_label(to_level)} program (the next level down)."]}
        )
    today = clinic_today()
    if starts_on < today:
        raise ValidationError({"starts_on": ["The new program starts today or later."]})
    ended_on = max(current.starts_on, starts_on - dt.timedelta(days=1))
    why = (reason or "").strip() or f"Stepped down to {target_program.name}"
    services.enrolment_end(actor=actor, enrolment=current, ended_on=ended_on, reason=why)
    return services.enrolment_create(
        actor=actor, patient=patient, program=target_program, starts_on=starts_on, reason=why[:300]
    )
