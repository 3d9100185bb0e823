"""Attendance, the session note and the authorization feed, through the database: minutes rules per status,
everything checked before anything is written, a signed note locks attendance, usage fed once per booking
and withdrawn when a participant turns out absent, a group note never names another participant, the
signed content is frozen and an amendment leaves it alone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from patients.insurance.models import AuthorizationUsage
from scheduling import attendance
from scheduling.models import Booking, NoteAmendment, Occurrence, SessionNote
from scheduling.services import booking_add
from tests.conftest import make_member, make_patient
from tests.dates import clinic_date
from tests.scheduling.factories import WEEK_AGO, make_program, make_series, past_occurrences

pytestmark = pytest.mark.django_db
TODAY = clinic_date()
LINE_A = "Avery named two coping skills and practised paced breathing."
LINE_B = "Blake was quiet at first, then described a hard evening with cravings."


def session(clinic, facilitator, *patients, program=None, minutes: int = 60) -> tuple[Occurrence, list]:
    """The latest past occurrence of a weekly group, with `patients` booked."""
    series = make_series(clinic, facilitator, program=program, minutes=minutes)
    occurrence = past_occurrences(clinic, series)[-1]
    with tenant_context(clinic):
        bookings = [booking_add(actor=None, occurrence=occurrence, patient=p) for p in patients]
    return occurrence, bookings


@pytest.fixture
def two(clinic_a):
    return (
        make_patient(clinic_a, first_name="Avery", last_name="Alder"),
        make_patient(clinic_a, first_name="Blake", last_name="Birch", preferred_name="Bee"),
    )


def record(clinic, user, occurrence, rows):
    with tenant_context(clinic):
        return attendance.attendance_record(actor=user, occurrence=occurrence, rows=rows)


def fresh(clinic, booking) -> Booking:
    with tenant_context(clinic):
        return Booking.objects.get(pk=booking.pk)


# --- attendance_record ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "given", "minutes"),
    [
        ("present", "", 60),  # the session's length when left blank
        ("present", "55", 55),
        ("late", "40", 40),
        ("left_early", "20", 20),
        ("absent", "45", 0),  # no minutes for who was not there, whatever was typed
        ("excused", "", 0),
    ],
)
def test_minutes_attended_follow_the_status(clinic_a, clinician, two, status, given, minutes):
    occurrence, (booking, _) = session(clinic_a, clinician, *two)
    record(clinic_a, clinician, occurrence, {booking.pk: {"attendance": status, "minutes": given}})
    saved = fresh(clinic_a, booking)
    assert (saved.attendance, saved.minutes_attended) == (status, minutes)
    assert saved.recorded_by_id == clinician.pk and saved.recorded_at is not None


@pytest.mark.parametrize(
    ("status", "given", "message"),
    [
        ("late", "", "say how many minutes they attended"),
        ("left_early", "60", "is the whole session"),
        ("present", "61", "between 1 and 60"),
        ("present", "ten", "whole number"),
        ("asleep", "", "choose present, late"),
    ],
)
def test_bad_rows_are_refused_and_nothing_is_written(clinic_a, clinician, two, status, given, message):
    occurrence, (first, second) = session(clinic_a, clinician, *two)
    rows = {
        first.pk: {"attendance": "present", "note_line": LINE_A},  # fine on its own
        second.pk: {"attendance": status, "minutes": given},
    }
    with pytest.raises(ValidationError) as refused:
        record(clinic_a, clinician, occurrence, rows)
    assert message in " ".join(refused.value.messages)
    assert fresh(clinic_a, first).attendance == "" and fresh(clinic_a, first).note_line == ""
    with tenant_context(clinic_a):
        assert not SessionNote.objects.exists()


def test_a_booking_of_another_session_is_refused(clinic_a, clinician, two):
    occurrence, _ = session(clinic_a, clinician, two[0])
    other = make_member(clinic_a, "clinician", email="other@clinic-a.example.org")
    _elsewhere, (booking,) = session(clinic_a, other, two[1])
    with pytest.raises(ValidationError, match="not booked into this session"):
        record(clinic_a, clinician, occurrence, {booking.pk: {"attendance": "present"}})
    assert fresh(clinic_a, booking).attendance == ""


def test_recording_the_same_rows_again_changes_and_audits_nothing(clinic_a, clinician, two):
    occurrence, (booking, _) = session(clinic_a, clinician, *two)
    rows = {booking.pk: {"attendance": "late", "minutes": "30", "note_line": LINE_A}}
    assert [b.pk for b in record(clinic_a, clinician, occurrence, rows).bookings] == [booking.pk]
    with tenant_context(clinic_a):
        audited = AuditEvent.objects.filter(object_id=str(booking.pk)).count()
    assert record(clinic_a, clinician, occurrence, rows).bookings == []
    with tenant_context(clinic_a):
        assert AuditEvent.objects.filter(object_id=str(booking.pk)).count() == audited
        assert SessionNote.objects.filter(occurrence=occurrence).count() == 1


def test_a_future_or_cancelled_session_takes_no_attendance(clinic_a, clinician, two):
    series = make_series(clinic_a, clinician, minutes=60)
    with tenant_context(clinic_a):
        later = Occurrence.objects.filter(series=series, local_date__gt=TODAY + dt.timedelta(days=1)).first()
        booking = booking_add(actor=None, occurrence=later, patient=two[0])
    with pytest.raises(ValidationError, match="when the session starts"):
        record(clinic_a, clinician, later, {booking.pk: {"attendance": "present"}})
    occurrence = past_occurrences(clinic_a, series)[-1]
    with tenant_context(clinic_a):
        past = booking_add(actor=None, occurrence=occurrence, patient=two[1])
        Occurrence.objects.filter(pk=occurrence.pk).update(status=Occurrence.Status.CANCELLED)
    with pytest.raises(ValidationError, match="cancelled"):
        record(clinic_a, clinician, occurrence, {past.pk: {"attendance": "present"}})


# --- the authorization feed -----------------------------------------------------------------------------
def _authorization(clinic, patient, unit_type: str = "days", units: int = 10):
    from patients.insurance.services import authorization_create, coverage_create
    from tests.patients.insurance.conftest import coverage_fields

    with tenant_context(clinic):
        coverage = coverage_create(actor=None, patient=patient, fields=coverage_fields())
        return authorization_create(
            actor=None,
            coverage=coverage,
            fields={
                "level_of_care": "iop",
                "authorization_number": "AUTH-77",
                "units_authorized": units,
                "unit_type": unit_type,
                "start_date": WEEK_AGO - dt.timedelta(days=7),
                "end_date": TODAY + dt.timedelta(days=30),
            },
        )


def _usages(clinic, authorization) -> list[AuthorizationUsage]:
    with tenant_context(clinic):
        return list(AuthorizationUsage.objects.filter(authorization=authorization))


def test_attendance_counts_once_against_the_authorization_and_absent_takes_it_back(clinic_a, clinician, two):
    program = make_program(clinic_a)
    occurrence, (booking, _) = session(clinic_a, clinician, *two, program=program)
    auth = _authorization(clinic_a, two[0])
    record(clinic_a, clinician, occurrence, {booking.pk: {"attendance": "present"}})
    record(clinic_a, clinician, occurrence, {booking.pk: {"attendance": "late", "minutes": "30"}})
    (usage,) = _usages(clinic_a, auth)  # corrected from present to late: still one day
    assert usage.source == AuthorizationUsage.Source.ATTENDANCE
    assert usage.service_date == occurrence.local_date and usage.units == 1
    assert usage.source_key == f"day:{two[0].pk}:{occurrence.local_date.isoformat()}"
    record(clinic_a, clinician, occurrence, {booking.pk: {"attendance": "absent"}})
    assert _usages(clinic_a, auth) == []
    record(clinic_a, clinician, occurrence, {booking.pk: {"attendance": "present"}})
    assert len(_usages(clinic_a, auth)) == 1


def test_two_sessions_on_one_day_are_one_program_day(clinic_a, clinician, two):
    program = make_program(clinic_a)
    morning, (first,) = session(clinic_a, clinician, two[0], program=program)
    other = make_member(clinic_a, "clinician", email="second@clinic-a.example.org")
    series = make_series(clinic_a, other, program=program, minutes=60, start_time=dt.time(14, 0))
    afternoon = next(o for o in past_occurrences(clinic_a, series) if o.local_date == morning.local_date)
    with tenant_context(clinic_a):
        second = booking_add(actor=None, occurrence=afternoon, patient=two[0])
    auth = _authorization(clinic_a, two[0])
    record(clinic_a, clinician, morning, {first.pk: {"attendance": "present"}})
    record(clinic_a, other, afternoon, {second.pk: {"attendance": "present"}})
    assert len(_usages(clinic_a, auth)) == 1
    record(clinic_a, clinician, morning, {first.pk: {"attendance": "absent"}})
    assert len(_usages(clinic_a, auth)) == 1  # still there in the afternoon: the day still counts
    record(clinic_a, other, afternoon, {second.pk: {"attendance": "excused"}})
    assert _usages(clinic_a, auth) == []


def test_a_session_authorization_counts_per_session_and_a_used_up_one_warns(clinic_a, clinician, two):
    program = make_program(clinic_a)
    occurrence, (booking,) = session(clinic_a, clinician, two[0], program=program)
    auth = _authorization(clinic_a, two[0], unit_type="sessions", units=1)
    record(clinic_a, clinician, occurrence, {booking.pk: {"attendance": "present"}})
    (usage,) = _usages(clinic_a, auth)
    assert usage.source_key == f"booking:{booking.pk}"
    other = make_member(clinic_a, "clinician", email="second@clinic-a.example.org")
    series = make_series(clinic_a, other, program=program, minutes=60, start_time=dt.time(15, 0))
    later = past_occurrences(clinic_a, series)[-1]
    with tenant_context(clinic_a):
        second = booking_add(actor=None, occurrence=later, patient=two[0])
    result = record(clinic_a, other, later, {second.pk: {"attendance": "present"}})
    assert "not counted against authorization AUTH-77" in result.warnings[0]
    assert fresh(clinic_a, second).attendance == "present"  # attendance is kept; the payer question is apart
    assert len(_usages(clinic_a, auth)) == 1


# --- note_problems --------------------------------------------------------------------------------------
def _attended(clinic, user, occurrence, bookings, lines):
    pairs = zip(bookings, lines, strict=True)
    rows = {b.pk: {"attendance": "present", "note_line": line} for b, line in pairs}
    record(clinic, user, occurrence, rows)


SUMMARY = "Distress tolerance: TIPP skills, paced breathing and a cold-water demonstration."


def test_a_complete_group_note_has_no_problems(clinic_a, clinician, two):
    occurrence, bookings = session(clinic_a, clinician, *two)
    _attended(clinic_a, clinician, occurrence, bookings, [LINE_A, LINE_B])
    with tenant_context(clinic_a):
        assert attendance.note_problems(occurrence, SUMMARY) == []


def test_note_problems_name_what_is_missing(clinic_a, clinician, two):
    occurrence, (first, _second) = session(clinic_a, clinician, *two)
    record(clinic_a, clinician, occurrence, {first.pk: {"attendance": "present", "note_line": "Fine."}})
    with tenant_context(clinic_a):
        problems = attendance.note_problems(occurrence, "Skills")
    assert problems == [
        "Write the group summary: what the session covered.",
        "Bee Birch: record attendance.",
        "Avery Alder: write a line about this participant.",
    ]


def test_cloned_lines_are_found_with_the_names_taken_out(clinic_a, clinician, two):
    occurrence, bookings = session(clinic_a, clinician, *two)
    _attended(
        clinic_a,
        clinician,
        occurrence,
        bookings,
        ["Avery engaged well and practised the skill.", "Blake engaged well and practised the skill!"],
    )
    with tenant_context(clinic_a):
        (problem,) = attendance.note_problems(occurrence, SUMMARY)
    assert problem == "Bee Birch: the line is a copy of Avery Alder's; each line is about its participant."
    _attended(clinic_a, clinician, occurrence, bookings, [LINE_A, SUMMARY])
    with tenant_context(clinic_a):
        assert attendance.note_problems(occurrence, SUMMARY) == [
            "Bee Birch: the line repeats the group summary; say how this participant took part."
        ]


def test_a_group_note_never_names_another_participant(clinic_a, clinician, two):
    """Each line goes into its participant's chart: naming someone else there discloses that they are in
    treatment (42 CFR Part 2). The summary goes into every chart, so it names no one."""
    occurrence, bookings = session(clinic_a, clinician, *two)
    _attended(
        clinic_a,
        clinician,
        occurrence,
        bookings,
        [LINE_A + " Supported Bee during the exercise.", "Blake described cravings; Alder offered advice."],
    )
    with tenant_context(clinic_a):
        problems = attendance.note_problems(occurrence, SUMMARY + " Avery led the check-in.")
    assert problems == [
        "The group summary names a participant (Avery): it goes into every participant's chart.",
        "Avery Alder: the line names another participant (Bee); it goes into this participant's chart.",
        "Bee Birch: the line names another participant (Alder); it goes into this participant's chart.",
    ]
    # The participant's own names are fine, and a name as an ordinary word in lower case is not a name.
    _attended(clinic_a, clinician, occurrence, bookings, [LINE_A, LINE_B + " Said it was a bee sting."])
    with tenant_context(clinic_a):
        assert attendance.note_problems(occurrence, SUMMARY) == []


# --- note_sign and note_amend ---------------------------------------------------------------------------
def _signed(clinic, user, occurrence, bookings) -> SessionNote:
    _attended(clinic, user, occurrence, bookings, [LINE_A, LINE_B])
    with tenant_context(clinic):
        return attendance.note_sign(actor=user, occurrence=occurrence, summary=SUMMARY)


def test_signing_freezes_what_was_signed_and_locks_attendance(clinic_a, clinician, two):
    occurrence, bookings = session(clinic_a, clinician, *two)
    note = _signed(clinic_a, clinician, occurrence, bookings)
    assert note.signed_by_id == clinician.pk and note.signed_at is not None
    assert note.signed_content["summary"] == SUMMARY
    by_booking = {p["booking"]: p for p in note.signed_content["participants"]}
    assert by_booking[str(bookings[0].pk)] == {
        "booking": str(bookings[0].pk),
        "patient": str(two[0].pk),
        "attendance": "present",
        "minutes": 60,
        "line": LINE_A,
    }
    with pytest.raises(ValidationError, match="signed; add an amendment"):
        record(clinic_a, clinician, occurrence, {bookings[0].pk: {"attendance": "absent"}})
    with tenant_context(clinic_a), pytest.raises(ValidationError, match="signed; add an amendment"):
        attendance.note_save(actor=clinician, occurrence=occurrence, summary="Rewritten afterwards, quietly.")
    with tenant_context(clinic_a), pytest.raises(ValidationError, match="signed"):
        attendance.note_sign(actor=clinician, occurrence=occurrence, summary=SUMMARY)  # one signature
    with tenant_context(clinic_a):
        again = SessionNote.objects.get(pk=note.pk)
    assert again.summary == SUMMARY and again.signed_at == note.signed_at
    assert fresh(clinic_a, bookings[0]).attendance == "present"


def test_only_the_facilitator_signs_and_problems_refuse_the_signature(clinic_a, clinician, nurse, two):
    occurrence, bookings = session(clinic_a, clinician, *two)
    _attended(clinic_a, clinician, occurrence, bookings, [LINE_A, LINE_B])
    with tenant_context(clinic_a), pytest.raises(ValidationError, match="The facilitator signs"):
        attendance.note_sign(actor=nurse, occurrence=occurrence, summary=SUMMARY)
    with tenant_context(clinic_a), pytest.raises(ValidationError) as refused:
        attendance.note_sign(actor=clinician, occurrence=occurrence, summary="Too short")
    assert refused.value.messages == ["Write the group summary: what the session covered."]
    with tenant_context(clinic_a):
        assert not SessionNote.objects.get(occurrence=occurrence).is_signed


def test_an_amendment_is_kept_and_the_signed_note_is_unchanged(clinic_a, clinician, two):
    occurrence, bookings = session(clinic_a, clinician, *two)
    with tenant_context(clinic_a):
        draft = SessionNote.objects.get_or_create(
            occurrence=occurrence, defaults={"clinic": clinic_a, "author": clinician}
        )[0]
        with pytest.raises(ValidationError, match="not signed yet"):
            attendance.note_amend(actor=clinician, note=draft, text="Too early for an amendment.")
    note = _signed(clinic_a, clinician, occurrence, bookings)
    frozen = dict(note.signed_content)
    with tenant_context(clinic_a):
        amendment = attendance.note_amend(
            actor=clinician, note=note, text="Blake left at 10:50 for a ride.", booking=bookings[1]
        )
        with pytest.raises(ValidationError):
            attendance.note_amend(actor=clinician, note=note, text="  ")
        assert list(NoteAmendment.objects.filter(note=note)) == [amendment]
        assert amendment.author_id == clinician.pk and amendment.booking_id == bookings[1].pk
        assert SessionNote.objects.get(pk=note.pk).signed_content == frozen
        assert AuditEvent.objects.filter(object_id=str(amendment.pk), patient_id=two[1].pk).exists()
