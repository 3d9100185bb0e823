"""Writes for scheduling: programs, session types, rooms, session series and their occurrences, bookings,
waitlists and enrolments. Attendance and notes are in scheduling/attendance.py.

Every write is one transaction and audited. A clash (a facilitator, a room or a patient in two places at
once) is refused by Postgres's exclusion constraints; the services look for the clash first so the
message can name it, and turn a race the look-up missed into the same kind of message.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from clinic.actors import ActorLike
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import clinic_today, require_clinic
from clinic.tenancy.models import Membership
from clinic.tenancy.roles import role_labels
from patients.models import CareEpisode, Patient
from scheduling import levels, recurrence
from scheduling.models import (
    Booking,
    Enrolment,
    Occurrence,
    Program,
    Room,
    SeriesMember,
    SessionSeries,
    SessionType,
)
from scheduling.signals import schedule_changed

CREATE, UPDATE = AuditEvent.Action.CREATE, AuditEvent.Action.UPDATE
TYPES_DATA = Path(__file__).with_name("data") / "session_types.json"
HORIZON_DAYS = 56  # occurrences exist this far ahead; the nightly job keeps the horizon rolling
MAX_OCCURRENCES_PER_SERIES_WRITE = 800  # a bound on one request's work (over 15 years of a daily group)


def _zone() -> ZoneInfo:
    return ZoneInfo(require_clinic().timezone)


def _local(moment: dt.datetime) -> dt.datetime:
    return timezone.localtime(moment, _zone())


def _when(moment: dt.datetime) -> str:
    local = _local(moment)
    return f"{local:%a %b} {local.day}, {local:%-I:%M %p}".replace(":00 ", " ")


# --- session types ---------------------------------------------------------------------------------------
def session_types_ensure() -> list[SessionType]:
    """The clinic's session types, installing the defaults the first time (idempotent under races)."""
    existing = list(SessionType.objects.all())
    if existing:
        return existing
    clinic = require_clinic()
    raw = json.loads(TYPES_DATA.read_text(encoding="utf-8"))["types"]
    rows = [
        SessionType(
            clinic=clinic,
            code=entry["code"],
            name=entry["name"],
            kind=entry["kind"],
            default_minutes=entry["default_minutes"],
            billing_hint=entry["billing_hint"],
            facilitator_roles=list(entry["facilitator_roles"]),
            counts_toward_hours=entry["counts_toward_hours"],
        )
        for entry in raw
    ]
    SessionType.objects.bulk_create(rows, ignore_conflicts=True)
    return list(SessionType.objects.all())


# --- programs and rooms ----------------------------------------------------------------------------------
PROGRAM_FIELDS = ("name", "level", "audience", "hours_min", "hours_below", "description", "is_active")


def _program_errors(program: Program) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    try:
        program.full_clean(validate_constraints=False)
    except ValidationError as error:
        errors = dict(error.message_dict)
    if not errors.get("level") and not errors.get("audience"):
        for field, message in levels.range_problems(
            program.level, program.audience, program.hours_min, program.hours_below
        ).items():
            errors.setdefault(field, []).append(message)
    if Program.objects.filter(name__iexact=program.name.strip()).exclude(pk=program.pk).exists():
        errors.setdefault("name", []).append("Another program has this name.")
    return errors


def program_defaults(level: str, audience: str = "adult") -> dict[str, Decimal | None]:
    ref = levels.level_hours(level, audience)
    return {"hours_min": ref.hours_min, "hours_below": ref.hours_below}


@transaction.atomic
def program_save(*, actor: ActorLike, fields: Mapping[str, Any], program: Program | None = None) -> Program:
    """Create or change a program. Its weekly hours may be narrowed within its level, never widened."""
    program = program or Program(clinic=require_clinic())
    creating = program._state.adding
    for key in PROGRAM_FIELDS:
        if key in fields:
            value = fields[key]
            setattr(program, key, value.strip() if isinstance(value, str) else value)
    errors = _program_errors(program)
    if errors:
        raise ValidationError(errors)
    program.save()
    audit(actor=actor, action=CREATE if creating else UPDATE, obj=program, detail={"name": program.name})
    return program


ROOM_FIELDS = ("name", "capacity", "is_telehealth", "telehealth_url", "is_active")


