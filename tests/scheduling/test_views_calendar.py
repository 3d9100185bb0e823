"""The calendar and booking pages in the browser: week and day, a session's roster (book, waitlist, cancel
and promote, move, cancel), a patient's schedule (enrol, end, one-off booking) and the authorization
outlook that asks before booking past an insurance authorization."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.urls import reverse

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import clinic_today, tenant_context
from scheduling.models import Booking, Enrolment, Occurrence
from scheduling.services import booking_add
from tests.conftest import client_for, make_member, make_patient
from tests.scheduling.factories import make_program, make_room, make_series

pytestmark = pytest.mark.django_db


def url(name: str, clinic, **kwargs) -> str:
    return reverse(f"scheduling:{name}", kwargs={"clinic_slug": clinic.slug, **kwargs})


def today_in(clinic) -> dt.date:
    with tenant_context(clinic):
        return clinic_today()


def upcoming(clinic, series, n: int = 0) -> Occurrence:
    """The n-th scheduled occurrence of `series` after the clinic's today."""
    with tenant_context(clinic):
        return list(
            Occurrence.objects.filter(series=series, local_date__gt=clinic_today()).order_by("starts_at")
        )[n]


def bookings(clinic, occurrence) -> dict[str, str]:
    with tenant_context(clinic):
        return {
            b.patient.first_name: b.status
            for b in Booking.objects.filter(occurrence=occurrence).select_related("patient")
        }


@pytest.fixture
def program(clinic_a):
    return make_program(clinic_a)


@pytest.fixture
def series(clinic_a, clinician, program):
    return make_series(clinic_a, clinician, program=program, room=make_room(clinic_a), capacity=1)


# --- week and day --------------------------------------------------------------------------------------
def test_a_nurse_sees_the_week_in_clinic_time_with_booked_over_capacity(clinic_a, nurse, series, patient_a):
    occurrence = upcoming(clinic_a, series)
    client = client_for(nurse)
    client.post(url("occurrence-book", clinic_a, occurrence_id=occurrence.pk), {"patient": str(patient_a.pk)})
    response = client.get(url("week", clinic_a), {"week": occurrence.local_date.isoformat()})
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="nav-schedule"' in body and 'aria-current="page">Schedule' in body
    assert "10:00 AM–1:00 PM" in body  # the series' 10 am in New York, not UTC
    assert "1/1 booked" in body and "DBT skills" in body
    monday = occurrence.local_date - dt.timedelta(days=occurrence.local_date.weekday())
    assert f"?week={(monday + dt.timedelta(days=7)).isoformat()}" in body  # next week
    assert f"?week={(monday - dt.timedelta(days=7)).isoformat()}" in body  # previous week

    day = client.get(url("day", clinic_a), {"date": occurrence.local_date.isoformat()})
    assert day.status_code == 200 and "1/1 booked" in day.content.decode()
    empty_day = occurrence.local_date + dt.timedelta(days=1)  # Tue/Thu/Sat/Sun: no session of the series
    assert (
        "No sessions on this day"
        in client.get(url("day", clinic_a), {"date": empty_day.isoformat()}).content.decode()
    )


def test_the_week_filters_by_facilitator_room_and_program(clinic_a, nurse, clinician, series):
    other = make_member(clinic_a, "clinician", email="other@clinic-a.example.org")
    make_series(clinic_a, other, title="Relapse prevention", start_time=dt.time(15, 0), minutes=60)
    client = client_for(nurse)
    day = upcoming(clinic_a, series).local_date.isoformat()
    both = client.get(url("week", clinic_a), {"week": day}).content.decode()
    assert "DBT skills" in both and "Relapse prevention" in both
    mine = client.get(url("week", clinic_a), {"week": day, "facilitator": clinician.pk}).content.decode()
    assert "DBT skills" in mine and "Relapse prevention" not in mine
    by_program = client.get(url("week", clinic_a), {"week": day, "program": str(series.program_id)})
    assert "Relapse prevention" not in by_program.content.decode()
    by_room = client.get(url("week", clinic_a), {"week": day, "room": str(series.room_id)}).content.decode()
    assert "DBT skills" in by_room and "Relapse prevention" not in by_room


