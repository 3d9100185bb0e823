"""Scheduling services through the database: series materialised in local time, double booking refused
(by Postgres itself too), capacity and waitlist, enrolment, edits of one / this-and-following, cancel."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from clinic.tenancy.context import tenant_context
from scheduling import services
from scheduling.models import Booking, Occurrence, SeriesMember
from tests.conftest import make_member, make_patient
from tests.dates import clinic_date
from tests.scheduling.factories import WEEK_AGO, local, make_program, make_room, make_series, session_type

pytestmark = pytest.mark.django_db
TODAY = clinic_date()


def _occurrences(clinic, series):
    with tenant_context(clinic):
        return list(Occurrence.objects.filter(series=series).order_by("starts_at"))


def test_a_series_is_materialised_for_the_horizon_at_its_local_time(clinic_a, clinician):
    series = make_series(clinic_a, clinician)
    found = _occurrences(clinic_a, series)
    with tenant_context(clinic_a):
        last = services._horizon()  # the clinic's today (New York), not the machine's
    expected = [
        WEEK_AGO + dt.timedelta(days=n)
        for n in range((last - WEEK_AGO).days + 1)
        if (WEEK_AGO + dt.timedelta(days=n)).weekday() in (0, 2, 4)
    ]
    assert [o.local_date for o in found] == expected
    assert {(o.starts_at.astimezone(local(clinic_a, TODAY, 0).tzinfo).hour, o.minutes) for o in found} == {
        (10, 180)
    }
    assert series.rrule.startswith("FREQ=WEEKLY") and "BYDAY=MO,WE,FR" in series.rrule
    with tenant_context(clinic_a):
        assert services.materialise_horizon() == 0  # nothing twice
        made = services.materialise_horizon(through=last + dt.timedelta(days=7))
    assert made == 3 and len(_occurrences(clinic_a, series)) == len(expected) + 3


def test_the_database_refuses_double_booking_that_bypasses_the_services(clinic_a, clinician, patient_a):
    """Straight ORM writes: the exclusion constraints refuse the facilitator, the room and the patient in
    two places at once, and allow back-to-back sessions (half-open ranges)."""
    room = make_room(clinic_a)
    kind = session_type(clinic_a)
    other = make_member(clinic_a, "clinician", email="second@clinic-a.example.org")
    start = local(clinic_a, TODAY + dt.timedelta(days=2), 13)

    def occurrence(facilitator, starts_at, room=None, minutes=60):
        return Occurrence.objects.create(
            session_type=kind,
            title="Probe",
            facilitator=facilitator,
            room=room,
            starts_at=starts_at,
            ends_at=starts_at + dt.timedelta(minutes=minutes),
            local_date=starts_at.date(),
            capacity=8,
        )

    with tenant_context(clinic_a):
        first = occurrence(clinician, start, room)
        for facilitator, use_room in ((clinician, None), (other, room)):
            with pytest.raises(IntegrityError) as refused, transaction.atomic():
                occurrence(facilitator, start + dt.timedelta(minutes=30), use_room)
            assert services.clash_message(refused.value)
        back_to_back = occurrence(clinician, start + dt.timedelta(minutes=60), room)
        cancelled = occurrence(other, start, None)
        cancelled.status = Occurrence.Status.CANCELLED
        cancelled.save()
        occurrence(other, start + dt.timedelta(minutes=15))  # a cancelled session blocks nothing

        def booking(o):
            return Booking.objects.create(
                occurrence=o, patient=patient_a, starts_at=o.starts_at, ends_at=o.ends_at
            )

        booking(first)
        booking(back_to_back)
        third = make_member(clinic_a, "clinician", email="third@clinic-a.example.org")
        clash = occurrence(third, start + dt.timedelta(minutes=30))  # overlaps the patient's first session
        with pytest.raises(IntegrityError) as refused, transaction.atomic():
            booking(clash)
        assert "patient" in services.clash_message(refused.value)


def test_the_service_names_the_clash(clinic_a, clinician, patient_a):
    room = make_room(clinic_a, "Blue room")
    make_series(clinic_a, clinician, room=room, title="Relapse prevention")
    kind = session_type(clinic_a, "individual_therapy")
    monday = TODAY + dt.timedelta(days=7 - TODAY.weekday())
    with tenant_context(clinic_a):
        with pytest.raises(ValidationError) as error:
            services.occurrence_create(
                actor=None,
                session_type=kind,
                facilitator=clinician,
                starts_at=local(clinic_a, monday, 11),
                minutes=50,
                patient=patient_a,
            )
        assert "already runs Relapse prevention on Mon" in str(error.value)
        psych = make_member(clinic_a, "psychiatrist", email="p2@clinic-a.example.org")
        with pytest.raises(ValidationError) as error:
            services.occurrence_create(
                actor=None,
                session_type=session_type(clinic_a, "psychiatry_visit"),
                facilitator=psych,
                starts_at=local(clinic_a, monday, 12),
                minutes=30,
                room=room,
                patient=patient_a,
            )
        assert "Blue room is booked for Relapse prevention" in str(error.value)
        assert not Booking.objects.exists()  # nothing half-written


def test_who_may_facilitate_comes_from_the_session_type(clinic_a, nurse, psychiatrist):
    with pytest.raises(ValidationError) as error:
        make_series(clinic_a, nurse, session_type=session_type(clinic_a, "dbt_skills"))
    assert "facilitated by" in str(error.value) and "clinician" in str(error.value).lower()
    with pytest.raises(ValidationError):
        make_series(clinic_a, nurse, session_type=session_type(clinic_a, "psychiatry_visit"), capacity=1)
    assert make_series(
        clinic_a, psychiatrist, session_type=session_type(clinic_a, "psychiatry_visit"), capacity=1
    )


def test_capacity_fills_then_the_waitlist_takes_the_place_of_a_cancellation(clinic_a, clinician):
    series = make_series(clinic_a, clinician, capacity=2)
    upcoming = next(o for o in _occurrences(clinic_a, series) if o.local_date > TODAY)
    people = [make_patient(clinic_a, first_name=name, last_name="Rowe") for name in ("Ana", "Ben", "Cy")]
    with tenant_context(clinic_a):
        first, second, third = (
            services.booking_add(actor=None, occurrence=upcoming, patient=p) for p in people
        )
        assert [b.status for b in (first, second, third)] == ["booked", "booked", "waitlisted"]
        promoted = services.booking_cancel(actor=None, booking=second)
        assert promoted.pk == third.pk and Booking.objects.get(pk=third.pk).status == "booked"
        with pytest.raises(ValidationError, match="already booked"):
            services.booking_add(actor=None, occurrence=upcoming, patient=people[0])


def test_enrolment_opens_the_episode_and_books_the_programs_sessions(clinic_a, clinician, patient_a):
    program = make_program(clinic_a)
    series = make_series(clinic_a, clinician, program=program)
    with tenant_context(clinic_a):
        enrolment = services.enrolment_create(
            actor=None,
            patient=patient_a,
            program=program,
            starts_on=TODAY,
            planned_step_down_on=TODAY + dt.timedelta(days=42),
        )
        assert enrolment.episode.level == "iop" and enrolment.episode.started_on == TODAY
        booked = Booking.objects.filter(patient=patient_a, status="booked")
        assert booked.count() == Occurrence.objects.filter(series=series, local_date__gte=TODAY).count() > 0
        assert not booked.filter(occurrence__local_date__lt=TODAY).exists()
        with pytest.raises(ValidationError, match="already enrolled"):
            services.enrolment_create(actor=None, patient=patient_a, program=program, starts_on=TODAY)
        # The horizon moves on: the roster is booked into the new occurrences too.
        services.materialise_horizon(through=TODAY + dt.timedelta(days=services.HORIZON_DAYS + 7))
        assert booked.count() == Occurrence.objects.filter(series=series, local_date__gte=TODAY).count()
        services.enrolment_end(
            actor=None, enrolment=enrolment, ended_on=TODAY + dt.timedelta(days=3), reason="Stepped down"
        )
        assert not booked.filter(occurrence__local_date__gt=TODAY + dt.timedelta(days=3)).exists()


def test_this_and_following_moves_later_sessions_and_keeps_the_roster(clinic_a, clinician, patient_a):
    program = make_program(clinic_a)
    series = make_series(clinic_a, clinician, program=program)
    with tenant_context(clinic_a):
        services.enrolment_create(actor=None, patient=patient_a, program=program, starts_on=WEEK_AGO)
        split = TODAY + dt.timedelta(days=14)
        after = services.series_update_following(
            actor=None, series=series, from_date=split, fields={"start_time": dt.time(18, 0), "minutes": 120}
        )
        assert after.previous_id == series.pk and after.starts_on == split
        before = Occurrence.objects.filter(series=series)
        assert before.exists() and not before.filter(local_date__gte=split).exists()
        later = Occurrence.objects.filter(series=after)
        zone = local(clinic_a, TODAY, 0).tzinfo
        assert {o.starts_at.astimezone(zone).time() for o in later} == {dt.time(18, 0)}
        assert SeriesMember.objects.filter(series=after, patient=patient_a, until_date__isnull=True).exists()
        assert Booking.objects.filter(occurrence__series=after, patient=patient_a).count() == later.count()


def test_moving_one_occurrence_detaches_it_and_its_bookings_follow(clinic_a, clinician, patient_a):
    series = make_series(clinic_a, clinician)
    upcoming = next(o for o in _occurrences(clinic_a, series) if o.local_date > TODAY)
    with tenant_context(clinic_a):
        booking = services.booking_add(actor=None, occurrence=upcoming, patient=patient_a)
        new_start = local(clinic_a, upcoming.local_date, 14)
        moved = services.occurrence_move(actor=None, occurrence=upcoming, starts_at=new_start)
        booking.refresh_from_db()
        assert moved.detached and booking.starts_at == new_start and booking.ends_at == moved.ends_at
        services.occurrence_cancel(actor=None, occurrence=moved, reason="Facilitator ill")
        booking.refresh_from_db()
        assert (booking.status, booking.attendance) == ("cancelled", "clinic_cancelled")
        with pytest.raises(ValidationError, match="Say why"):
            services.occurrence_cancel(actor=None, occurrence=_occurrences(clinic_a, series)[-1], reason=" ")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"level": "iop", "hours_min": 8, "hours_below": 20}, "hours_min"),
        ({"level": "iop", "hours_min": 9, "hours_below": 25}, "hours_below"),
        ({"level": "php", "hours_min": 18, "hours_below": None}, "hours_min"),
        ({"level": "op", "hours_min": None, "hours_below": 12}, "hours_below"),
        ({"level": "iop", "hours_min": 12, "hours_below": 11}, "hours_below"),
    ],
)
def test_a_programs_hours_stay_within_its_level(clinic_a, fields, field):
    with pytest.raises(ValidationError) as error:
        make_program(clinic_a, **fields)
    assert field in error.value.message_dict


def test_a_program_may_narrow_its_level(clinic_a):
    program = make_program(clinic_a, name="IOP evening", hours_min=12, hours_below=16)
    assert (program.hours_min, program.hours_below) == (12, 16)


def test_a_6pm_weekly_group_in_new_york_stays_at_6pm_across_both_dst_changes(clinic_a, clinician):
    """Stored as UTC instants: 23:00 UTC in winter, 22:00 UTC in summer, the same 6 pm on the wall."""
    from zoneinfo import ZoneInfo

    assert clinic_a.timezone == "America/New_York"
    series = make_series(
        clinic_a,
        clinician,
        weekdays=[0],
        start_time=dt.time(18, 0),
        minutes=90,
        starts_on=dt.date(2027, 2, 1),
        ends_on=dt.date(2027, 12, 27),
    )
    with tenant_context(clinic_a):
        services.materialise_horizon(through=dt.date(2027, 12, 31))
    found = _occurrences(clinic_a, series)
    zone = ZoneInfo("America/New_York")
    assert len(found) == 48  # every Monday from 1 February to 27 December 2027
    assert {o.starts_at.astimezone(zone).time() for o in found} == {dt.time(18, 0)}
    assert {o.ends_at.astimezone(zone).time() for o in found} == {dt.time(19, 30)}
    utc_hours = [o.starts_at.astimezone(dt.UTC).hour for o in found]
    spring, autumn = dt.date(2027, 3, 14), dt.date(2027, 11, 7)
    assert utc_hours == [23 if o.local_date < spring or o.local_date > autumn else 22 for o in found]
    assert 22 in utc_hours and 23 in utc_hours


def test_a_series_that_clashes_is_refused_whole_with_the_first_clash_named(clinic_a, clinician):
    room = make_room(clinic_a, "Green room")
    make_series(clinic_a, clinician, title="Morning DBT", room=room, weekdays=[2])
    other = make_member(clinic_a, "clinician", email="other@clinic-a.example.org")
    for facilitator, room_used, expected in (
        (clinician, None, "The facilitator already runs Morning DBT on Wed"),
        (other, room, "Green room is booked for Morning DBT on Wed"),
    ):
        with pytest.raises(ValidationError) as error:
            make_series(
                clinic_a, facilitator, title="Second", room=room_used, weekdays=[1, 2], start_time=dt.time(12)
            )
        assert expected in str(error.value)
    with tenant_context(clinic_a):
        assert not Occurrence.objects.filter(title="Second").exists()  # none of its Tuesdays either
    make_series(
        clinic_a, other, title="Afternoon", room=room, weekdays=[2], start_time=dt.time(13)
    )  # back to back


def test_the_nightly_extension_skips_a_series_that_would_clash_and_extends_the_others(clinic_a, clinician):
    other = make_member(clinic_a, "clinician", email="night@clinic-a.example.org")
    blocked = make_series(clinic_a, clinician, weekdays=[0])
    free = make_series(clinic_a, other, title="Peer support", weekdays=[0])
    with tenant_context(clinic_a):
        horizon = services._horizon()
    monday_after = horizon + dt.timedelta(days=7 - horizon.weekday())
    with tenant_context(clinic_a):
        services.occurrence_create(
            actor=None,
            session_type=session_type(clinic_a, "family_education"),
            facilitator=clinician,
            starts_at=local(clinic_a, monday_after, 11),
            minutes=60,
        )
        made = services.materialise_horizon(through=monday_after)
        blocked.refresh_from_db()
        free.refresh_from_db()
    assert made == 1 and free.materialised_through == monday_after
    assert blocked.materialised_through < monday_after
    assert not [o for o in _occurrences(clinic_a, blocked) if o.local_date == monday_after]