@transaction.atomic
def room_save(*, actor: ActorLike, fields: Mapping[str, Any], room: Room | None = None) -> Room:
    room = room or Room(clinic=require_clinic())
    creating = room._state.adding
    for key in ROOM_FIELDS:
        if key in fields:
            value = fields[key]
            setattr(room, key, value.strip() if isinstance(value, str) else value)
    errors: dict[str, list[str]] = {}
    try:
        room.full_clean(validate_constraints=False)
    except ValidationError as error:
        errors = dict(error.message_dict)
    if room.is_telehealth and not room.telehealth_url:
        errors.setdefault("telehealth_url", []).append("A telehealth room needs its link.")
    if Room.objects.filter(name__iexact=room.name).exclude(pk=room.pk).exists():
        errors.setdefault("name", []).append("Another room has this name.")
    if errors:
        raise ValidationError(errors)
    room.save()
    audit(actor=actor, action=CREATE if creating else UPDATE, obj=room, detail={"name": room.name})
    return room


# --- who may facilitate ----------------------------------------------------------------------------------
def facilitator_problem(user, session_type: SessionType) -> str | None:
    membership = Membership.objects.active().filter(user=user, clinic=require_clinic()).first()
    if membership is None:
        return "This person is not on the clinic's staff."
    allowed = set(session_type.facilitator_roles)
    if allowed and not allowed & set(membership.roles):
        who = ", ".join(role_labels(sorted(allowed))).lower()
        return f"A {session_type.name.lower()} is facilitated by: {who}."
    return None


# --- clashes ---------------------------------------------------------------------------------------------
def _overlapping(qs, starts_at: dt.datetime, ends_at: dt.datetime):
    return qs.filter(starts_at__lt=ends_at, ends_at__gt=starts_at)


def _occurrence_clash(
    *, facilitator_id, room_id, starts_at: dt.datetime, ends_at: dt.datetime, exclude: Iterable = ()
) -> str | None:
    scheduled = Occurrence.objects.filter(status=Occurrence.Status.SCHEDULED).exclude(pk__in=list(exclude))
    busy = _overlapping(scheduled.filter(facilitator_id=facilitator_id), starts_at, ends_at).first()
    if busy is not None:
        return f"The facilitator already runs {busy.title} on {_when(busy.starts_at)}."
    if room_id is not None:
        taken = (
            _overlapping(scheduled.filter(room_id=room_id), starts_at, ends_at).select_related("room").first()
        )
        if taken is not None:
            return f"{taken.room.name} is booked for {taken.title} on {_when(taken.starts_at)}."
    return None


def _first_clash(series: SessionSeries, slots: Sequence[tuple[dt.datetime, dt.datetime]]) -> str | None:
    """The first of `slots` the series' facilitator or room is already busy in: one query for the window."""
    if not slots:
        return None
    people_or_room = Q(facilitator_id=series.facilitator_id)
    if series.room_id:
        people_or_room |= Q(room_id=series.room_id)
    busy = list(
        Occurrence.objects.filter(people_or_room, status=Occurrence.Status.SCHEDULED)
        .filter(starts_at__lt=slots[-1][1], ends_at__gt=slots[0][0])
        .select_related("room")
        .order_by("starts_at")
    )
    for starts_at, ends_at in slots:
        for other in busy:
            if other.starts_at < ends_at and other.ends_at > starts_at:
                if other.facilitator_id == series.facilitator_id:
                    return f"The facilitator already runs {other.title} on {_when(other.starts_at)}."
                return f"{other.room.name} is booked for {other.title} on {_when(other.starts_at)}."
    return None


def _patient_clash(patient: Patient, starts_at: dt.datetime, ends_at: dt.datetime, exclude: Iterable = ()):
    booked = Booking.objects.filter(patient=patient, status=Booking.Status.BOOKED).exclude(
        pk__in=list(exclude)
    )
    return _overlapping(booked, starts_at, ends_at).select_related("occurrence").first()


CONSTRAINT_MESSAGES = {
    "occurrence_no_facilitator_clash": "The facilitator is already in another session at that time.",
    "occurrence_no_room_clash": "The room is already booked at that time.",
    "booking_no_patient_clash": "The patient is already booked into another session at that time.",
}