@pytest.mark.parametrize(
    "query",
    [
        {"week": "not-a-date"},
        {"week": "2026-02-30"},
        {"week": "9999-12-31"},
        {"room": "nope"},
        {"facilitator": "x"},
    ],
)
def test_a_bad_calendar_link_shows_this_week_not_an_error(clinic_a, nurse, series, query):
    response = client_for(nurse).get(url("week", clinic_a), query)
    assert response.status_code == 200
    assert "DBT skills" in response.content.decode()  # this week has the series' sessions
    day = client_for(nurse).get(url("day", clinic_a), {"date": query.get("week", "0001-01-01")})
    assert day.status_code == 200


def test_the_week_query_count_stays_flat_as_sessions_grow(
    clinic_a, nurse, clinician, program, django_assert_max_num_queries
):
    make_series(clinic_a, clinician, program=program, capacity=3)
    client = client_for(nurse)
    client.get(url("week", clinic_a))  # warm the session and the per-clinic caches
    connection.queries_log.clear()  # set-up filled the log (9,000 max): the capture's slice would be empty
    with django_assert_max_num_queries(40) as one:
        assert client.get(url("week", clinic_a)).status_code == 200
    first_count = len(one.captured_queries)
    assert first_count > 3  # the capture saw the request
    for hour in (13, 16, 19):
        other = make_member(clinic_a, "clinician", email=f"f{hour}@clinic-a.example.org")
        grown = make_series(
            clinic_a,
            other,
            title=f"Group {hour}",
            program=program,
            room=make_room(clinic_a, name=f"Room {hour}"),
            start_time=dt.time(hour, 0),
            minutes=60,
        )
        for n in range(2):
            with tenant_context(clinic_a):
                booking_add(
                    actor=None,
                    occurrence=upcoming(clinic_a, grown, n),
                    patient=make_patient(clinic_a, first_name=f"P{hour}{n}"),
                )
    with django_assert_max_num_queries(first_count):
        body = client.get(url("week", clinic_a)).content.decode()
    assert "Group 19" in body


def test_the_calendar_is_refused_without_the_schedule_permission(clinic_a, auditor, admissions, series):
    assert client_for(auditor).get(url("week", clinic_a)).status_code == 403
    occurrence = upcoming(clinic_a, series)
    # Admissions books but does not move sessions.
    assert (
        client_for(admissions).get(url("occurrence", clinic_a, occurrence_id=occurrence.pk)).status_code
        == 200
    )
    refused = client_for(admissions).post(
        url("occurrence-move", clinic_a, occurrence_id=occurrence.pk),
        {"date": occurrence.local_date.isoformat(), "time": "15:00", "minutes": "60"},
    )
    assert refused.status_code == 403


# --- one session ----------------------------------------------------------------------------------------
def test_book_then_waitlist_then_cancel_promotes_the_first_waiting(clinic_a, nurse, series, patient_a):
    occurrence = upcoming(clinic_a, series)
    second = make_patient(clinic_a, first_name="Bailey", last_name="Birchwood")
    client = client_for(nurse)
    book = url("occurrence-book", clinic_a, occurrence_id=occurrence.pk)

    found = client.get(
        url("occurrence", clinic_a, occurrence_id=occurrence.pk) + "?find=alder"
    ).content.decode()
    assert 'id="book-form"' in found and "Alder, Avery" in found and "Birchwood" not in found

    done = client.post(book, {"patient": str(patient_a.pk)}, follow=True).content.decode()
    assert "Avery Alder is booked." in done
    assert "This session is full" in done  # capacity 1: the next one waits
    waiting = client.post(book, {"patient": str(second.pk)}, follow=True).content.decode()
    assert "The session is full: Bailey Birchwood is on the waitlist" in waiting
    assert bookings(clinic_a, occurrence) == {"Avery": "booked", "Bailey": "waitlisted"}

    with tenant_context(clinic_a):
        first = Booking.objects.get(occurrence=occurrence, patient=patient_a)
    cancel = url("booking-cancel", clinic_a, booking_id=first.pk)
    assert client.post(cancel, {"reason": ""}).status_code == 400  # a reason is asked for
    assert bookings(clinic_a, occurrence)["Avery"] == "booked"
    done = client.post(cancel, {"reason": "Called to cancel"}, follow=True).content.decode()
    assert "Avery Alder is no longer in DBT skills." in done
    assert "Bailey Birchwood moved from the waitlist into the place." in done
    assert bookings(clinic_a, occurrence) == {"Avery": "cancelled", "Bailey": "booked"}


