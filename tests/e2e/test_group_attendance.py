"""The issue's flow in a real browser: a therapist creates a weekly DBT skills group with 8 places, enrols
three patients, takes attendance for yesterday's session (one late, one absent), signs the note with a line
for each participant who came, then sees the patient's hours against the program's requirement and the
insurance authorization's used units go up."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from scheduling.models import Booking, Occurrence, SessionNote
from tests.conftest import make_clinic, make_member, make_patient
from tests.dates import clinic_date
from tests.e2e.test_schedule_setup import sign_in
from tests.scheduling.factories import make_program, make_room

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
EVERY_DAY = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
LINES = (
    "Practised paced breathing and named two evening triggers.",
    "Arrived late after work; shared a plan for the weekend and asked about the next dose step.",
)


def _authorization(clinic, patient, start: dt.date):
    from patients.insurance.services import authorization_create, coverage_create
    from tests.patients.insurance.conftest import coverage_fields

    with tenant_context(clinic):
        coverage = coverage_create(actor=None, patient=patient, fields=coverage_fields())
        return authorization_create(
            actor=None,
            coverage=coverage,
            fields={
                "level_of_care": "iop",
                "authorization_number": "AUTH-E2E",
                "units_authorized": 12,
                "unit_type": "days",
                "start_date": start,
                "end_date": start + dt.timedelta(days=60),
            },
        )


def test_weekly_group_enrol_attendance_signed_note_hours_and_authorization(page, artifacts_dir):
    clinic = make_clinic("group-e2e", name="Larch Clinic")
    therapist = make_member(clinic, Role.CLINICIAN, email="therapist@larch.example.org")
    make_program(clinic, name="Evening IOP", level="iop", hours_min=9, hours_below=20)
    make_room(clinic, "Willow room", capacity=10)
    week_ago = clinic_date(clinic) - dt.timedelta(days=7)
    people = [
        make_patient(clinic, first_name=first, last_name=last, status="active")
        for first, last in (("Avery", "Quillon"), ("Blake", "Rookwood"), ("Casey", "Marlow"))
    ]
    authorization = _authorization(clinic, people[1], week_ago)

    sign_in(page, therapist.email)
    page.wait_for_url(re.compile(r"/c/group-e2e/$"))
    page.get_by_role("link", name="Schedule", exact=True).first.click()
    page.get_by_role("link", name="Programs and groups").click()
    page.goto(f"/c/{clinic.slug}/schedule/setup/series/new/")
    page.get_by_label("Session type").select_option(label="DBT skills group (group, 90 min)")
    page.get_by_label("Program").select_option(label="Evening IOP")
    page.get_by_label("Facilitator").select_option(value=str(therapist.pk))
    page.get_by_label("Room").select_option(label="Willow room")
    for day in EVERY_DAY:
        page.get_by_label(day).check()
    page.get_by_label("Starts at").fill("10:00")
    page.get_by_label("First day").fill(week_ago.isoformat())
    page.get_by_label("Places").fill("8")
    page.get_by_role("button", name="Add to the schedule").click()
    assert page.get_by_role("heading", name="DBT skills group").is_visible()

    for patient in people:
        page.goto(f"/c/{clinic.slug}/schedule/patients/{patient.pk}/")
        page.locator("#enrol").click()
        page.get_by_label("Program").select_option(label="Evening IOP")
        page.get_by_label("Start date").fill(week_ago.isoformat())
        with page.expect_navigation():
            page.locator("#enrol-submit").click()
        if page.locator("#authorization-warning").count():  # no authorization covers these sessions
            page.locator("#book-anyway").click()
        page.wait_for_url(f"**/schedule/patients/{patient.pk}/")
    with tenant_context(clinic):
        yesterday = Occurrence.objects.get(local_date=clinic_date(clinic) - dt.timedelta(days=1))
        assert Booking.objects.filter(occurrence=yesterday, status="booked").count() == 3
        assert yesterday.capacity == 8

    page.goto(f"/c/{clinic.slug}/schedule/my-day/?date={yesterday.local_date.isoformat()}")
    page.get_by_role("link", name=re.compile("Take attendance")).click()
    with tenant_context(clinic):
        booking_of = {b.patient_id: b.pk for b in Booking.objects.filter(occurrence=yesterday)}
    present, late, absent = (booking_of[p.pk] for p in people)
    page.locator(f"#id_{present}-attendance").select_option("present")
    page.locator(f"#id_{present}-note_line").fill(LINES[0])
    page.locator(f"#id_{late}-attendance").select_option("late")
    page.locator(f"#id_{late}-minutes").fill("60")
    page.locator(f"#id_{late}-note_line").fill(LINES[1])
    page.locator(f"#id_{absent}-attendance").select_option("absent")
    page.get_by_label(re.compile("Group summary")).fill(
        "Taught the STOP skill; each participant practised it on a recent craving."
    )
    page.locator("#sign-note").click()
    assert page.locator("#signed-by").is_visible()
    page.screenshot(path=str(artifacts_dir / "group-attendance-signed.png"), full_page=True)
    with tenant_context(clinic):
        note = SessionNote.objects.get(occurrence=yesterday)
        assert note.is_signed and {p["line"] for p in note.signed_content["participants"]} >= set(LINES)

    page.goto(f"/c/{clinic.slug}/schedule/patients/{people[1].pk}/")
    page.locator("#hours-link").click()
    hours = page.locator("main").inner_text()
    assert "at least 9" in hours and "1.0" in hours  # 60 minutes attended, late, against 9 hours

    page.goto(f"/c/{clinic.slug}/insurance/authorizations/{authorization.pk}/")
    facts = page.locator("main").inner_text()
    assert re.search(r"Used\s+1\b", facts) and re.search(r"Remaining\s+11\b", facts)
