"""Attendance, the session note and what attendance feeds (authorization usage).

Per participant: present / late / left early / absent / excused / cancelled by clinic, with minutes
attended (the session's length for present; fewer for late or left early; none otherwise) and their own
note line. The facilitator's note is signed once, then locked; a change is an amendment.

Payers refuse cloned group notes, so signing refuses a participant line that is empty, the same as
another participant's (names aside) or the same as the group summary.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.actors import ActorLike, as_actor
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit, audit_many
from clinic.tenancy.context import require_clinic
from patients.insurance.models import Authorization, AuthorizationUsage
from patients.insurance.services import authorization_usage_add, authorization_usage_withdraw
from scheduling.models import (
    ATTENDED,
    Attendance,
    Booking,
    NoteAmendment,
    Occurrence,
    SessionNote,
    SessionType,
)
from scheduling.signals import attendance_recorded

MIN_LINE = 15  # characters: "Attended." is not a note about this person
MIN_SUMMARY = 20
FEED = AuthorizationUsage.Source.ATTENDANCE
RECORDED_FIELDS = [
    "status",
    "attendance",
    "minutes_attended",
    "note_line",
    "recorded_by",
    "recorded_at",
    "updated_at",
]


@dataclass
class AttendanceResult:
    bookings: list[Booking]
    warnings: list[str] = field(default_factory=list)  # e.g. an authorization with nothing left


def _locked(occurrence: Occurrence) -> bool:
    note = SessionNote.objects.filter(occurrence=occurrence).only("signed_at").first()
    return note is not None and note.is_signed


def _minutes_for(status: str, given: Any, session_minutes: int, who: str) -> int:
    if status == Attendance.PRESENT:
        return session_minutes if given in (None, "") else _whole(given, who, session_minutes)
    if status in (Attendance.LATE, Attendance.LEFT_EARLY):
        if given in (None, ""):
            raise ValidationError(
                f"{who}: say how many minutes they attended (the session is {session_minutes} minutes)."
            )
        minutes = _whole(given, who, session_minutes)
        if minutes >= session_minutes:
            raise ValidationError(
                f"{who}: {minutes} minutes is the whole session; late or left early is fewer than "
                f"{session_minutes}."
            )
        return minutes
    return 0


def _whole(value: Any, who: str, session_minutes: int) -> int:
    try:
        minutes = int(str(value).strip())
    except ValueError:
        raise ValidationError(f"{who}: minutes attended is a whole number.") from None
    if not 1 <= minutes <= session_minutes:
        raise ValidationError(f"{who}: minutes attended is between 1 and {session_minutes}.")
    return minutes


@transaction.atomic
def attendance_record(
    *, actor: ActorLike, occurrence: Occurrence, rows: Mapping[Any, Mapping[str, Any]]
) -> AttendanceResult:
    """Record attendance for some participants: rows map a booking id to {"attendance", "minutes",
    "note_line"}. All rows are checked before any is written. Attended sessions count against the
    patient's authorization at that level of care (one unit per day for day authorizations, per session
    otherwise); a correction to absent takes the unit back."""
    occurrence = (
        Occurrence.objects.select_for_update(of=("self",))
        .select_related("session_type", "program")
        .get(pk=occurrence.pk)
    )
    if occurrence.status != Occurrence.Status.SCHEDULED:
        raise ValidationError("This session was cancelled; there is no attendance to take.")
    if occurrence.starts_at > timezone.now() + timezone.timedelta(minutes=30):
        raise ValidationError("Attendance is taken when the session starts.")
    if _locked(occurrence):
        raise ValidationError("The note for this session is signed; add an amendment instead.")
    bookings = {
        str(b.pk): b
        for b in Booking.objects.select_for_update(of=("self",))
        .filter(occurrence=occurrence)
        .exclude(status=Booking.Status.CANCELLED)
        .select_related("patient", "enrolment__program")
    }
    session_minutes = occurrence.minutes
    changes: list[tuple[Booking, str, int, str]] = []
    for key, row in rows.items():
        booking = bookings.get(str(key))
        if booking is None:
            raise ValidationError("A participant in the form is not booked into this session.")
        if booking.status == Booking.Status.WAITLISTED and row.get("attendance") in ATTENDED:
            booking.status = Booking.Status.BOOKED  # came in from the waitlist: they were there
        status = (row.get("attendance") or "").strip()
        if status and status not in Attendance.values:
            raise ValidationError(
                f"{booking.patient.display_name}: choose present, late, left early, absent or excused."
            )
        minutes = (
            _minutes_for(status, row.get("minutes"), session_minutes, booking.patient.display_name)
            if status
            else None
        )
        line = (row.get("note_line") or "").strip()
        if len(line) > 4000:
            raise ValidationError(f"{booking.patient.display_name}: the note line is over 4,000 characters.")
        changes.append((booking, status, minutes, line))
    who = as_actor(actor).user
    now = timezone.now()
    result = AttendanceResult(bookings=[])
    before_of: dict[int, tuple] = {}
    for booking, status, minutes, line in changes:
        before = (booking.attendance, booking.minutes_attended, booking.note_line)
        booking.attendance, booking.minutes_attended, booking.note_line = status, minutes, line
        if before == (status, minutes, line):
            continue
        booking.recorded_by, booking.recorded_at, booking.updated_at = who, now, now
        before_of[booking.pk] = before
        result.bookings.append(booking)
    # One UPDATE and one audit INSERT for the whole room, however many came.
    Booking.objects.bulk_update(result.bookings, RECORDED_FIELDS)
    audit_many(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        items=[
            {
                "obj": booking,
                "patient": booking.patient_id,
                "detail": {
                    "attendance": booking.attendance,
                    "minutes": booking.minutes_attended,
                    "note_line_changed": before_of[booking.pk][2] != booking.note_line,
                },
            }
            for booking in result.bookings
        ],
    )
    for booking in result.bookings:
        result.warnings += _feed_authorization(
            actor, occurrence, booking, attended_before=before_of[booking.pk][0] in ATTENDED
        )
    SessionNote.objects.get_or_create(
        occurrence=occurrence, defaults={"clinic": require_clinic(), "author": who or occurrence.facilitator}
    )
    if result.bookings:
        attendance_recorded.send(
            sender=Occurrence,
            clinic_id=occurrence.clinic_id,
            occurrence_id=occurrence.pk,
            patient_ids=[b.patient_id for b in result.bookings],
        )
    return result


# --- authorization usage ---------------------------------------------------------------------------------
def _level(occurrence: Occurrence, booking: Booking) -> str | None:
    if occurrence.program_id:
        return occurrence.program.level
    if booking.enrolment_id:
        return booking.enrolment.program.level
    return None


def _authorization(booking: Booking, level: str, day) -> Authorization | None:
    return (
        Authorization.objects.filter(
            coverage__patient_id=booking.patient_id,
            level_of_care=level,
            status=Authorization.Status.ACTIVE,
            start_date__lte=day,
            end_date__gte=day,
        )
        .order_by("start_date", "created_at")
        .first()
    )


def usage_key(authorization: Authorization, booking: Booking, day) -> str:
    """One unit per day of service for a day authorization (three groups on Monday are one program day),
    one per session otherwise."""
    if authorization.unit_type == Authorization.UnitType.DAYS:
        return f"day:{booking.patient_id}:{day.isoformat()}"
    return f"booking:{booking.pk}"


def _feed_authorization(
    actor: ActorLike, occurrence: Occurrence, booking: Booking, *, attended_before: bool
) -> list[str]:
    if not occurrence.session_type.counts_toward_hours:  # a nursing check alone is not a program day
        return []
    level = _level(occurrence, booking)
    if level is None:
        return []
    day = occurrence.local_date
    authorization = _authorization(booking, level, day)
    if authorization is None:
        return []
    key = usage_key(authorization, booking, day)
    if booking.attended and not attended_before:
        try:
            authorization_usage_add(
                actor=actor,
                authorization=authorization,
                service_date=day,
                units=1,
                source=FEED,
                source_key=key,
                note=f"{occurrence.title} {day:%b} {day.day}",
            )
        except ValidationError as error:
            number = authorization.authorization_number or "on file"
            return [
                f"{booking.patient.display_name}: not counted against authorization {number}: "
                f"{' '.join(error.messages)}"
            ]
    elif attended_before and not booking.attended:
        still_there = (
            key.startswith("day:")
            and Booking.objects.filter(
                patient_id=booking.patient_id,
                occurrence__local_date=day,
                attendance__in=ATTENDED,
            )
            .exclude(pk=booking.pk)
            .exists()
        )
        if not still_there:
            authorization_usage_withdraw(actor=actor, source=FEED, source_key=key)
    return []


# --- the note --------------------------------------------------------------------------------------------
def _normalised(text: str, names: tuple[str, ...] = ()) -> str:
    text = text.lower()
    for name in names:
        if name:
            text = re.sub(rf"\b{re.escape(name.lower())}\b", " ", text)
    return re.sub(r"[\W_]+", " ", text).strip()


def _names(booking: Booking) -> tuple[str, ...]:
    p = booking.patient
    return tuple(n for n in (p.first_name, p.last_name, p.preferred_name) if n)


def _named(text: str, names: set[str]) -> list[str]:
    """The names written in `text` as names (capitalised: "bee sting" is not Bee), in the order given."""
    found = []
    for name in sorted(names):
        proper = name[:1].upper() + name[1:]
        if re.search(rf"\b{re.escape(proper)}\b", text):
            found.append(proper)
    return found


def note_problems(occurrence: Occurrence, summary: str) -> list[str]:
    """Why the note cannot be signed yet (empty when it can)."""
    problems: list[str] = []
    bookings = list(
        Booking.objects.filter(occurrence=occurrence)
        .exclude(status=Booking.Status.CANCELLED)
        .select_related("patient")
        .order_by("patient__last_name", "patient__first_name")
    )
    group = occurrence.session_type.kind == SessionType.Kind.GROUP
    if group and len((summary or "").strip()) < MIN_SUMMARY:
        problems.append("Write the group summary: what the session covered.")
    booked = [b for b in bookings if b.status == Booking.Status.BOOKED]
    if not booked:
        problems.append("No one is booked into this session.")
    for b in booked:
        if not b.attendance:
            problems.append(f"{b.patient.display_name}: record attendance.")
    attended = [b for b in bookings if b.attended]
    # Each line goes into its participant's chart and the summary into every chart: naming another
    # participant there tells that chart's reader who else is in treatment (42 CFR Part 2).
    everyone = {n for b in bookings for n in _names(b)}
    named = _named(summary or "", everyone) if group else []
    if named:
        problems.append(
            f"The group summary names a participant ({', '.join(named)}): it goes into every "
            "participant's chart."
        )
    summary_key = _normalised(summary or "")
    seen: dict[str, Booking] = {}
    for b in attended:
        line = b.note_line.strip()
        if len(line) < MIN_LINE:
            problems.append(f"{b.patient.display_name}: write a line about this participant.")
            continue
        others = _named(line, everyone - set(_names(b)))
        if others:
            problems.append(
                f"{b.patient.display_name}: the line names another participant ({', '.join(others)}); "
                "it goes into this participant's chart."
            )
            continue
        key = _normalised(line, _names(b))
        if group and summary_key and key == summary_key:
            problems.append(
                f"{b.patient.display_name}: the line repeats the group summary; say how this "
                "participant took part."
            )
        elif key in seen:
            other = seen[key]
            problems.append(
                f"{b.patient.display_name}: the line is a copy of {other.patient.display_name}'s; "
                "each line is about its participant."
            )
        else:
            seen[key] = b
    return problems


@transaction.atomic
def note_save(*, actor: ActorLike, occurrence: Occurrence, summary: str) -> SessionNote:
    note, _ = SessionNote.objects.select_for_update().get_or_create(
        occurrence=occurrence,
        defaults={"clinic": require_clinic(), "author": as_actor(actor).user or occurrence.facilitator},
    )
    if note.is_signed:
        raise ValidationError("The note is signed; add an amendment instead.")
    summary = (summary or "").strip()
    if len(summary) > 8000:
        raise ValidationError({"summary": "The summary is over 8,000 characters."})
    note.summary = summary
    note.save(update_fields=["summary", "updated_at"])
    audit(actor=actor, action=AuditEvent.Action.UPDATE, obj=note, detail={"occurrence": str(occurrence.pk)})
    return note


@transaction.atomic
def note_sign(*, actor: ActorLike, occurrence: Occurrence, summary: str) -> SessionNote:
    """Sign the note and lock it with every participant's attendance and line, as signed."""
    occurrence = (
        Occurrence.objects.select_for_update(of=("self",))
        .select_related("session_type")
        .get(pk=occurrence.pk)
    )
    user = as_actor(actor).user
    if user is None or user.pk != occurrence.facilitator_id:
        raise ValidationError("The facilitator signs the note for their session.")
    note = note_save(actor=actor, occurrence=occurrence, summary=summary)
    problems = note_problems(occurrence, note.summary)
    if problems:
        raise ValidationError(problems)
    bookings = Booking.objects.filter(occurrence=occurrence).exclude(status=Booking.Status.CANCELLED)
    note.signed_content = {
        "summary": note.summary,
        "participants": [
            {
                "booking": str(b.pk),
                "patient": str(b.patient_id),
                "attendance": b.attendance,
                "minutes": b.minutes_attended,
                "line": b.note_line,
            }
            for b in bookings.order_by("pk")
        ],
    }
    note.signed_by, note.signed_at = user, timezone.now()
    note.save(update_fields=["signed_content", "signed_by", "signed_at", "updated_at"])
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        obj=note,
        detail={"signed": True, "participants": len(note.signed_content["participants"])},
    )
    for b in bookings:
        audit(
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            obj=b,
            patient=b.patient_id,
            detail={"note_signed": True},
        )
    return note


@transaction.atomic
def note_amend(
    *, actor: ActorLike, note: SessionNote, text: str, booking: Booking | None = None
) -> NoteAmendment:
    note = SessionNote.objects.select_for_update().get(pk=note.pk)
    if not note.is_signed:
        raise ValidationError("The note is not signed yet: edit it instead.")
    text = (text or "").strip()
    if len(text) < 5:
        raise ValidationError({"text": "Write the amendment."})
    if len(text) > 4000:
        raise ValidationError({"text": "The amendment is over 4,000 characters."})
    if booking is not None and booking.occurrence_id != note.occurrence_id:
        raise ValidationError({"booking": "That participant was not in this session."})
    user = as_actor(actor).user
    if user is None:
        raise ValidationError("A person amends a note.")
    amendment = NoteAmendment.objects.create(
        clinic=require_clinic(), note=note, booking=booking, text=text, author=user
    )
    audit(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        obj=amendment,
        patient=booking.patient_id if booking else None,
        detail={"note": str(note.pk)},
    )
    return amendment
