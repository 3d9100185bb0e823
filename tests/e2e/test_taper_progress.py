"""A nurse records doses in a real browser for an active taper plan (created through the services): one
click for "taken as planned today", then a different amount for yesterday. Each record appears in the
table without a page reload, and the progress chart (server-rendered SVG) shows the planned step line and
the taken points. Screenshots of the progress page (desktop and phone) and the review queue go to
test-artifacts/."""

from __future__ import annotations

import datetime
import re

import pytest

from clinic.tenancy.context import clinic_today, tenant_context
from clinic.tenancy.roles import Role
from taper import services
from taper.models import DoseRecord
from tests.conftest import PASSWORD, make_clinic, make_member, make_patient
from tests.taper.factories import create_plan, plan_input

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SERIES = '#progress-chart svg g[data-series="{}"]'


def sign_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def taken_points(page) -> int:
    return page.locator(SERIES.format("Taken (recorded)") + " > *").count()


def test_nurse_records_doses_and_the_chart_shows_them(page, browser, live_server, artifacts_dir):
    clinic = make_clinic("progress-clinic", name="Quillwort Clinic")
    psychiatrist = make_member(clinic, Role.PSYCHIATRIST, email="psych@quillwort.example.org")
    nurse = make_member(clinic, Role.NURSE, email="nurse@quillwort.example.org")
    patient = make_patient(clinic, first_name="Rowan", last_name="Ashby", mrn="SD-000777")
    with tenant_context(clinic):
        today = clinic_today()
        plan = create_plan(
            patient, psychiatrist, plan_input(start_date=today - datetime.timedelta(days=20)), status="active"
        )
        for n in (5, 4, 3):  # a few earlier days, so the chart has a history
            services.dose_record(
                actor=nurse,
                plan=plan,
                day=today - datetime.timedelta(days=n),
                source="nurse",
                as_planned=True,
            )
    yesterday = today - datetime.timedelta(days=1)

    sign_in(page, nurse.email)
    page.wait_for_url(re.compile(r"/c/progress-clinic/$"))
    # From the patient page to the plan, then its progress page.
    page.goto(f"/c/progress-clinic/patients/{patient.pk}/")
    page.locator("#taper-open").click()
    page.wait_for_url(re.compile(rf"/taper/plans/{plan.pk}/$"))
    page.locator("#open-progress").click()
    page.wait_for_url(re.compile(rf"/taper/plans/{plan.pk}/progress/$"))
    page.get_by_role("heading", level=1, name="Taper progress").wait_for()

    chart = page.locator("#progress-chart svg[role=img]")
    assert chart.count() == 1
    assert page.locator(SERIES.format("Planned (version 1)") + " polyline").count() >= 1
    assert taken_points(page) == 3
    assert "Ashton" in page.locator("#chart-table").inner_text()

    # No full page load from here on: a marker on window survives only htmx swaps.
    page.evaluate("window.__stillHere = true")

    page.get_by_role("button", name="Taken as planned today").click()
    page.locator("#dose-saved").wait_for()
    assert "as planned" in page.locator("#dose-saved").inner_text()
    page.locator(f"#dose-{today.isoformat()}").wait_for()
    assert "As planned" in page.locator(f"#dose-{today.isoformat()}").inner_text()
    assert taken_points(page) == 4

    page.get_by_text("A different amount, or another day").click()
    page.locator("#id_day").fill(yesterday.isoformat())
    page.get_by_label("Diazepam: total mg taken that day").fill("15")
    page.get_by_label("Note (optional)").fill("Took less in the evening")
    page.get_by_role("button", name="Save dose").click()
    page.locator(f"#dose-{yesterday.isoformat()}").wait_for()
    row = page.locator(f"#dose-{yesterday.isoformat()}").inner_text()
    assert "diazepam 15 mg" in row and "Took less in the evening" in row
    assert taken_points(page) == 5
    assert page.evaluate("window.__stillHere === true")

    # A typing slip is caught inline and changes nothing.
    assert page.locator("details.dose-other[open]").count() == 0  # a fresh, folded form after saving
    page.get_by_text("A different amount, or another day").click()
    page.get_by_label("Diazepam: total mg taken that day").fill("-2")
    page.get_by_role("button", name="Save dose").click()
    page.locator("#error-summary").wait_for()
    assert "cannot be negative" in page.locator("#error-summary").inner_text()
    assert page.evaluate("window.__stillHere === true")

    with tenant_context(clinic):
        days = dict(DoseRecord.objects.values_list("day", "as_planned"))
        assert days[today] is True and days[yesterday] is None and len(days) == 5
    page.locator("#progress-chart").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "taper-progress.png"), full_page=True)

    # The same page on a phone: the chart scrolls inside its box, the page does not.
    phone = browser.new_context(
        base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    phone_page = phone.new_page()
    sign_in(phone_page, nurse.email)
    phone_page.wait_for_url(re.compile(r"/c/progress-clinic/$"))
    phone_page.goto(f"/c/progress-clinic/taper/plans/{plan.pk}/progress/")
    assert phone_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    phone_page.screenshot(path=str(artifacts_dir / "taper-progress-phone.png"), full_page=True)
    phone.close()


def test_psychiatrist_review_queue(page, artifacts_dir):
    clinic = make_clinic("review-clinic", name="Juniper Clinic")
    psychiatrist = make_member(clinic, Role.PSYCHIATRIST, email="psych@juniper.example.org")
    clinician = make_member(clinic, Role.CLINICIAN, email="clin@juniper.example.org")
    waiting = make_patient(clinic, first_name="Wren", last_name="Waits", mrn="SD-000801")
    due = make_patient(clinic, first_name="Dale", last_name="Soon", mrn="SD-000802")
    with tenant_context(clinic):
        today = clinic_today()
        proposed = create_plan(waiting, clinician, plan_input(start_date=today), status="proposed")
        create_plan(
            due, psychiatrist, plan_input(start_date=today - datetime.timedelta(days=10)), status="active"
        )

    sign_in(page, psychiatrist.email)
    page.wait_for_url(re.compile(r"/c/review-clinic/$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Taper review").click()
    page.get_by_role("heading", level=1, name="Taper review").wait_for()
    table = page.locator("#review-rows").inner_text()
    assert "Wren Waits" in table and "Awaiting approval" in table
    assert "Dale Soon" in table and "Next step due" in table
    page.screenshot(path=str(artifacts_dir / "taper-review-queue.png"), full_page=True)
    page.get_by_role("link", name="Review and approve").click()
    page.wait_for_url(re.compile(rf"/taper/plans/{proposed.pk}/$"))
