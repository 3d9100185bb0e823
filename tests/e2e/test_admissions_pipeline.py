"""Admissions in a real browser: a staff member takes a new inquiry through every stage to an admitted
patient, and the board is readable on a desktop and on a phone."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.admissions.models import Inquiry
from patients.models import CareEpisode
from tests.conftest import PASSWORD, make_clinic, make_member
from tests.dates import clinic_date
from tests.patients.admissions.conftest import make_inquiry, walk_to

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def seed_board(clinic, actor) -> None:
    """A few inquiries in other stages, one of them waiting too long, so the board has something to show."""
    people = [
        ("Avery", "Marrowbone", "new", 3),
        ("Blair", "Tumbleweed", "pre_screened", 0),
        ("Cameron", "Ashgrove", "benefits_verified", 1),
        ("Devon", "Pennywhistle", "intake_scheduled", 2),
        ("Emerson", "Larkspur", "assessed", 0),
    ]
    for first, last, stage, days_ago in people:
        inquiry = walk_to(clinic, make_inquiry(clinic, actor=actor, first_name=first, last_name=last), stage)
        with tenant_context(clinic):
            Inquiry.objects.filter(pk=inquiry.pk).update(
                stage_entered_at=timezone.now() - datetime.timedelta(days=days_ago)
            )


def click_step(page, name: str) -> None:
    """Open a next-step form from the inquiry page and submit it."""
    page.get_by_role("link", name=name, exact=True).click()
    page.get_by_role("heading", level=1, name=re.compile(name)).wait_for()
    page.get_by_role("button", name=name, exact=True).click()


def test_inquiry_to_admitted_patient(page, artifacts_dir):
    clinic = make_clinic("pine-hollow", name="Pine Hollow IOP")
    staff = make_member(clinic, Role.ADMISSIONS, email="abe@pine.example.org")
    seed_board(clinic, staff)

    sign_in(page, staff.email)
    page.wait_for_url(re.compile(r"/c/pine-hollow/$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admissions").click()
    page.wait_for_url("**/c/pine-hollow/admissions/")
    page.get_by_role("link", name="New inquiry").click()

    # The first call: a spouse calls on the prospective patient's behalf.
    page.get_by_label("Referral source").select_option("primary_care")
    page.get_by_label("Referral detail").fill("Dr. Fennel, Elm Street Family Practice")
    page.get_by_label("Contact's name").fill("Morgan Hollyhock")
    page.get_by_label("Contact is").select_option("spouse")
    page.get_by_label("Contact's phone").fill("555-0142")
    page.get_by_label("Prospective patient's first name").fill("Jordan")
    page.get_by_label("Last name").fill("Hollyhock")
    page.get_by_label("Date of birth").fill("1979-04-12")
    page.get_by_label("Reason for seeking care").fill("Clonazepam for 8 years; wants a supervised taper.")
    page.locator("#id_benzo-0-drug").select_option("clonazepam")
    page.locator("#id_benzo-0-daily_dose_mg").fill("2")
    page.get_by_label("Alcohol").check()
    page.screenshot(path=str(artifacts_dir / "admissions-new-inquiry-1200.png"), full_page=True)
    page.get_by_role("button", name="Add inquiry").click()
    page.get_by_role("heading", level=1, name="Jordan Hollyhock").wait_for()
    assert page.get_by_text("Clonazepam (Klonopin) 2 mg/day").is_visible()

    click_step(page, "Mark pre-screened")
    page.get_by_text("is now pre-screened").wait_for()
    click_step(page, "Mark benefits verified")
    page.get_by_text("is now benefits verified").wait_for()

    page.get_by_role("link", name="Schedule intake", exact=True).click()
    intake_day = clinic_date() + datetime.timedelta(days=2)
    page.get_by_label("Intake appointment").fill(f"{intake_day.isoformat()}T10:30")
    page.get_by_role("button", name="Schedule intake").click()
    page.get_by_text("is now intake scheduled").wait_for()
    # Shown back in the clinic's own time zone, exactly as typed.
    assert page.get_by_text(f"{intake_day:%b} {intake_day.day}, {intake_day.year} 10:30 AM").is_visible()

    page.get_by_role("link", name="Record assessment", exact=True).click()
    page.get_by_label("Recommended level of care").select_option("iop")
    page.get_by_role("button", name="Record assessment").click()
    page.get_by_text("is now assessed").wait_for()

    page.get_by_role("link", name="Convert to patient").click()
    page.get_by_role("heading", level=1, name=re.compile("Convert to patient")).wait_for()
    assert page.get_by_text("Possible duplicate").count() == 0
    page.get_by_role("button", name="Create patient").click()
    page.get_by_text(re.compile(r"is now a patient with MRN SD-\d{6}")).wait_for()

    page.get_by_role("link", name="Admit", exact=True).click()
    assert page.get_by_label("Level of care").input_value() == "iop"  # carried from the assessment
    page.get_by_role("button", name="Admit", exact=True).click()

    # The admitted patient's own record.
    page.wait_for_url(re.compile(r"/c/pine-hollow/patients/[0-9a-f-]{36}/$"))
    page.get_by_role("heading", level=1, name="Jordan Hollyhock").wait_for()
    assert page.get_by_text("admitted to Intensive outpatient (IOP)").is_visible()
    with tenant_context(clinic):
        inquiry = Inquiry.objects.get(last_name="Hollyhock")
        assert inquiry.stage == "admitted" and page.url.endswith(f"/patients/{inquiry.patient_id}/")
        assert CareEpisode.objects.get(patient_id=inquiry.patient_id).level == "iop"
        assert [c.to_stage for c in inquiry.stage_changes.all()] == [
            "new",
            "pre_screened",
            "benefits_verified",
            "intake_scheduled",
            "assessed",
            "admitted",
        ]

    # The board, wide and narrow.
    page.goto("/c/pine-hollow/admissions/")
    board = page.locator(".board")
    assert board.locator("[data-stage=new] .board-count").inner_text().strip().endswith("1")
    assert page.locator(".board-card.is-stale").count() == 1  # Marrowbone: 3 days in "new"
    assert page.get_by_role("table").get_by_text("Jordan Hollyhock").is_visible()  # closed: admitted
    page.screenshot(path=str(artifacts_dir / "admissions-board-1200.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    columns = page.locator(".board-col")
    first, second = columns.nth(0).bounding_box(), columns.nth(1).bounding_box()
    assert second["y"] > first["y"] + first["height"] - 1  # stacked, not side by side
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    page.screenshot(path=str(artifacts_dir / "admissions-board-390.png"), full_page=True)
    page.goto(f"/c/pine-hollow/admissions/inquiries/{inquiry.pk}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts_dir / "admissions-inquiry-390.png"), full_page=True)
