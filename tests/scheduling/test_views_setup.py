"""The schedule setup pages: programs, rooms, session types, recurring sessions (create, change this and
following, end) and facilitators' availability, through the browser."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import clinic_today, tenant_context
from scheduling.models import Availability, Occurrence, Program, Room, SeriesMember, SessionSeries
from tests.conftest import client_for, make_member, make_patient
from tests.scheduling.factories import make_program, make_room, make_series, session_type

pytestmark = pytest.mark.django_db


def url(name: str, clinic, **kwargs) -> str:
    return reverse(f"scheduling:{name}", kwargs={"clinic_slug": clinic.slug, **kwargs})


def today(clinic) -> dt.date:
    with tenant_context(clinic):
        return clinic_today()


def count(clinic, model) -> int:
    with tenant_context(clinic):
        return model.objects.count()


def series_post(clinic, facilitator, **overrides) -> dict:
    """A valid create body: a DBT group every day at 10 AM for an hour, from the clinic's today."""
    data = {
        "session_type": str(session_type(clinic).pk),
        "title": "",
        "program": "",
        "facilitator": str(facilitator.pk),
        "room": "",
        "weekdays": ["0", "1", "2", "3", "4", "5", "6"],
        "start_time": "10:00",
        "minutes": "60",
        "interval": "1",
        "starts_on": today(clinic).isoformat(),
        "ends_on": "",
        "capacity": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


# --- every page, and who may open it ---------------------------------------------------------------------
def _all_pages(clinic, clinician) -> list[str]:
    program = make_program(clinic)
    room = make_room(clinic)
    series = make_series(clinic, clinician, program=program, room=room, starts_on=today(clinic))
    with tenant_context(clinic):
        window = Availability.objects.create(
            staff=clinician, weekday=0, start_time=dt.time(9), end_time=dt.time(12)
        )
    return [
        url("setup", clinic),
        url("program-list", clinic),
        url("program-new", clinic),
        url("program-edit", clinic, program_id=program.pk),
        url("room-list", clinic),
        url("room-new", clinic),
        url("room-edit", clinic, room_id=room.pk),
        url("session-type-list", clinic),
        url("series-list", clinic),
        url("series-new", clinic),
        url("series", clinic, series_id=series.pk),
        url("series-following", clinic, series_id=series.pk),
        url("series-end", clinic, series_id=series.pk),
        url("availability", clinic),
        url("availability-remove", clinic, availability_id=window.pk),
    ]


def test_every_setup_page_renders_for_a_clinic_admin(clinic_a, clinic_admin, clinician):
    client = client_for(clinic_admin)
    for page in _all_pages(clinic_a, clinician):
        response = client.get(page)
        assert response.status_code == 200, page
        assert "<h1>" in response.content.decode(), page


def test_a_role_without_schedule_view_is_refused_everywhere(clinic_a, auditor, clinician):
    client = client_for(auditor)
    for page in _all_pages(clinic_a, clinician):
        assert client.get(page).status_code == 403, page


def test_admissions_may_look_but_not_change(clinic_a, admissions, clinician):
    client = client_for(admissions)
    pages = _all_pages(clinic_a, clinician)
    looking = [
        url(n, clinic_a) for n in ("setup", "program-list", "room-list", "series-list", "availability")
    ]
    for page in looking:
        body = client.get(page).content.decode()
        assert 'id="add-' not in body and 'id="availability-form"' not in body, page
    for page in [p for p in pages if p not in looking and "session-types" not in p]:
        if "/series/" in page and page.rstrip("/").split("/")[-1] not in ("following", "end", "new"):
            assert client.get(page).status_code == 200, page  # the series page itself is for viewers
            continue
        assert client.get(page).status_code == 403, page
    before = count(clinic_a, Program)
    body = {"name": "Sneaky", "level": "iop", "audience": "adult", "hours_min": "9", "hours_below": "20"}
    assert client.post(url("program-new", clinic_a), body).status_code == 403
    assert count(clinic_a, Program) == before


def test_the_landing_page_links_every_area(clinic_a, clinician):
    body = client_for(clinician).get(url("setup", clinic_a)).content.decode()
    for name in ("program-list", "room-list", "session-type-list", "series-list", "availability"):
        assert f'href="{url(name, clinic_a)}"' in body, name


# --- programs --------------------------------------------------------------------------------------------
def test_a_new_program_starts_from_its_levels_hours(clinic_a, clinic_admin):
    client = client_for(clinic_admin)
    php = client.get(url("program-new", clinic_a), {"level": "php"}).content.decode()
    assert 'name="hours_min" value="20"' in php
    assert re.search(r'<input[^>]*name="hours_below"(?![^>]*value=)[^>]*>', php)  # PHP has no ceiling
    assert "at least 20 hours a week" in php and 'id="start-op-adolescent"' in php
    iop = client.get(url("program-new", clinic_a)).content.decode()
    assert 'name="hours_min" value="9"' in iop and 'name="hours_below" value="20"' in iop
    teens = client.get(url("program-new", clinic_a), {"level": "iop", "audience": "adolescent"})
    assert 'name="hours_min" value="6"' in teens.content.decode()


def test_create_and_edit_a_program(clinic_a, clinic_admin):
    client = client_for(clinic_admin)
    body = {
        "name": "IOP evenings",
        "level": "iop",
        "audience": "adult",
        "hours_min": "9",
        "hours_below": "20",
    }
    response = client.post(url("program-new", clinic_a), {**body, "is_active": "on"})
    assert response.status_code == 302 and response["Location"] == url("program-list", clinic_a)
    with tenant_context(clinic_a):
        program = Program.objects.get()
    assert program.name == "IOP evenings" and program.is_active
    listed = client.get(url("program-list", clinic_a)).content.decode()
    assert "At least 9 and fewer than 20 hours a week" in listed
    edit = client.post(
        url("program-edit", clinic_a, program_id=program.pk), {**body, "hours_min": "12", "is_active": "on"}
    )
    assert edit.status_code == 302
    with tenant_context(clinic_a):
        assert Program.objects.get().hours_min == 12
        assert AuditEvent.objects.filter(object_id=str(program.pk), action="update").exists()


def test_hours_outside_the_level_are_a_form_error_and_nothing_is_written(clinic_a, clinic_admin):
    client = client_for(clinic_admin)
    body = {"name": "Thin IOP", "level": "iop", "audience": "adult", "hours_min": "5", "hours_below": "20"}
    response = client.post(url("program-new", clinic_a), body)
    assert response.status_code == 400
    assert "the minimum cannot be below 9" in response.content.decode()
    assert count(clinic_a, Program) == 0
    program = make_program(clinic_a)
    edit = client.post(
        url("program-edit", clinic_a, program_id=program.pk),
        {**body, "name": "IOP days", "hours_min": "9", "hours_below": "25"},
    )
    assert edit.status_code == 400 and "the ceiling cannot be above 20" in edit.content.decode()
    with tenant_context(clinic_a):
        assert Program.objects.get().hours_below == 20
    bad_number = client.post(url("program-new", clinic_a), {**body, "hours_min": "lots"})
    assert bad_number.status_code == 400 and count(clinic_a, Program) == 1


# --- rooms -----------------------------------------------------------------------------------------------
def test_create_edit_and_refuse_a_room(clinic_a, clinic_admin):
    client = client_for(clinic_admin)
    made = client.post(
        url("room-new", clinic_a), {"name": "Group room A", "capacity": "12", "is_active": "on"}
    )
    assert made.status_code == 302
    with tenant_context(clinic_a):
        room = Room.objects.get()
    twin = client.post(url("room-new", clinic_a), {"name": "group room a", "capacity": "4"})
    assert twin.status_code == 400 and "Another room has this name." in twin.content.decode()
    video = client.post(url("room-new", clinic_a), {"name": "Video", "is_telehealth": "on"})
    assert video.status_code == 400 and "A telehealth room needs its link." in video.content.decode()
    assert count(clinic_a, Room) == 1
    edit = client.post(
        url("room-edit", clinic_a, room_id=room.pk), {"name": "Group room A", "capacity": "10"}
    )
    assert edit.status_code == 302
    with tenant_context(clinic_a):
        room.refresh_from_db()
    assert room.capacity == 10 and not room.is_active
    listed = client.get(url("room-list", clinic_a)).content.decode()
    assert "Group room A" in listed and "Inactive" in listed


# --- session types ---------------------------------------------------------------------------------------
def test_session_types_are_installed_and_listed(clinic_a, admissions):
    body = client_for(admissions).get(url("session-type-list", clinic_a)).content.decode()
    assert "DBT skills group" in body and "Psychiatry visit (medication management)" in body
    nursing = body.split('id="type-nursing_check"')[1].split("</tr>")[0]
    assert "Nurse, Psychiatrist" in nursing and ">No<" in nursing and "15 min" in nursing


# --- series ----------------------------------------------------------------------------------------------
def test_create_a_series_puts_its_sessions_on_the_schedule(clinic_a, clinic_admin, clinician):
    program = make_program(clinic_a)
    room = make_room(clinic_a)
    client = client_for(clinic_admin)
    response = client.post(
        url("series-new", clinic_a),
        series_post(clinic_a, clinician, program=str(program.pk), room=str(room.pk), minutes=""),
    )
    with tenant_context(clinic_a):
        series = SessionSeries.objects.get()
        occurrences = Occurrence.objects.filter(series=series).count()
    assert response.status_code == 302 and response["Location"] == url(
        "series", clinic_a, series_id=series.pk
    )
    # Empty title, length and places: the session type's name and usual length, a group's 8 places.
    assert (series.title, series.minutes, series.capacity) == ("DBT skills group", 90, 8)
    assert occurrences >= 50  # every day for the eight-week horizon
    page = client.get(response["Location"]).content.decode()
    assert "Next sessions" in page and "Group room A" in page and "Every day" not in page
    listed = client.get(url("series-list", clinic_a)).content.decode()
    assert "IOP days" in listed and "DBT skills group" in listed and "0 / 8" in listed


def test_bad_series_input_is_a_form_error_and_writes_nothing(clinic_a, clinic_admin, clinician, nurse):
    client = client_for(clinic_admin)
    no_days = client.post(url("series-new", clinic_a), series_post(clinic_a, clinician, weekdays=[]))
    assert no_days.status_code == 400 and 'id="error-summary"' in no_days.content.decode()
    wrong_role = client.post(url("series-new", clinic_a), series_post(clinic_a, nurse))
    assert wrong_role.status_code == 400
    assert "facilitated by: clinician (therapist), psychiatrist" in wrong_role.content.decode()
    backwards = today(clinic_a) - dt.timedelta(days=1)
    ends_first = client.post(
        url("series-new", clinic_a), series_post(clinic_a, clinician, ends_on=backwards.isoformat())
    )
    assert ends_first.status_code == 400
    individual = session_type(clinic_a, "individual_therapy")
    crowd = client.post(
        url("series-new", clinic_a),
        series_post(clinic_a, clinician, session_type=str(individual.pk), capacity="4"),
    )
    assert crowd.status_code == 400 and "An individual session has one participant." in crowd.content.decode()
    outsider = make_member(clinic_a.__class__.objects.create(slug="elsewhere", name="Elsewhere"), "clinician")
    foreign = client.post(url("series-new", clinic_a), series_post(clinic_a, outsider))
    assert foreign.status_code == 400
    assert count(clinic_a, SessionSeries) == 0 and count(clinic_a, Occurrence) == 0


def test_a_clash_is_named_on_the_form_and_nothing_is_written(clinic_a, clinic_admin, clinician, psychiatrist):
    room = make_room(clinic_a)
    client = client_for(clinic_admin)
    first = client.post(url("series-new", clinic_a), series_post(clinic_a, clinician, room=str(room.pk)))
    assert first.status_code == 302
    before = count(clinic_a, Occurrence)
    same_person = client.post(
        url("series-new", clinic_a), series_post(clinic_a, clinician, start_time="10:30")
    )
    assert same_person.status_code == 400
    assert "The facilitator already runs DBT skills group on" in same_person.content.decode()
    same_room = client.post(
        url("series-new", clinic_a),
        series_post(clinic_a, psychiatrist, room=str(room.pk), start_time="10:59"),
    )
    assert same_room.status_code == 400
    assert "Group room A is booked for DBT skills group on" in same_room.content.decode()
    back_to_back = client.post(
        url("series-new", clinic_a), series_post(clinic_a, clinician, room=str(room.pk), start_time="11:00")
    )
    assert back_to_back.status_code == 302
    assert count(clinic_a, SessionSeries) == 2 and count(clinic_a, Occurrence) == 2 * before


def test_change_this_and_following(clinic_a, clinic_admin, clinician, psychiatrist):
    series = make_series(clinic_a, clinician, weekdays=[0, 1, 2, 3, 4, 5, 6], minutes=60)
    client = client_for(clinic_admin)
    target = url("series-following", clinic_a, series_id=series.pk)
    start = today(clinic_a) + dt.timedelta(days=3)
    body = {
        "from_date": start.isoformat(),
        "start_time": "14:00",
        "minutes": "60",
        "room": "",
        "facilitator": str(psychiatrist.pk),
    }
    nothing = client.post(target, {**body, "start_time": "10:00", "facilitator": str(clinician.pk)})
    assert nothing.status_code == 400 and "Nothing is different" in nothing.content.decode()
    past = client.post(target, {**body, "from_date": (today(clinic_a) - dt.timedelta(days=2)).isoformat()})
    assert past.status_code == 400 and "Past sessions are kept as they were" in past.content.decode()
    assert count(clinic_a, SessionSeries) == 1
    response = client.post(target, body)
    with tenant_context(clinic_a):
        continuation = SessionSeries.objects.get(previous=series)
        series.refresh_from_db()
        later = Occurrence.objects.filter(series=continuation).order_by("starts_at").first()
    assert response.status_code == 302
    assert response["Location"] == url("series", clinic_a, series_id=continuation.pk)
    assert series.ends_on == start - dt.timedelta(days=1)
    assert continuation.start_time == dt.time(14) and continuation.facilitator == psychiatrist
    assert later.local_date == start and later.facilitator_id == psychiatrist.pk
    old_page = client.get(url("series", clinic_a, series_id=series.pk)).content.decode()
    assert url("series", clinic_a, series_id=continuation.pk) in old_page
    assert 'id="following-form"' not in old_page  # until it ends, the old part is changed no more
    again = client.post(target, {**body, "from_date": (start - dt.timedelta(days=1)).isoformat()})
    assert again.status_code == 400 and "carries on as changed" in again.content.decode()
    ended = client.post(url("series-end", clinic_a, series_id=series.pk), {"last_day": start.isoformat()})
    assert ended.status_code == 400 and "carries on as changed" in ended.content.decode()
    assert count(clinic_a, SessionSeries) == 2


def test_a_change_that_clashes_is_refused_whole(clinic_a, clinic_admin, clinician, psychiatrist):
    series = make_series(clinic_a, clinician, weekdays=[0, 1, 2, 3, 4, 5, 6], minutes=60)
    make_series(
        clinic_a,
        psychiatrist,
        weekdays=[0, 1, 2, 3, 4, 5, 6],
        start_time=dt.time(14),
        minutes=60,
        title="Meds",
    )
    before = (count(clinic_a, SessionSeries), count(clinic_a, Occurrence))
    body = {
        "from_date": (today(clinic_a) + dt.timedelta(days=3)).isoformat(),
        "start_time": "14:00",
        "minutes": "60",
        "room": "",
        "facilitator": str(psychiatrist.pk),
    }
    response = client_for(clinic_admin).post(url("series-following", clinic_a, series_id=series.pk), body)
    assert response.status_code == 400 and "The facilitator already runs Meds on" in response.content.decode()
    assert (count(clinic_a, SessionSeries), count(clinic_a, Occurrence)) == before
    with tenant_context(clinic_a):
        series.refresh_from_db()
    assert series.ends_on is None


def test_end_a_series(clinic_a, clinic_admin, clinician):
    series = make_series(clinic_a, clinician, weekdays=[0, 1, 2, 3, 4, 5, 6], minutes=60)
    client = client_for(clinic_admin)
    target = url("series-end", clinic_a, series_id=series.pk)
    early = client.post(target, {"last_day": (series.starts_on - dt.timedelta(days=1)).isoformat()})
    assert early.status_code == 400 and "The series had not started by then." in early.content.decode()
    assert client.post(target, {"last_day": "soon"}).status_code == 400
    last = today(clinic_a) + dt.timedelta(days=5)
    response = client.post(target, {"last_day": last.isoformat()})
    assert response.status_code == 302
    with tenant_context(clinic_a):
        series.refresh_from_db()
        latest = Occurrence.objects.filter(series=series).latest("starts_at")
    assert series.ends_on == last and latest.local_date == last
    assert "until" in client.get(url("series-list", clinic_a)).content.decode()


def test_the_series_page_shows_the_roster_and_records_who_saw_it(clinic_a, clinician):
    from scheduling.services import enrolment_create

    program = make_program(clinic_a)
    series = make_series(clinic_a, clinician, program=program, starts_on=today(clinic_a))
    patient = make_patient(clinic_a, first_name="Robin", last_name="Roster", status="active")
    with tenant_context(clinic_a):
        enrolment_create(actor=None, patient=patient, program=program, starts_on=today(clinic_a))
        assert SeriesMember.objects.filter(series=series).count() == 1
    page = client_for(clinician).get(url("series", clinic_a, series_id=series.pk)).content.decode()
    assert patient.display_name in page
    with tenant_context(clinic_a):
        seen = AuditEvent.objects.filter(action=AuditEvent.Action.LIST, patient_id=patient.pk)
        assert seen.filter(detail__view="series roster").count() == 1
    listed = client_for(clinician).get(url("series-list", clinic_a)).content.decode()
    assert "1 / 8" in listed


def test_the_series_list_query_count_is_flat(clinic_a, clinician, django_assert_max_num_queries):
    from scheduling.services import enrolment_create

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            program = make_program(clinic_a, name=f"Track {i}")
            facilitator = make_member(clinic_a, "clinician", email=f"facilitator{i}@clinic-a.example.org")
            room = make_room(clinic_a, name=f"Room {i}")
            series = make_series(clinic_a, facilitator, program=program, room=room, title=f"Group {i}")
            patient = make_patient(clinic_a, first_name="Member", last_name=f"Number{i}", status="active")
            with tenant_context(clinic_a):
                enrolment_create(actor=None, patient=patient, program=program, starts_on=series.starts_on)

    add(2, 0)
    client = client_for(clinician)
    client.get(url("series-list", clinic_a))
    with django_assert_max_num_queries(40) as one:
        client.get(url("series-list", clinic_a))
    add(5, 2)
    with django_assert_max_num_queries(len(one.captured_queries)):
        body = client.get(url("series-list", clinic_a)).content.decode()
    assert body.count('id="series-') == 7 and body.count("1 / 8") == 7


# --- availability ----------------------------------------------------------------------------------------
def test_add_and_remove_availability(clinic_a, clinic_admin, clinician, admissions):
    client = client_for(clinic_admin)
    add = url("availability-add", clinic_a)
    body = {"staff": str(clinician.pk), "weekday": "0", "start_time": "09:00", "end_time": "12:00"}
    response = client.post(add, body)
    assert response.status_code == 302
    assert response["Location"] == url("availability", clinic_a) + f"#staff-{clinician.pk}"
    page = client.get(url("availability", clinic_a)).content.decode()
    assert "Monday 9 AM to 12 PM" in page
    # Only people whose roles may run a session type are listed and offered.
    assert f'id="staff-{clinician.pk}"' in page and f'id="staff-{clinic_admin.pk}"' not in page
    assert client.post(add, {**body, "staff": str(clinic_admin.pk)}).status_code == 400
    overlap = client.post(add, {**body, "start_time": "11:00", "end_time": "13:00"})
    assert overlap.status_code == 400
    assert "This overlaps Monday 9 AM to 12 PM, already listed." in overlap.content.decode()
    backwards = client.post(add, {**body, "weekday": "1", "start_time": "13:00", "end_time": "12:00"})
    assert backwards.status_code == 400 and "ends after it starts" in backwards.content.decode()
    assert count(clinic_a, Availability) == 1
    assert (
        client.post(add, {**body, "weekday": "0", "start_time": "12:00", "end_time": "15:00"}).status_code
        == 302
    )
    assert client_for(admissions).post(add, {**body, "weekday": "3"}).status_code == 403
    assert count(clinic_a, Availability) == 2
    with tenant_context(clinic_a):
        window = Availability.objects.get(start_time=dt.time(9))
    remove = url("availability-remove", clinic_a, availability_id=window.pk)
    assert "Monday 9 AM to 12 PM" in client.get(remove).content.decode()
    assert client_for(admissions).post(remove).status_code == 403
    assert client.post(remove).status_code == 302
    with tenant_context(clinic_a):
        assert list(Availability.objects.values_list("start_time", flat=True)) == [dt.time(12)]
        assert AuditEvent.objects.filter(object_id=str(window.pk), action="delete").exists()


def test_the_program_room_and_availability_lists_query_counts_are_flat(
    clinic_a, clinic_admin, django_assert_max_num_queries
):
    from scheduling.availability import availability_add

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            program = make_program(clinic_a, name=f"Track {i}")
            facilitator = make_member(clinic_a, "clinician", email=f"person{i}@clinic-a.example.org")
            make_room(clinic_a, name=f"Room {i}")
            make_series(clinic_a, facilitator, program=program, title=f"Group {i}")
            with tenant_context(clinic_a):
                for day in (0, 2):
                    availability_add(
                        actor=None, staff=facilitator, weekday=day, start_time=dt.time(8), end_time=dt.time(9)
                    )

    pages = [url(name, clinic_a) for name in ("program-list", "room-list", "availability")]
    add(2, 0)
    client = client_for(clinic_admin)
    counts = []
    for page in pages:
        client.get(page)
        with django_assert_max_num_queries(40) as one:
            client.get(page)
        counts.append(len(one.captured_queries))
    add(5, 2)
    shown = {
        pages[0]: [f"Track {i}" for i in range(7)],
        pages[1]: [f"Room {i}" for i in range(7)],
        pages[2]: ['class="window-text"'] * 14,
    }
    for page, most in zip(pages, counts, strict=True):
        with django_assert_max_num_queries(most):
            body = client.get(page).content.decode()
        names = shown[page]
        assert all(name in body for name in names), page  # every row is on the page
        if page == pages[2]:
            assert body.count(names[0]) == 14