def test_the_booking_list_offers_the_programs_patients_or_a_search_never_the_whole_clinic(
    clinic_a, nurse, clinician, program
):
    from scheduling.services import enrolment_create

    group = make_series(clinic_a, clinician, title="Evening skills", program=program, capacity=40)
    occurrence = upcoming(clinic_a, group)
    enrolled = make_patient(clinic_a, first_name="Enid", last_name="Enrolled", status="active")
    with tenant_context(clinic_a):
        enrolment_create(actor=None, patient=enrolled, program=program, starts_on=occurrence.local_date)
        Booking.objects.filter(patient=enrolled).update(status=Booking.Status.CANCELLED)
    for i in range(31):
        make_patient(clinic_a, first_name=f"Otto{i}", last_name="Outsider")
    client = client_for(nurse)
    page = url("occurrence", clinic_a, occurrence_id=occurrence.pk)

    body = client.get(page).content.decode()
    assert "Enrolled, Enid" in body and "Outsider" not in body
    with tenant_context(clinic_a):
        listed = AuditEvent.objects.filter(detail__view="booking list", patient_id=enrolled.pk)
        assert listed.count() == 1
    body = client.get(page + "?find=outsider").content.decode()
    assert body.count("Outsider, Otto") == 30 and 'id="more-matches"' in body and "Enrolled, Enid" not in body
    nobody = client.get(page + "?find=" + "zz" * 80)
    assert nobody.status_code == 200 and 'id="no-one-to-book"' in nobody.content.decode()


def test_a_patient_of_another_clinic_cannot_be_booked(clinic_a, clinic_b, nurse, series, patient_b):
    occurrence = upcoming(clinic_a, series)
    response = client_for(nurse).post(
        url("occurrence-book", clinic_a, occurrence_id=occurrence.pk), {"patient": str(patient_b.pk)}
    )
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert bookings(clinic_a, occurrence) == {}


