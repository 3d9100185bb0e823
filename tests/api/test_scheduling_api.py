"""Scheduling over the API: programs, series (clash → 409), occurrences (windows, sync, cancel, move),
enrolments, bookings (waitlist, cancel with promotion, attendance) and calendar feeds; problems instead of
500s, reads audited, flat query counts, times with the clinic's offset."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import clinic_today, tenant_context
from clinic.tenancy.roles import Role
from scheduling.models import Booking, CalendarFeed, Enrolment, Occurrence, SessionSeries
from scheduling.services import booking_add
from tests.conftest import client_for, make_member, make_patient, token_client
from tests.scheduling.factories import local, make_program, make_room, make_series, session_type

pytestmark = pytest.mark.django_db

V1 = "/api/v1/"
PROBLEM = "application/problem+json"


@pytest.fixture
def nurse_api(clinic_a) -> Client:
    return token_client(clinic_a, Role.NURSE)


def _post(client: Client, url: str, body: dict | str, **headers):
    data = body if isinstance(body, str) else json.dumps(body, default=str)
    return client.post(url, data=data, content_type="application/json", headers=headers)


def _today(clinic) -> dt.date:
    with tenant_context(clinic):
        return clinic_today()


def _future(clinic, series, n: int = 0) -> Occurrence:
    with tenant_context(clinic):
        rows = Occurrence.objects.filter(series=series, local_date__gt=clinic_today()).order_by("starts_at")
        return list(rows)[n]


def _series_body(clinic, who, **changes) -> dict:
    with tenant_context(clinic):
        kind = session_type(clinic)
    body = {
        "session_type": str(kind.pk),
        "title": "Evening skills",
        "facilitator": who.pk,
        "weekdays": [1, 3],
        "start_time": "18:00",
        "minutes": 90,
        "starts_on": _today(clinic).isoformat(),
        "capacity": 8,
    }
    body.update(changes)
    return body


def _counts(clinic) -> tuple[int, int, int]:
    with tenant_context(clinic):
        return SessionSeries.objects.count(), Occurrence.objects.count(), Booking.objects.count()


# --- programs ----------------------------------------------------------------------------------------------
def test_programs_list_and_read_are_audited(nurse_api, clinic_a):
    program = make_program(clinic_a)
    listed = nurse_api.get(f"{V1}programs/")
    assert listed.status_code == 200, listed.content
    assert [row["id"] for row in listed.json()["results"]] == [str(program.pk)]
    one = nurse_api.get(f"{V1}programs/{program.pk}/").json()
    assert (one["level"], one["hours_min"], one["hours_below"]) == ("iop", "9.0", "20.0")
    with tenant_context(clinic_a):
        assert AuditEvent.objects.filter(action=AuditEvent.Action.VIEW, object_id=str(program.pk)).exists()
        assert AuditEvent.objects.filter(
            action=AuditEvent.Action.LIST, object_type="scheduling.program"
        ).exists()
    assert token_client(clinic_a, Role.AUDITOR).get(f"{V1}programs/").status_code == 403


# --- session series ------------------------------------------------------------------------------------
def test_series_create_materialises_sessions_in_local_time(nurse_api, clinic_a, clinician):
    response = _post(nurse_api, f"{V1}session-series/", _series_body(clinic_a, clinician))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["rrule"].startswith("FREQ=WEEKLY") and "BYDAY=TU,TH" in body["rrule"]
    assert body["facilitator"] == clinician.pk and body["session_type_summary"]["code"] == "dbt_skills"
    occurrences = nurse_api.get(f"{V1}occurrences/", {"series": body["id"]}).json()["results"]
    assert occurrences, "the series' sessions exist"
    first = dt.datetime.fromisoformat(occurrences[0]["starts_at"])
    assert first.utcoffset() in (dt.timedelta(hours=-5), dt.timedelta(hours=-4))  # New York, with its offset
    assert first.hour == 18 and occurrences[0]["minutes"] == 90
    with tenant_context(clinic_a):
        event = AuditEvent.objects.get(action=AuditEvent.Action.CREATE, object_id=body["id"])
    assert event.actor_label.startswith("api:EHR sync")


def test_series_clash_is_409_naming_it_and_writes_nothing(nurse_api, clinic_a, clinician):
    make_series(clinic_a, clinician, weekdays=[1], start_time=dt.time(18, 30), minutes=60)
    before = _counts(clinic_a)
    response = _post(nurse_api, f"{V1}session-series/", _series_body(clinic_a, clinician))
    assert response.status_code == 409, response.content
    assert response["Content-Type"] == PROBLEM
    message = response.json()["errors"]["non_field_errors"][0]
    assert "facilitator already runs DBT skills" in message
    assert _counts(clinic_a) == before


BAD_SERIES = {
    "weekday-out-of-range": ({"weekdays": [9]}, "weekdays"),
    "no-weekdays": ({"weekdays": []}, "weekdays"),
    "minutes-too-short": ({"minutes": 2}, "minutes"),
    "unknown-session-type": ({"session_type": "00000000-0000-0000-0000-000000000000"}, "session_type"),
    "malformed-session-type": ({"session_type": "not-a-uuid"}, "session_type"),
    "facilitator-not-staff": ({"facilitator": 999999}, "facilitator"),
    "facilitator-beyond-bigint": ({"facilitator": 10**20}, "facilitator"),
    "facilitator-wrong-role": (None, "facilitator"),
    "ends-before-start": ({"ends_on": "2000-01-01"}, "ends_on"),
    "bad-time": ({"start_time": "25:00"}, "start_time"),
}


@pytest.mark.parametrize(("change", "field"), BAD_SERIES.values(), ids=BAD_SERIES.keys())
def test_bad_series_is_400_on_its_field(nurse_api, clinic_a, clinician, change, field):
    if change is None:  # a nurse does not run DBT skills groups
        change = {"facilitator": make_member(clinic_a, Role.NURSE, email="rn2@clinic-a.example.org").pk}
    before = _counts(clinic_a)
    response = _post(nurse_api, f"{V1}session-series/", _series_body(clinic_a, clinician, **change))
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == PROBLEM
    assert field in response.json()["errors"], response.json()
    assert _counts(clinic_a) == before


def test_broken_json_is_a_problem_not_a_500(nurse_api):
    response = _post(nurse_api, f"{V1}session-series/", "{not json")
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM


def test_a_staff_member_of_another_clinic_cannot_facilitate(nurse_api, clinic_a, clinic_b, clinician):
    outsider = make_member(clinic_b, Role.CLINICIAN)
    response = _post(
        nurse_api, f"{V1}session-series/", _series_body(clinic_a, clinician, facilitator=outsider.pk)
    )
    assert response.status_code == 400
    assert "No staff member" in response.json()["errors"]["facilitator"][0]


# --- occurrences ---------------------------------------------------------------------------------------
def test_occurrence_window_and_sync_filters(nurse_api, clinic_a, clinician):
    series = make_series(clinic_a, clinician)
    today = _today(clinic_a)
    window = {"from": today.isoformat(), "to": (today + dt.timedelta(days=6)).isoformat()}
    rows = nurse_api.get(f"{V1}occurrences/", window).json()["results"]
    with tenant_context(clinic_a):
        expected = list(
            Occurrence.objects.filter(local_date__gte=today, local_date__lte=today + dt.timedelta(days=6))
            .order_by("starts_at")
            .values_list("pk", flat=True)
        )
    assert [row["id"] for row in rows] == [str(pk) for pk in expected] and len(expected) == 3
    moved = _future(clinic_a, series, 2)
    with tenant_context(clinic_a):
        Occurrence.objects.exclude(pk=moved.pk).update(updated_at=timezone.now() - dt.timedelta(days=3))
    since = (timezone.now() - dt.timedelta(days=1)).isoformat()
    synced = nurse_api.get(f"{V1}occurrences/", {"updated_since": since}).json()["results"]
    assert [row["id"] for row in synced] == [str(moved.pk)]
    bad = nurse_api.get(f"{V1}occurrences/", {"from": "next tuesday"})
    assert bad.status_code == 400 and "from" in bad.json()["errors"]


def test_occurrence_list_query_count_is_flat(nurse_api, clinic_a, clinician):
    make_series(clinic_a, clinician, weekdays=[0])
    patient = make_patient(clinic_a)
    with tenant_context(clinic_a):
        booking_add(actor=None, occurrence=Occurrence.objects.first(), patient=patient)

    def queries() -> tuple[int, int]:
        nurse_api.get(f"{V1}programs/")  # the token's last-use stamp is written once, not per page
        with CaptureQueriesContext(connection) as captured:
            response = nurse_api.get(f"{V1}occurrences/", {"page_size": 200})
        assert response.status_code == 200
        return len(captured), len(response.json()["results"])

    few, few_rows = queries()
    other = make_member(clinic_a, Role.PSYCHIATRIST, email="second@clinic-a.example.org")
    make_series(clinic_a, other, weekdays=[0, 1, 2, 3, 4], start_time=dt.time(14, 0), minutes=60)
    many, many_rows = queries()
    assert many_rows > few_rows * 3
    assert many == few


def test_cancel_an_occurrence(nurse_api, clinic_a, clinician):
    series = make_series(clinic_a, clinician)
    occurrence = _future(clinic_a, series)
    url = f"{V1}occurrences/{occurrence.pk}/cancel/"
    assert nurse_api.get(url).json()["allowed"] is True
    missing = _post(nurse_api, url, {})
    assert missing.status_code == 400 and "reason" in missing.json()["errors"]
    done = _post(nurse_api, url, {"reason": "Facilitator ill"})
    assert done.status_code == 200, done.content
    assert (done.json()["status"], done.json()["cancel_reason"]) == ("cancelled", "Facilitator ill")
    assert nurse_api.get(url).json() == {
        "action": "cancel",
        "allowed": False,
        "problem": "This session is already cancelled.",
        "requires": ["reason"],
    }
    again = _post(nurse_api, url, {"reason": "Twice"})
    assert again.status_code == 409 and "already cancelled" in again.json()["errors"]["non_field_errors"][0]
    admissions = token_client(clinic_a, Role.ADMISSIONS)
    assert _post(admissions, url, {"reason": "x"}).status_code == 403  # view, not manage


def test_move_an_occurrence(nurse_api, clinic_a, clinician):
    series = make_series(clinic_a, clinician)
    occurrence, other = _future(clinic_a, series, 0), _future(clinic_a, series, 1)
    url = f"{V1}occurrences/{occurrence.pk}/move/"
    naive = _post(nurse_api, url, {"starts_at": "2030-01-07T09:00:00"})
    assert naive.status_code == 400 and "offset" in naive.json()["errors"]["starts_at"][0]
    far = _post(nurse_api, url, {"starts_at": "9999-12-31T23:00:00-05:00"})
    assert far.status_code == 400 and "starts_at" in far.json()["errors"]
    clash = _post(nurse_api, url, {"starts_at": other.starts_at.isoformat()})
    assert (
        clash.status_code == 409
        and "facilitator already runs" in clash.json()["errors"]["non_field_errors"][0]
    )
    day = occurrence.local_date + dt.timedelta(days=1)
    new_start = local(clinic_a, day, 7, 30)
    room = make_room(clinic_a)
    moved = _post(nurse_api, url, {"starts_at": new_start.isoformat(), "minutes": 60, "room": str(room.pk)})
    assert moved.status_code == 200, moved.content
    body = moved.json()
    assert dt.datetime.fromisoformat(body["starts_at"]) == new_start and body["minutes"] == 60
    assert body["detached"] is True and body["room"]["name"] == room.name
    unknown_room = _post(nurse_api, url, {"starts_at": new_start.isoformat(), "room": str(series.pk)})
    assert unknown_room.status_code == 400 and "room" in unknown_room.json()["errors"]


# --- enrolments ----------------------------------------------------------------------------------------
def test_enrolment_books_the_programs_series_and_ends(nurse_api, clinic_a, clinician, patient_a):
    program = make_program(clinic_a)
    series = make_series(clinic_a, clinician, program=program)
    today = _today(clinic_a)
    response = _post(
        nurse_api, f"{V1}enrolments/", {"patient": str(patient_a.pk), "program": str(program.pk)}
    )
    assert response.status_code == 201, response.content
    enrolment = response.json()
    assert enrolment["starts_on"] == today.isoformat() and enrolment["episode"]
    bookings = nurse_api.get(f"{V1}bookings/", {"patient": str(patient_a.pk)}).json()["results"]
    with tenant_context(clinic_a):
        ahead = Occurrence.objects.filter(series=series, local_date__gte=today).count()
    assert len(bookings) == ahead and {b["status"] for b in bookings} == {"booked"}
    twice = _post(nurse_api, f"{V1}enrolments/", {"patient": str(patient_a.pk), "program": str(program.pk)})
    assert twice.status_code == 400 and "already enrolled" in twice.json()["errors"]["program"][0]
    url = f"{V1}enrolments/{enrolment['id']}/end/"
    before = _post(nurse_api, url, {"ended_on": (today - dt.timedelta(days=30)).isoformat()})
    assert before.status_code == 400 and "ended_on" in before.json()["errors"]
    ended = _post(nurse_api, url, {"reason": "Stepped down to OP"})
    assert ended.status_code == 200 and ended.json()["ended_on"] == today.isoformat()
    with tenant_context(clinic_a):
        later = Booking.objects.filter(patient=patient_a, occurrence__local_date__gt=today)
        assert set(later.values_list("status", flat=True)) == {"cancelled"}
    assert nurse_api.get(url).json()["allowed"] is False
    assert _post(nurse_api, url, {}).status_code == 409


def test_enrolment_of_another_clinics_patient_is_400(nurse_api, clinic_a, patient_b):
    program = make_program(clinic_a)
    response = _post(
        nurse_api, f"{V1}enrolments/", {"patient": str(patient_b.pk), "program": str(program.pk)}
    )
    assert response.status_code == 400 and "patient" in response.json()["errors"]
    with tenant_context(clinic_a):
        assert not Enrolment.objects.exists()


# --- bookings ------------------------------------------------------------------------------------------
def test_booking_waitlist_and_promotion(nurse_api, clinic_a, clinician):
    series = make_series(clinic_a, clinician, capacity=1)
    occurrence = _future(clinic_a, series)
    first, second = make_patient(clinic_a, first_name="Ann"), make_patient(clinic_a, first_name="Bo")
    url = f"{V1}bookings/"
    booked = _post(nurse_api, url, {"occurrence": str(occurrence.pk), "patient": str(first.pk)})
    assert booked.status_code == 201 and booked.json()["status"] == "booked"
    assert dt.datetime.fromisoformat(booked.json()["starts_at"]) == occurrence.starts_at
    waiting = _post(nurse_api, url, {"occurrence": str(occurrence.pk), "patient": str(second.pk)})
    assert waiting.status_code == 201 and waiting.json()["status"] == "waitlisted"
    assert waiting.json()["waitlisted_at"]
    twice = _post(nurse_api, url, {"occurrence": str(occurrence.pk), "patient": str(first.pk)})
    assert twice.status_code == 409 and "already booked" in twice.json()["errors"]["non_field_errors"][0]
    counts = nurse_api.get(f"{V1}occurrences/{occurrence.pk}/").json()
    assert (counts["booked"], counts["waitlisted"]) == (1, 1)
    cancel = _post(nurse_api, f"{url}{booked.json()['id']}/cancel/", {"reason": "Family emergency"})
    assert cancel.status_code == 200, cancel.content
    assert cancel.json()["booking"]["status"] == "cancelled"
    assert cancel.json()["promoted"]["id"] == waiting.json()["id"]
    assert cancel.json()["promoted"]["status"] == "booked"


def test_booking_a_patient_who_is_elsewhere_is_409(nurse_api, clinic_a, clinician, patient_a):
    series = make_series(clinic_a, clinician)
    other = make_member(clinic_a, Role.PSYCHIATRIST, email="second@clinic-a.example.org")
    overlapping = make_series(clinic_a, other, start_time=dt.time(11, 0), minutes=60)
    occurrence = _future(clinic_a, series)
    with tenant_context(clinic_a):
        booking_add(actor=None, occurrence=occurrence, patient=patient_a)
        same_day = Occurrence.objects.get(series=overlapping, local_date=occurrence.local_date)
    response = _post(
        nurse_api, f"{V1}bookings/", {"occurrence": str(same_day.pk), "patient": str(patient_a.pk)}
    )
    assert response.status_code == 409
    assert "is booked into DBT skills" in response.json()["errors"]["non_field_errors"][0]


def test_booking_with_unknown_ids_is_400(nurse_api, clinic_a, patient_a):
    response = _post(nurse_api, f"{V1}bookings/", {"occurrence": "nope", "patient": str(patient_a.pk)})
    assert response.status_code == 400 and "occurrence" in response.json()["errors"]


def test_attendance_through_the_api(nurse_api, clinic_a, clinician, patient_a):
    series = make_series(clinic_a, clinician)
    with tenant_context(clinic_a):
        past = Occurrence.objects.filter(series=series, local_date__lt=clinic_today()).latest("starts_at")
        booking = booking_add(actor=None, occurrence=past, patient=patient_a)
    url = f"{V1}bookings/{booking.pk}/attendance/"
    assert nurse_api.get(url).json()["allowed"] is True
    late = _post(nurse_api, url, {"attendance": "late"})
    assert late.status_code == 400 and "how many minutes" in late.json()["errors"]["non_field_errors"][0]
    bad = _post(nurse_api, url, {"attendance": "sleeping"})
    assert bad.status_code == 400 and "attendance" in bad.json()["errors"]
    done = _post(
        nurse_api,
        url,
        {"attendance": "late", "minutes": 150, "note_line": "Arrived late; joined the role-play."},
    )
    assert done.status_code == 200, done.content
    assert (done.json()["booking"]["attendance"], done.json()["booking"]["minutes_attended"]) == ("late", 150)
    assert done.json()["warnings"] == []
    with tenant_context(clinic_a):
        assert Booking.objects.get(pk=booking.pk).note_line == "Arrived late; joined the role-play."
    assert _post(token_client(clinic_a, Role.ADMISSIONS), url, {"attendance": "present"}).status_code == 403
    # A session that has not started yet: nothing to take.
    future = _future(clinic_a, series)
    with tenant_context(clinic_a):
        ahead = booking_add(actor=None, occurrence=future, patient=patient_a)
    early = _post(nurse_api, f"{V1}bookings/{ahead.pk}/attendance/", {"attendance": "present"})
    assert (
        early.status_code == 409
        and "when the session starts" in early.json()["errors"]["non_field_errors"][0]
    )


def test_attendance_for_a_session_outside_any_program(nurse_api, clinic_a, clinician, patient_a):
    """The occurrence has no program (a nullable join): recording still locks only the occurrence row."""
    series = make_series(clinic_a, clinician)
    with tenant_context(clinic_a):
        past = Occurrence.objects.filter(series=series, local_date__lt=clinic_today()).latest("starts_at")
        assert past.program_id is None
        booking = booking_add(actor=None, occurrence=past, patient=patient_a)
    response = _post(nurse_api, f"{V1}bookings/{booking.pk}/attendance/", {"attendance": "absent"})
    assert response.status_code == 200, response.content


def test_booking_list_is_audited_per_patient_and_flat(nurse_api, clinic_a, clinician):
    series = make_series(clinic_a, clinician)
    occurrence = _future(clinic_a, series)

    def queries() -> int:
        nurse_api.get(f"{V1}programs/")  # the token's last-use stamp is written once, not per page
        with CaptureQueriesContext(connection) as captured:
            assert nurse_api.get(f"{V1}bookings/").status_code == 200
        return len(captured)

    with tenant_context(clinic_a):
        booking_add(actor=None, occurrence=occurrence, patient=make_patient(clinic_a))
    few = queries()
    with tenant_context(clinic_a):
        for n in range(4):
            booking_add(actor=None, occurrence=occurrence, patient=make_patient(clinic_a, last_name=f"P{n}"))
    assert queries() == few
    with tenant_context(clinic_a):
        listed = AuditEvent.objects.filter(action=AuditEvent.Action.LIST, object_type="scheduling.booking")
        assert listed.latest("occurred_at").detail["shown"] == 5


# --- calendar feeds ------------------------------------------------------------------------------------
def test_a_staff_member_makes_and_revokes_their_feed(clinic_a, clinician):
    browser = client_for(clinician)
    headers = {"X-Stepdown-Clinic": clinic_a.slug}
    made = _post(browser, f"{V1}calendar-feeds/", {}, **headers)
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["user"] == clinician.pk and body["is_active"] is True
    assert body["url"].endswith(f"/feeds/{body['token']}.ics") and body["token"].startswith(f"{clinic_a.pk}.")
    assert browser.get(f"/feeds/{body['token']}.ics").status_code == 200
    with tenant_context(clinic_a):
        stored = CalendarFeed.objects.get(pk=body["id"])
        assert body["token"] not in (stored.token_hash, stored.token_prefix)  # only the hash is kept
    listed = browser.get(f"{V1}calendar-feeds/", {"user": clinician.pk}, headers=headers).json()["results"]
    assert [row["id"] for row in listed] == [body["id"]] and "token" not in listed[0]
    # A second feed replaces the first: one working link per person.
    again = _post(browser, f"{V1}calendar-feeds/", {}, **headers).json()
    assert Client().get(f"/feeds/{body['token']}.ics").status_code == 404
    gone = browser.delete(f"{V1}calendar-feeds/{again['id']}/", headers=headers)
    assert gone.status_code == 204
    assert Client().get(f"/feeds/{again['token']}.ics").status_code == 404
    assert browser.get(f"{V1}calendar-feeds/{again['id']}/", headers=headers).json()["is_active"] is False


def test_an_api_client_names_whose_feed(clinic_a, clinician):
    client = token_client(clinic_a, Role.CLINIC_ADMIN)
    nameless = _post(client, f"{V1}calendar-feeds/", {})
    assert nameless.status_code == 400 and "user" in nameless.json()["errors"]
    made = _post(client, f"{V1}calendar-feeds/", {"user": clinician.pk})
    assert made.status_code == 201 and made.json()["user"] == clinician.pk
    outsider = _post(client, f"{V1}calendar-feeds/", {"user": 424242})
    assert outsider.status_code == 400
    assert (
        _post(
            token_client(clinic_a, Role.ADMISSIONS), f"{V1}calendar-feeds/", {"user": clinician.pk}
        ).status_code
        == 403
    )