def clash_message(error: IntegrityError) -> str | None:
    """The plain message for a double booking Postgres refused (a race the look-up did not see)."""
    name = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
    return CONSTRAINT_MESSAGES.get(name or "")


def _refuse_clash(error: IntegrityError) -> None:
    message = clash_message(error)
    if message is None:
        raise error
    raise ValidationError(message) from error


# --- series ----------------------------------------------------------------------------------------------
SERIES_FIELDS = (
    "program",
    "session_type",
    "title",
    "facilitator",
    "room",
    "telehealth_url",
    "weekdays",
    "start_time",
    "minutes",
    "interval",
    "starts_on",
    "ends_on",
    "capacity",
)


def pattern_of(series: SessionSeries) -> recurrence.WeeklyPattern:
    return recurrence.WeeklyPattern(
        weekdays=tuple(series.weekdays),
        start=series.start_time,
        minutes=series.minutes,
        starts_on=series.starts_on,
        ends_on=series.ends_on,
        interval=series.interval,
        phase_from=series.phase_from,
    )


def _series_errors(series: SessionSeries) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    try:
        series.full_clean(exclude=["rrule"], validate_constraints=False)
    except ValidationError as error:
        errors = dict(error.message_dict)
    if errors:
        return errors
    try:
        pattern_of(series)
    except recurrence.PatternError as error:
        errors.setdefault(getattr(error, "field", None) or "weekdays", []).append(str(error))
    problem = facilitator_problem(series.facilitator, series.session_type)
    if problem:
        errors.setdefault("facilitator", []).append(problem)
    if series.room_id and series.room.capacity and series.capacity > series.room.capacity:
        errors.setdefault("capacity", []).append(f"{series.room.name} seats {series.room.capacity}.")
    if series.session_type.kind == SessionType.Kind.INDIVIDUAL and series.capacity != 1:
        errors.setdefault("capacity", []).append("An individual session has one participant.")
    if series.program_id and not series.program.is_active:
        errors.setdefault("program", []).append("This program is no longer active.")
    return errors