def test_a_move_that_clashes_is_a_form_error_and_writes_nothing(clinic_a, clinician, nurse, series, program):
    later = make_series(clinic_a, clinician, title="Mindfulness", start_time=dt.time(15, 0), minutes=60)
    occurrence = upcoming(clinic_a, series)
    response = client_for(nurse).post(
        url("occurrence-move", clinic_a, occurrence_id=occurrence.pk),
        {"date": occurrence.local_date.isoformat(), "time": "14:30", "minutes": "60", "room": ""},
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "The facilitator already runs Mindfulness" in body and 'id="error-summary"' in body
    with tenant_context(clinic_a):
        unchanged = Occurrence.objects.get(pk=occurrence.pk)
    assert (unchanged.starts_at, unchanged.room_id, unchanged.detached) == (
        occurrence.starts_at,
        occurrence.room_id,
        False,
    )
    assert later.pk  # the other series is where it was


def test_a_move_to_a_free_time_moves_the_session_in_clinic_time(clinic_a, nurse, series, patient_a):
    occurrence = upcoming(clinic_a, series)
    client = client_for(nurse)
    client.post(url("occurrence-book", clinic_a, occurrence_id=occurrence.pk), {"patient": str(patient_a.pk)})
    new_day = occurrence.local_date + dt.timedelta(days=1)
    done = client.post(
        url("occurrence-move", clinic_a, occurrence_id=occurrence.pk),
        {"date": new_day.isoformat(), "time": "17:30", "minutes": "90", "room": ""},
        follow=True,
    )
    assert "5:30 PM" in done.content.decode()
    with tenant_context(clinic_a):
        moved = Occurrence.objects.get(pk=occurrence.pk)
        booking = Booking.objects.get(occurrence=moved)
    assert moved.local_date == new_day and moved.minutes == 90 and moved.room_id is None and moved.detached
    assert booking.starts_at == moved.starts_at  # the booking followed


def test_cancelling_a_session_needs_a_reason_and_strikes_it_through(clinic_a, nurse, series):
    occurrence = upcoming(clinic_a, series)
    client = client_for(nurse)
    cancel = url("occurrence-cancel", clinic_a, occurrence_id=occurrence.pk)
    refused = client.post(cancel, {"reason": "  "})
    assert refused.status_code == 400
    with tenant_context(clinic_a):
        assert Occurrence.objects.get(pk=occurrence.pk).status == "scheduled"
    done = client.post(cancel, {"reason": "Facilitator ill"}, follow=True).content.decode()
    assert "is cancelled" in done and "Cancelled: Facilitator ill" in done
    week = client.get(url("week", clinic_a), {"week": occurrence.local_date.isoformat()}).content.decode()
    assert '<s class="cal-title">DBT skills</s>' in week


# --- a patient's schedule --------------------------------------------------------------------------------
def test_enrol_book_one_off_and_end_the_enrolment(clinic_a, clinician, nurse, program, patient_a):
    group = make_series(clinic_a, clinician, program=program, capacity=8)
    other = make_series(clinic_a, clinician, title="Family night", start_time=dt.time(18, 0), minutes=60)
    today = today_in(clinic_a)
    client = client_for(nurse)
    schedule = url("patient-schedule", clinic_a, patient_id=patient_a.pk)
    assert "Not enrolled in a program." in client.get(schedule).content.decode()

    done = client.post(
        url("patient-enrol", clinic_a, patient_id=patient_a.pk),
        {"program": str(program.pk), "starts_on": today.isoformat(), "series": [str(group.pk)]},
        follow=True,
    ).content.decode()
    assert f"Avery Alder is enrolled in {program.name}" in done
    assert f"Enrolled in <strong>{program.name}</strong>" in done and 'id="upcoming"' in done

    occurrence = upcoming(clinic_a, other)
    booked = client.post(
        url("patient-book", clinic_a, patient_id=patient_a.pk),
        {"occurrence": str(occurrence.pk)},
        follow=True,
    ).content.decode()
    assert "Avery Alder is booked. Family night" in booked
    assert bookings(clinic_a, occurrence) == {"Avery": "booked"}
    with tenant_context(clinic_a):
        one_off = Booking.objects.get(occurrence=occurrence)
    cancel = url("booking-cancel", clinic_a, booking_id=one_off.pk)
    assert f"{cancel}?next=patient" in client.get(schedule).content.decode()
    back = client.post(cancel, {"reason": "Rescheduled", "next": "patient"})
    assert back.status_code == 302 and back["Location"] == schedule
    assert bookings(clinic_a, occurrence) == {"Avery": "cancelled"}
    client.post(
        url("patient-book", clinic_a, patient_id=patient_a.pk), {"occurrence": str(occurrence.pk)}
    )  # booked again: a cancelled booking is taken up again
    assert bookings(clinic_a, occurrence) == {"Avery": "booked"}

    with tenant_context(clinic_a):
        enrolment = Enrolment.objects.get(patient=patient_a)
    end = url("enrolment-end", clinic_a, enrolment_id=enrolment.pk)
    assert client.post(end, {"ended_on": today.isoformat(), "reason": ""}).status_code == 400
    ended = client.post(end, {"ended_on": today.isoformat(), "reason": "Stepped down"}, follow=True)
    assert f"enrolment in {program.name} has ended" in ended.content.decode()
    with tenant_context(clinic_a):
        assert Enrolment.objects.get(pk=enrolment.pk).ended_on == today
        group_left = Booking.objects.filter(occurrence__series=group, occurrence__local_date__gt=today)
        assert not group_left.exclude(status="cancelled").exists()
    assert bookings(clinic_a, occurrence) == {"Avery": "booked"}  # the one-off was not the program's


def test_the_patient_record_shows_the_schedule_panel(clinic_a, nurse, clinician, program, patient_a):
    group = make_series(clinic_a, clinician, program=program)
    client = client_for(nurse)
    client.post(
        url("patient-enrol", clinic_a, patient_id=patient_a.pk),
        {"program": str(program.pk), "starts_on": today_in(clinic_a).isoformat()},
    )
    record = client.get(
        reverse("patients:detail", kwargs={"clinic_slug": clinic_a.slug, "patient_id": patient_a.pk})
    )
    panel_url = url("patient-panel", clinic_a, patient_id=patient_a.pk)
    assert panel_url in record.content.decode()
    panel = client.get(panel_url, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="scheduling-panel-body"' in panel and "<html" not in panel
    assert f"Enrolled in <strong>{program.name}</strong>" in panel
    assert panel.count(group.title) >= 1 and 'id="schedule-next"' in panel


def test_the_schedule_panel_reads_in_a_fixed_number_of_queries(
    clinic_a, nurse, clinician, program, patient_a, django_assert_max_num_queries
):
    make_series(clinic_a, clinician, program=program)
    client = client_for(nurse)
    panel = url("patient-panel", clinic_a, patient_id=patient_a.pk)
    client.get(panel)
    connection.queries_log.clear()  # set-up filled the log (9,000 max): the capture's slice would be empty
    with django_assert_max_num_queries(40) as before:
        client.get(panel, HTTP_HX_REQUEST="true")
    first_count = len(before.captured_queries)
    assert first_count > 3
    client.post(
        url("patient-enrol", clinic_a, patient_id=patient_a.pk),
        {"program": str(program.pk), "starts_on": today_in(clinic_a).isoformat()},
    )
    with django_assert_max_num_queries(first_count):
        body = client.get(panel, HTTP_HX_REQUEST="true").content.decode()
    assert "Next sessions" in body and "DBT skills" in body


# --- the authorization outlook ----------------------------------------------------------------------------
def _authorization(clinic, patient, **over):
    from patients.insurance.services import authorization_create, coverage_create

    with tenant_context(clinic):
        coverage = coverage_create(
            actor=None,
            patient=patient,
            fields={
                "payer_name": "Acme Health Plan",
                "payer_id": "ACME1",
                "member_id": "ABC-123",
                "subscriber_relationship": "self",
                "effective_from": clinic_today() - dt.timedelta(days=60),
                "priority": "primary",
            },
        )
        fields = {
            "level_of_care": "iop",
            "authorization_number": "A-77",
            "units_authorized": 20,
            "unit_type": "days",
            "start_date": clinic_today() - dt.timedelta(days=30),
            "end_date": clinic_today(),
            **over,
        }
        return authorization_create(actor=None, coverage=coverage, fields=fields)


def test_booking_past_the_authorization_asks_first_and_a_stale_confirmation_asks_again(
    clinic_a, nurse, series, patient_a
):
    _authorization(clinic_a, patient_a)  # ends today; the session is later
    occurrence = upcoming(clinic_a, series)
    client = client_for(nurse)
    book = url("occurrence-book", clinic_a, occurrence_id=occurrence.pk)

    asked = client.post(book, {"patient": str(patient_a.pk)})
    body = asked.content.decode()
    assert 'id="authorization-warning"' in body and 'id="book-anyway"' in body
    assert (
        "1 session (" in body and "outside the Intensive outpatient (IOP) authorization&#x27;s dates" in body
    )
    assert bookings(clinic_a, occurrence) == {}  # nothing booked until confirmed

    stale = client.post(book, {"patient": str(patient_a.pk), "confirm": "0123456789abcdef0123"})
    assert "changed since you confirmed" in stale.content.decode()
    assert bookings(clinic_a, occurrence) == {}

    fingerprint = body.split('name="confirm" value="')[1].split('"')[0]
    done = client.post(book, {"patient": str(patient_a.pk), "confirm": fingerprint}, follow=True)
    assert "Avery Alder is booked." in done.content.decode()
    assert bookings(clinic_a, occurrence) == {"Avery": "booked"}


def test_an_enrolment_beyond_the_units_left_asks_first(clinic_a, clinician, nurse, program, patient_a):
    from scheduling.authorizations import enrolment_outlook

    make_series(clinic_a, clinician, program=program)
    today = today_in(clinic_a)
    _authorization(clinic_a, patient_a, units_authorized=2, end_date=today + dt.timedelta(days=120))
    enrol = url("patient-enrol", clinic_a, patient_id=patient_a.pk)
    data = {"program": str(program.pk), "starts_on": today.isoformat()}
    client = client_for(nurse)
    asked = client.post(enrol, data).content.decode()
    assert "A-77: 2 days authorized, 0 used and 0 booked ahead, so 2 left; this adds" in asked
    with tenant_context(clinic_a):
        assert not Enrolment.objects.exists()
        outlook = enrolment_outlook(
            patient=patient_a, program=program, series=None, starts_on=today, today=today
        )
    done = client.post(enrol, {**data, "confirm": outlook.fingerprint}, follow=True).content.decode()
    assert "is enrolled in" in done
    with tenant_context(clinic_a):
        assert Enrolment.objects.filter(patient=patient_a, ended_on__isnull=True).exists()


def test_within_the_authorization_nothing_is_asked(clinic_a, nurse, series, patient_a):
    today = today_in(clinic_a)
    _authorization(clinic_a, patient_a, end_date=today + dt.timedelta(days=90))
    occurrence = upcoming(clinic_a, series)
    done = client_for(nurse).post(
        url("occurrence-book", clinic_a, occurrence_id=occurrence.pk),
        {"patient": str(patient_a.pk)},
        follow=True,
    )
    assert "Avery Alder is booked." in done.content.decode()
    assert "authorization-warning" not in done.content.decode()


# --- bad ids ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "kwarg"),
    [
        ("occurrence", "occurrence_id"),
        ("occurrence-book", "occurrence_id"),
        ("occurrence-move", "occurrence_id"),
        ("occurrence-cancel", "occurrence_id"),
        ("booking-cancel", "booking_id"),
        ("patient-schedule", "patient_id"),
        ("patient-panel", "patient_id"),
        ("patient-enrol", "patient_id"),
        ("patient-book", "patient_id"),
        ("enrolment-end", "enrolment_id"),
    ],
)
def test_an_unknown_id_is_not_found(clinic_a, clinic_admin, name, kwarg):
    client = client_for(clinic_admin)
    assert client.get(url(name, clinic_a, **{kwarg: uuid.uuid4()})).status_code == 404
    if name not in ("occurrence", "patient-schedule", "patient-panel"):
        assert client.post(url(name, clinic_a, **{kwarg: uuid.uuid4()}), {}).status_code == 404


def test_another_clinics_session_is_not_found(clinic_a, clinic_b, nurse, staff_b):
    theirs = make_series(clinic_b, staff_b["clinician"])
    assert (
        client_for(nurse)
        .get(url("occurrence", clinic_a, occurrence_id=upcoming(clinic_b, theirs).pk))
        .status_code
        == 404
    )


def _outlook(clinic, patient, occurrences):
    from scheduling.authorizations import booking_outlook

    with tenant_context(clinic):
        rows = list(
            Occurrence.objects.filter(pk__in=[o.pk for o in occurrences]).select_related(
                "session_type", "program"
            )
        )
        return booking_outlook(patient=patient, occurrences=rows, today=clinic_today())


def test_the_outlook_counts_a_program_day_once_and_what_is_booked_ahead(
    clinic_a, clinician, program, patient_a
):
    """A day authorization: two sessions on one day are one unit; sessions already booked ahead use up
    what is left before the new one is counted."""
    morning = make_series(clinic_a, clinician, program=program, minutes=60)
    afternoon = make_series(
        clinic_a, clinician, program=program, title="Process group", start_time=dt.time(14, 0)
    )
    today = today_in(clinic_a)
    _authorization(clinic_a, patient_a, units_authorized=2, end_date=today + dt.timedelta(days=90))
    first, second = upcoming(clinic_a, morning, 0), upcoming(clinic_a, morning, 1)
    same_day = upcoming(clinic_a, afternoon, 0)
    assert same_day.local_date == first.local_date
    assert _outlook(clinic_a, patient_a, [first, same_day, second]).warnings == ()  # two days of two
    with tenant_context(clinic_a):
        booking_add(actor=None, occurrence=first, patient=patient_a)
        booking_add(actor=None, occurrence=second, patient=patient_a)
    assert _outlook(clinic_a, patient_a, [same_day]).warnings == ()  # a day already counted
    third = upcoming(clinic_a, morning, 2)
    (warning,) = _outlook(clinic_a, patient_a, [third]).warnings
    assert "2 days authorized, 0 used and 2 booked ahead, so 0 left; this adds 1" in warning


def test_the_outlook_names_a_pending_authorization_and_is_silent_without_insurance(
    clinic_a, clinician, program, patient_a
):
    group = make_series(clinic_a, clinician, program=program)
    occurrence = upcoming(clinic_a, group)
    uninsured = make_patient(clinic_a, first_name="Uma")
    assert _outlook(clinic_a, uninsured, [occurrence]) == _outlook(clinic_a, uninsured, [])  # nothing to say
    today = today_in(clinic_a)
    _authorization(clinic_a, patient_a, status="pending", end_date=today + dt.timedelta(days=60))
    (warning,) = _outlook(clinic_a, patient_a, [occurrence]).warnings
    assert "authorization for these dates is still pending" in warning


def test_a_new_individual_session_books_the_patient_and_a_clash_is_a_form_error(
    clinic_a, clinician, nurse, admissions, patient_a
):
    group = make_series(clinic_a, clinician)
    occurrence = upcoming(clinic_a, group)
    new = url("patient-session-new", clinic_a, patient_id=patient_a.pk)
    assert client_for(admissions).get(new).status_code == 403  # admissions books, the care team schedules
    client = client_for(nurse)
    page = client.get(new).content.decode()
    assert "Individual therapy" in page and "DBT skills group" not in page  # individual kinds only
    with tenant_context(clinic_a):
        from scheduling.models import SessionType

        therapy = SessionType.objects.get(code="individual_therapy")
    data = {
        "session_type": str(therapy.pk),
        "facilitator": str(clinician.pk),
        "date": occurrence.local_date.isoformat(),
        "time": "11:00",  # inside the clinician's 10 am group
    }
    clash = client.post(new, data)
    assert clash.status_code == 400 and "The facilitator already runs DBT skills" in clash.content.decode()
    with tenant_context(clinic_a):
        assert not Occurrence.objects.filter(session_type=therapy).exists()
    done = client.post(new, {**data, "time": "14:00"}, follow=True).content.decode()
    assert "Individual therapy with Avery Alder on" in done and "2:00 PM" in done
    with tenant_context(clinic_a):
        created = Occurrence.objects.get(session_type=therapy)
        assert created.minutes == therapy.default_minutes and created.capacity == 1
    assert bookings(clinic_a, created) == {"Avery": "booked"}
