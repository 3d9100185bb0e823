"""Schedule setup in a real browser: a clinic admin adds a room, a program from its level's hours, a
recurring group (weekday boxes), is told by name about a clash when a second group would double-book the
facilitator, adds a facilitator's availability, and ends the group. Screenshots at desktop and phone width."""

from __future__ import annotations

import re

import pytest

from clinic.tenancy.context import clinic_today, tenant_context
from clinic.tenancy.roles import Role
from scheduling.models import SessionSeries
from tests.conftest import PASSWORD, make_clinic, make_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_clinic_admin_sets_up_a_group(page, phone_page, artifacts_dir):
    clinic = make_clinic("setup-e2e", name="Juniper Clinic")
    make_member(clinic, Role.CLINIC_ADMIN, email="admin@juniper.example.org")
    therapist = str(make_member(clinic, Role.CLINICIAN, email="therapist@juniper.example.org").pk)
    base = f"/c/{clinic.slug}/schedule/setup/"
    sign_in(page, "admin@juniper.example.org")

    page.goto(base)
    page.get_by_role("link", name=re.compile("^Rooms")).click()
    page.get_by_role("link", name="Add a room").click()
    page.get_by_label("Name").fill("Cedar room")
    page.get_by_label("Seats").fill("10")
    page.get_by_role("button", name="Add the room").click()
    assert page.get_by_role("cell", name="Cedar room").is_visible()

    page.goto(base + "programs/new/")
    page.locator("#start-iop").click()
    assert page.get_by_label("At least (hours a week)").input_value() == "9"
    page.get_by_label("Name").fill("IOP mornings")
    page.get_by_role("button", name="Add the program").click()
    assert "At least 9 and fewer than 20 hours a week" in page.locator("#program-table").inner_text()

    page.goto(base + "series/new/")
    page.get_by_label("Session type").select_option(label="DBT skills group (group, 90 min)")
    page.get_by_label("Program").select_option(label="IOP mornings")
    page.get_by_label("Facilitator").select_option(value=therapist)
    page.get_by_label("Room").select_option(label="Cedar room")
    for day in ("Monday", "Wednesday", "Friday"):
        page.get_by_label(day).check()
    page.get_by_label("Starts at").fill("09:30")
    page.get_by_role("button", name="Add to the schedule").click()
    assert page.get_by_role("heading", name="DBT skills group").is_visible()
    assert page.locator("#upcoming tbody tr").count() > 5
    page.screenshot(path=str(artifacts_dir / "schedule-setup-series.png"), full_page=True)

    page.goto(base + "series/new/")
    page.get_by_label("Session type").select_option(label="Peer support group (group, 60 min)")
    page.get_by_label("Facilitator").select_option(value=therapist)
    page.get_by_label("Monday").check()
    page.get_by_label("Starts at").fill("10:00")
    page.get_by_role("button", name="Add to the schedule").click()
    summary = page.locator("#error-summary")
    assert "The facilitator already runs DBT skills group on Mon" in summary.inner_text()
    with tenant_context(clinic):
        assert SessionSeries.objects.count() == 1
        last_day = clinic_today()

    page.goto(base + "availability/")
    page.get_by_label("Staff member").select_option(value=therapist)
    page.get_by_label("Day").select_option(label="Tuesday")
    page.get_by_label("From").fill("09:00")
    page.get_by_label("Until").fill("13:00")
    page.get_by_role("button", name="Add", exact=True).click()
    assert page.get_by_text("Tuesday 9 AM to 1 PM").first.is_visible()

    page.goto(base + "series/")
    page.get_by_role("link", name="DBT skills group").click()
    page.locator("#end-series summary").click()
    page.get_by_label("Last day").fill(last_day.isoformat())
    page.get_by_role("button", name="End the series").click()
    assert page.get_by_text("ends after").is_visible()

    sign_in(phone_page, "admin@juniper.example.org")
    phone_page.goto(base + "series/?ended=1")
    phone_page.screenshot(path=str(artifacts_dir / "schedule-setup-series-phone.png"), full_page=True)
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the series list scrolls sideways on a phone ({width}px)"