def _slots(series: SessionSeries, first: dt.date, last: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    if last < first:
        return []
    return recurrence.occurrences(pattern_of(series), _zone(), first, last)


def _materialise(series: SessionSeries, through: dt.date) -> list[Occurrence]:
    """Insert the series' occurrences up to `through` that do not exist yet; book the roster into them."""
    first = max(series.starts_on, (series.materialised_through or dt.date.min) + dt.timedelta(days=1))
    if series.ends_on:
        through = min(through, series.ends_on)
    slots = _slots(series, first, through)
    if len(slots) > MAX_OCCURRENCES_PER_SERIES_WRITE:
        raise ValidationError({"ends_on": "That would create too many sessions at once; choose an end date."})
    zone = _zone()
    clash = _first_clash(series, slots)
    if clash:
        raise ValidationError(clash)
    rows = [
        Occurrence(
            clinic=series.clinic,
            series=series,
            series_slot=starts_at,
            program=series.program,
            session_type=series.session_type,
            title=series.title,
            facilitator=series.facilitator,
            room=series.room,
            telehealth_url=series.telehealth_url,
            starts_at=starts_at,
            ends_at=ends_at,
            local_date=starts_at.astimezone(zone).date(),
            capacity=series.capacity,
        )
        for starts_at, ends_at in slots
    ]
    try:
        with transaction.atomic():
            created = Occurrence.objects.bulk_create(rows)
    except IntegrityError as error:
        _refuse_clash(error)
    series.materialised_through = max(through, series.materialised_through or through)
    series.save(update_fields=["materialised_through", "updated_at"])
    members = list(SeriesMember.objects.filter(series=series).select_related("patient"))
    for member in members:
        _book_member(member, created)
    return created


def _book_member(member: SeriesMember, occurrences: Sequence[Occurrence]) -> int:
    """Book a roster member into these occurrences (within their dates). A clash with another booking of
    the patient is skipped (ON CONFLICT DO NOTHING on the exclusion constraint): the patient keeps the
    session they were booked into first, and the roster page shows the gap."""
    wanted = [
        o
        for o in occurrences
        if o.status == Occurrence.Status.SCHEDULED
        and o.local_date >= member.from_date
        and (member.until_date is None or o.local_date <= member.until_date)
    ]
    if not wanted:
        return 0
    taken = dict(
        Booking.objects.filter(occurrence__in=wanted, status=Booking.Status.BOOKED)
        .values("occurrence_id")
        .annotate(n=Count("id"))
        .values_list("occurrence_id", "n")
    )
    rows = []
    for occurrence in wanted:
        full = taken.get(occurrence.pk, 0) >= occurrence.capacity
        rows.append(
            Booking(
                clinic=occurrence.clinic,
                occurrence=occurrence,
                patient=member.patient,
                enrolment=member.enrolment,
                status=Booking.Status.WAITLISTED if full else Booking.Status.BOOKED,
                waitlisted_at=timezone.now() if full else None,
                starts_at=occurrence.starts_at,
                ends_at=occurrence.ends_at,
            )
        )
    return len(Booking.objects.bulk_create(rows, ignore_conflicts=True))


def _horizon() -> dt.date:
    return clinic_today() + dt.timedelta(days=HORIZON_DAYS)


@transaction.atomic
def series_create(*, actor: ActorLike, fields: Mapping[str, Any]) -> SessionSeries:
    """A recurring session; its occurrences for the horizon are created with it (all or nothing)."""
    series = SessionSeries(clinic=require_clinic(), **{k: v for k, v in fields.items() if k in SERIES_FIELDS})
    if series.weekdays is not None:
        series.weekdays = sorted(set(series.weekdays))
    errors = _series_errors(series)
    if errors:
        raise ValidationError(errors)
    series.rrule = recurrence.rrule_text(pattern_of(series))
    series.save()
    created = _materialise(series, _horizon())
    audit(
        actor=actor,
        action=CREATE,
        obj=series,
        detail={"title": series.title, "rrule": series.rrule, "occurrences": len(created)},
    )
    schedule_changed.send(sender=SessionSeries, clinic_id=series.clinic_id, patient_ids=[])
    return series


def _future_undetached(series: SessionSeries, from_date: dt.date):
    return Occurrence.objects.filter(series=series, local_date__gte=from_date, detached=False)


def _drop_future(series: SessionSeries, from_date: dt.date) -> int:
    """Remove the series' occurrences from `from_date` that nothing was recorded on (cancel the rest)."""
    future = _future_undetached(series, from_date)
    recorded = future.filter(Q(bookings__attendance__gt="") | Q(note__isnull=False)).values("pk")
    untouched = future.exclude(pk__in=recorded)
    Booking.objects.filter(occurrence__in=untouched).delete()
    dropped, _ = untouched.delete()
    future.filter(pk__in=recorded, status=Occurrence.Status.SCHEDULED).update(
        status=Occurrence.Status.CANCELLED, cancel_reason="Series changed", updated_at=timezone.now()
    )
    return dropped


@transaction.atomic
def series_update_following(
    *, actor: ActorLike, series: SessionSeries, from_date: dt.date, fields: Mapping[str, Any]
) -> SessionSeries:
    """Edit "this and following": the series ends the day before `from_date` and a continuation with the
    changes starts on it (same roster). Occurrences edited on their own are left alone."""
    series = SessionSeries.objects.select_for_update().get(pk=series.pk)
    if from_date < clinic_today():
        raise ValidationError({"from_date": "Past sessions are kept as they were; choose today or later."})
    if series.ends_on and from_date > series.ends_on:
        raise ValidationError({"from_date": "The series has ended by then."})
    before, after = recurrence.split_at(pattern_of(series), from_date)
    continuation = SessionSeries(
        clinic=series.clinic,
        **{name: getattr(series, name) for name in SERIES_FIELDS},
        phase_from=after.phase_from,
        previous=series,
    )
    for key, value in fields.items():
        if key in SERIES_FIELDS and key not in ("starts_on",):
            setattr(continuation, key, value)
    continuation.starts_on = from_date
    if continuation.weekdays is not None:
        continuation.weekdays = sorted(set(continuation.weekdays))
    _drop_future(series, from_date)
    if before is None:  # the whole series changes: keep the row, edit in place
        for name in SERIES_FIELDS:
            setattr(series, name, getattr(continuation, name))
        series.materialised_through = None
        target = series
    else:
        series.ends_on = before.ends_on
        series.materialised_through = min(series.materialised_through or before.ends_on, before.ends_on)
        series.save(update_fields=["ends_on", "materialised_through", "updated_at"])
        target = continuation
    errors = _series_errors(target)
    if errors:
        raise ValidationError(errors)
    target.rrule = recurrence.rrule_text(pattern_of(target))
    target.save()
    if target is continuation:
        members = SeriesMember.objects.filter(series=series).filter(
            Q(until_date__isnull=True) | Q(until_date__gte=from_date)
        )
        SeriesMember.objects.bulk_create(
            [
                SeriesMember(
                    clinic=series.clinic,
                    series=continuation,
                    patient_id=m.patient_id,
                    enrolment_id=m.enrolment_id,
                    from_date=max(m.from_date, from_date),
                    until_date=m.until_date,
                )
                for m in members
            ]
        )
        members.filter(until_date__isnull=True).update(until_date=from_date - dt.timedelta(days=1))
    created = _materialise(target, _horizon())
    audit(
        actor=actor,
        action=UPDATE,
        obj=target,
        detail={"from": from_date.isoformat(), "changed": sorted(fields), "occurrences": len(created)},
    )
    schedule_changed.send(sender=SessionSeries, clinic_id=series.clinic_id, patient_ids=[])
    return target


@transaction.atomic
def series_end(*, actor: ActorLike, series: SessionSeries, last_day: dt.date) -> SessionSeries:
    """Stop a series after `last_day`: later sessions are removed (or cancelled where recorded)."""
    series = SessionSeries.objects.select_for_update().get(pk=series.pk)
    if last_day < series.starts_on:
        raise ValidationError({"last_day": "The series had not started by then."})
    _drop_future(series, last_day + dt.timedelta(days=1))
    series.ends_on = last_day
    series.materialised_through = min(series.materialised_through or last_day, last_day)
    series.rrule = recurrence.rrule_text(pattern_of(series))
    series.save(update_fields=["ends_on", "materialised_through", "rrule", "updated_at"])
    SeriesMember.objects.filter(series=series, until_date__isnull=True).update(until_date=last_day)
    audit(actor=actor, action=UPDATE, obj=series, detail={"ended": last_day.isoformat()})
    return series


def materialise_horizon(*, through: dt.date | None = None) -> int:
    """The nightly job's body for one clinic: extend every running series to the horizon."""
    through = through or _horizon()
    unfinished = Q(ends_on__isnull=True) | Q(materialised_through__isnull=True)
    unfinished |= Q(ends_on__gt=F("materialised_through"))
    running = SessionSeries.objects.filter(unfinished).filter(
        Q(materialised_through__isnull=True) | Q(materialised_through__lt=through)
    )
    made = 0
    for series in running.select_related("program", "session_type", "facilitator", "room"):
        try:
            with transaction.atomic():  # one series at a time: a refusal rolls back only its own rows
                made += len(_materialise(series, through))
        except ValidationError:
            # A clash with a session booked by hand since: leave the series where it is; its page shows
            # how far it reaches, and the next run tries again.
            continue
    return made


# --- one occurrence --------------------------------------------------------------------------------------
def _bookings_follow(occurrence: Occurrence) -> None:
    occurrence.bookings.update(
        starts_at=occurrence.starts_at, ends_at=occurrence.ends_at, updated_at=timezone.now()
    )


@transaction.atomic
def occurrence_create(
    *,
    actor: ActorLike,
    session_type: SessionType,
    facilitator,
    starts_at: dt.datetime,
    minutes: int,
    title: str = "",
    room: Room | None = None,
    program: Program | None = None,
    patient: Patient | None = None,
    capacity: int | None = None,
    telehealth_url: str = "",
) -> Occurrence:
    """A one-off session (an individual therapy hour, a psychiatry visit), with its patient booked."""
    if starts_at.tzinfo is None:
        raise ValidationError({"starts_at": "Give the time with its time zone."})
    if not 5 <= int(minutes) <= 720:
        raise ValidationError({"minutes": "A session lasts between 5 minutes and 12 hours."})
    ends_at = starts_at + dt.timedelta(minutes=int(minutes))
    problem = facilitator_problem(facilitator, session_type)
    if problem:
        raise ValidationError({"facilitator": problem})
    if session_type.kind == SessionType.Kind.INDIVIDUAL and patient is None:
        raise ValidationError({"patient": "Choose the patient for an individual session."})
    clash = _occurrence_clash(
        facilitator_id=facilitator.pk, room_id=room.pk if room else None, starts_at=starts_at, ends_at=ends_at
    )
    if clash:
        raise ValidationError(clash)
    occurrence = Occurrence(
        clinic=require_clinic(),
        session_type=session_type,
        program=program,
        title=(title or session_type.name).strip()[:120],
        facilitator=facilitator,
        room=room,
        telehealth_url=telehealth_url,
        starts_at=starts_at,
        ends_at=ends_at,
        local_date=_local(starts_at).date(),
        capacity=capacity or (1 if session_type.kind == SessionType.Kind.INDIVIDUAL else 8),
    )
    try:
        with transaction.atomic():
            occurrence.save()
    except IntegrityError as error:
        _refuse_clash(error)
    audit(actor=actor, action=CREATE, obj=occurrence, patient=patient, detail={"title": occurrence.title})
    if patient is not None:
        booking_add(actor=actor, occurrence=occurrence, patient=patient)
    return occurrence


@transaction.atomic
def occurrence_move(
    *,
    actor: ActorLike,
    occurrence: Occurrence,
    starts_at: dt.datetime,
    minutes: int | None = None,
    room: Room | str | None = "keep",
    facilitator=None,
) -> Occurrence:
    """Edit "this one only": a new time, room or facilitator; the occurrence leaves its series' edits."""
    occurrence = Occurrence.objects.select_for_update().select_related("session_type").get(pk=occurrence.pk)
    if occurrence.status != Occurrence.Status.SCHEDULED:
        raise ValidationError("A cancelled session cannot be moved; book a new one.")
    if hasattr(occurrence, "note"):
        raise ValidationError("Attendance was taken for this session; it stays where it was.")
    minutes = int(minutes or occurrence.minutes)
    ends_at = starts_at + dt.timedelta(minutes=minutes)
    new_room = occurrence.room if room == "keep" else room
    new_facilitator = facilitator or occurrence.facilitator
    if facilitator is not None:
        problem = facilitator_problem(facilitator, occurrence.session_type)
        if problem:
            raise ValidationError({"facilitator": problem})
    clash = _occurrence_clash(
        facilitator_id=new_facilitator.pk,
        room_id=new_room.pk if new_room else None,
        starts_at=starts_at,
        ends_at=ends_at,
        exclude=[occurrence.pk],
    )
    if clash:
        raise ValidationError(clash)
    for booking in occurrence.bookings.filter(status=Booking.Status.BOOKED).select_related("patient"):
        other = _patient_clash(booking.patient, starts_at, ends_at, exclude=[booking.pk])
        if other is not None:
            raise ValidationError(
                f"{booking.patient.display_name} is booked into {other.occurrence.title} on "
                f"{_when(other.starts_at)}."
            )
    occurrence.starts_at, occurrence.ends_at = starts_at, ends_at
    occurrence.local_date = _local(starts_at).date()
    occurrence.room, occurrence.facilitator, occurrence.detached = new_room, new_facilitator, True
    try:
        with transaction.atomic():
            occurrence.save()
            _bookings_follow(occurrence)
    except IntegrityError as error:
        _refuse_clash(error)
    audit(actor=actor, action=UPDATE, obj=occurrence, detail={"moved_to": starts_at.isoformat()})
    _changed(occurrence)
    return occurrence


@transaction.atomic
def occurrence_cancel(*, actor: ActorLike, occurrence: Occurrence, reason: str) -> Occurrence:
    """Cancelled by the clinic: every participant's attendance says so (not an absence)."""
    occurrence = Occurrence.objects.select_for_update().get(pk=occurrence.pk)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the session is cancelled (participants may be told)."})
    if occurrence.status == Occurrence.Status.CANCELLED:
        raise ValidationError("This session is already cancelled.")
    if getattr(occurrence, "note", None) is not None and occurrence.note.is_signed:
        raise ValidationError("The note for this session is signed; it took place.")
    occurrence.status, occurrence.cancel_reason = Occurrence.Status.CANCELLED, reason[:300]
    occurrence.save(update_fields=["status", "cancel_reason", "updated_at"])
    from scheduling.models import Attendance

    occurrence.bookings.exclude(status=Booking.Status.CANCELLED).update(
        status=Booking.Status.CANCELLED,
        attendance=Attendance.CANCELLED_BY_CLINIC,
        minutes_attended=0,
        updated_at=timezone.now(),
    )
    audit(actor=actor, action=UPDATE, obj=occurrence, detail={"cancelled": reason[:300]})
    _changed(occurrence)
    return occurrence


def _changed(occurrence: Occurrence) -> None:
    patient_ids = list(occurrence.bookings.values_list("patient_id", flat=True))
    schedule_changed.send(sender=Occurrence, clinic_id=occurrence.clinic_id, patient_ids=patient_ids)


# --- bookings and the waitlist ---------------------------------------------------------------------------
@transaction.atomic
def booking_add(
    *, actor: ActorLike, occurrence: Occurrence, patient: Patient, enrolment: Enrolment | None = None
) -> Booking:
    """Book a patient; a full session puts them on its waitlist (first come, first served)."""
    occurrence = Occurrence.objects.select_for_update().get(pk=occurrence.pk)
    if occurrence.status != Occurrence.Status.SCHEDULED:
        raise ValidationError("This session is cancelled.")
    if patient.clinic_id != occurrence.clinic_id:
        raise ValidationError({"patient": "Choose a patient of this clinic."})
    existing = Booking.objects.filter(occurrence=occurrence, patient=patient).first()
    if existing is not None and existing.status != Booking.Status.CANCELLED:
        raise ValidationError(
            f"{patient.display_name} is already {existing.get_status_display().lower()} here."
        )
    booked = Booking.objects.filter(occurrence=occurrence, status=Booking.Status.BOOKED).count()
    full = booked >= occurrence.capacity
    if not full:
        other = _patient_clash(patient, occurrence.starts_at, occurrence.ends_at)
        if other is not None:
            raise ValidationError(
                f"{patient.display_name} is booked into {other.occurrence.title} on {_when(other.starts_at)}."
            )
    booking = existing or Booking(clinic=occurrence.clinic, occurrence=occurrence, patient=patient)
    booking.enrolment = enrolment or booking.enrolment
    booking.status = Booking.Status.WAITLISTED if full else Booking.Status.BOOKED
    booking.waitlisted_at = timezone.now() if full else None
    booking.starts_at, booking.ends_at = occurrence.starts_at, occurrence.ends_at
    booking.attendance, booking.minutes_attended = "", None
    try:
        with transaction.atomic():
            booking.save()
    except IntegrityError as error:
        _refuse_clash(error)
    audit(actor=actor, action=CREATE, obj=booking, patient=patient, detail={"status": booking.status})
    _changed(occurrence)
    return booking


@transaction.atomic
def booking_cancel(*, actor: ActorLike, booking: Booking, reason: str = "") -> Booking | None:
    """Take a patient out of a session; the first on the waitlist (who has no clash) takes the place.
    Returns the booking that was promoted, if any."""
    booking = Booking.objects.select_for_update().select_related("occurrence").get(pk=booking.pk)
    if booking.attendance:
        raise ValidationError("Attendance is recorded for this booking; record it as excused instead.")
    was_booked = booking.status == Booking.Status.BOOKED
    booking.status = Booking.Status.CANCELLED
    booking.save(update_fields=["status", "updated_at"])
    audit(
        actor=actor,
        action=UPDATE,
        obj=booking,
        patient=booking.patient_id,
        detail={"cancelled": reason[:300]},
    )
    promoted = None
    if was_booked:
        waiting = Booking.objects.filter(occurrence=booking.occurrence, status=Booking.Status.WAITLISTED)
        for candidate in waiting.order_by("waitlisted_at", "created_at").select_related("patient"):
            if _patient_clash(candidate.patient, candidate.starts_at, candidate.ends_at) is None:
                candidate.status, candidate.waitlisted_at = Booking.Status.BOOKED, None
                candidate.save(update_fields=["status", "waitlisted_at", "updated_at"])
                audit(
                    actor=actor,
                    action=UPDATE,
                    obj=candidate,
                    patient=candidate.patient_id,
                    detail={"from_waitlist": True},
                )
                promoted = candidate
                break
    _changed(booking.occurrence)
    return promoted


# --- enrolment -------------------------------------------------------------------------------------------
@transaction.atomic
def enrolment_create(
    *,
    actor: ActorLike,
    patient: Patient,
    program: Program,
    starts_on: dt.date,
    planned_step_down_on: dt.date | None = None,
    series: Sequence[SessionSeries] | None = None,
    reason: str = "",
) -> Enrolment:
    """Enrol a patient in a program: the level-of-care episode (opened when the patient has none at that
    level), the roster of the program's series (all, or the ones chosen), and their bookings."""
    from patients.services import care_episode_start

    if not program.is_active:
        raise ValidationError({"program": "This program is no longer active."})
    if planned_step_down_on and planned_step_down_on <= starts_on:
        raise ValidationError({"planned_step_down_on": "The planned step-down comes after the start."})
    if Enrolment.objects.select_for_update().filter(patient=patient, ended_on__isnull=True).exists():
        raise ValidationError(
            {"program": f"{patient.display_name} is already enrolled in a program; end or step down first."}
        )
    episode = CareEpisode.objects.filter(patient=patient, ended_on__isnull=True).first()
    if episode is None or episode.level != program.level:
        episode = care_episode_start(
            actor=actor, patient=patient, level=program.level, started_on=starts_on, reason=reason
        )
    enrolment = Enrolment(
        clinic=require_clinic(),
        patient=patient,
        program=program,
        episode=episode,
        starts_on=starts_on,
        planned_step_down_on=planned_step_down_on,
    )
    enrolment.save()
    chosen = list(series) if series is not None else list(program_series(program, starts_on))
    for item in chosen:
        if item.program_id != program.pk:
            raise ValidationError({"series": f"{item.title} is not a session of {program.name}."})
        member = SeriesMember.objects.create(
            clinic=enrolment.clinic, series=item, patient=patient, enrolment=enrolment, from_date=starts_on
        )
        occurrences = Occurrence.objects.filter(series=item, local_date__gte=starts_on)
        _book_member(member, list(occurrences))
    audit(
        actor=actor,
        action=CREATE,
        obj=enrolment,
        patient=patient,
        detail={"program": program.name, "series": [s.title for s in chosen]},
    )
    schedule_changed.send(sender=Enrolment, clinic_id=enrolment.clinic_id, patient_ids=[patient.pk])
    return enrolment


def program_series(program: Program, on: dt.date):
    return SessionSeries.objects.filter(program=program).filter(Q(ends_on__isnull=True) | Q(ends_on__gte=on))


@transaction.atomic
def enrolment_end(*, actor: ActorLike, enrolment: Enrolment, ended_on: dt.date, reason: str) -> Enrolment:
    """Leave the program: off its rosters after `ended_on`, later unrecorded bookings cancelled."""
    enrolment = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
    if enrolment.ended_on is not None:
        raise ValidationError("This enrolment has ended already.")
    if ended_on < enrolment.starts_on:
        raise ValidationError({"ended_on": "The enrolment cannot end before it started."})
    enrolment.ended_on, enrolment.end_reason = ended_on, (reason or "").strip()[:300]
    enrolment.save(update_fields=["ended_on", "end_reason", "updated_at"])
    SeriesMember.objects.filter(enrolment=enrolment, until_date__isnull=True).update(until_date=ended_on)
    Booking.objects.filter(enrolment=enrolment, occurrence__local_date__gt=ended_on, attendance="").exclude(
        status=Booking.Status.CANCELLED
    ).update(status=Booking.Status.CANCELLED, updated_at=timezone.now())
    audit(
        actor=actor,
        action=UPDATE,
        obj=enrolment,
        patient=enrolment.patient_id,
        detail={"ended": str(ended_on)},
    )
    schedule_changed.send(sender=Enrolment, clinic_id=enrolment.clinic_id, patient_ids=[enrolment.patient_id])
    return enrolment
