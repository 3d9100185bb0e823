"""Vitals in a real browser: a nurse enters vitals with an unusual heart rate, confirms it, sees the reading
with its blood-pressure category, records a CIWA-B with the keyboard, and the flowsheet charts it all."""

from __future__ import annotations

import datetime
import re

import pytest

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from tests.conftest import PASSWORD, make_clinic, make_member, make_patient
from tests.dates import clinic_date
from vitals.models import InstrumentResult, VitalReading

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _active_taper(clinic, patient) -> None:
    """An active taper plan that started five weeks ago, so the flowsheet has a dose and step dates."""
    from tests.taper.factories import create_plan, plan_input

    psychiatrist = make_member(clinic, Role.PSYCHIATRIST, email="psych@linden.example.org")
    start = clinic_date() - datetime.timedelta(days=35)
    with tenant_context(clinic):
        create_plan(patient, psychiatrist, plan_input(start_date=start), status="active")


def test_nurse_enters_vitals_confirms_records_ciwa_b_and_sees_the_flowsheet(page, artifacts_dir):
    clinic = make_clinic("vitals-clinic", name="Linden Clinic")
    nurse = make_member(clinic, Role.NURSE, email="nurse@linden.example.org")
    patient = make_patient(clinic, first_name="Morgan", last_name="Hale", mrn="SD-000777")
    _active_taper(clinic, patient)
    sign_in(page, nurse.email)
    page.wait_for_url(re.compile(r"/c/vitals-clinic/$"))

    # From the patient record to the vitals page and its entry form.
    page.goto(f"/c/vitals-clinic/patients/{patient.pk}/")
    page.locator("#open-vitals").click()
    page.wait_for_url(re.compile(rf"/vitals/patients/{patient.pk}/$"))
    page.locator("#record-vitals").click()
    page.wait_for_url(re.compile(r"/readings/new/$"))

    # Keyboard entry: type a value, Tab to the next box.
    page.get_by_label("Systolic").focus()
    page.keyboard.type("128")
    page.keyboard.press("Tab")
    page.keyboard.type("84")
    assert page.get_by_label("Diastolic").input_value() == "84"
    page.get_by_label("Heart rate").fill("132")  # possible but unusual: needs confirmation
    page.get_by_label("Respiratory rate").fill("16")
    page.get_by_label("SpO₂").fill("97")
    page.locator("#save-vitals").click()

    confirm = page.locator("#confirm-step")
    confirm.wait_for()
    assert "Confirm these values" in confirm.inner_text()
    assert "Heart rate of 132 beats/min is unusually high" in confirm.inner_text()
    with tenant_context(clinic):
        assert not VitalReading.objects.exists()  # nothing saved before the confirmation
    page.screenshot(path=str(artifacts_dir / "vitals-confirm.png"), full_page=True)
    assert page.evaluate("document.activeElement.id") == "confirm-values"  # Enter confirms
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(rf"/vitals/patients/{patient.pk}/$"))
    assert "Vitals saved" in page.locator(".messages").inner_text()
    row = page.locator("#readings tbody tr").first
    assert "128/84" in row.inner_text()
    assert row.locator(".bp-badge").inner_text() == "Stage 1 hypertension"
    assert "132*" in row.inner_text()  # the confirmed unusual value is marked

    # A CIWA-B from its data-generated form: arrow keys move within each item's radio group.
    page.locator("#record-ciwa_b").click()
    page.wait_for_url(re.compile(r"/scores/new/ciwa_b/$"))
    assert page.locator("input[type=radio]").count() == 100
    page.locator("#id_item_1_0").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.locator("#id_item_1_2").is_checked()
    for n in range(2, 21):
        page.locator(f"input[name=item_{n}][value='{3 if n <= 5 else 1}']").check()
    page.locator("#save-score").click()
    page.wait_for_url(re.compile(r"/vitals/scores/[0-9a-f-]+/$"))
    # 2 + 4 items * 3 + 15 items * 1 = 29: the "moderate" band (21-40).
    assert page.locator("#result-total").inner_text() == "29"
    assert page.locator("#result-band").inner_text() == "moderate"
    with tenant_context(clinic):
        result = InstrumentResult.objects.get()
    assert result.answers["1"] == 2 and result.total == 29

    # The flowsheet draws the vitals and the score as SVG, beside the readings.
    page.goto(f"/c/vitals-clinic/vitals/patients/{patient.pk}/flowsheet/")
    for chart in ("dose", "bp", "hr", "rr", "spo2", "withdrawal"):
        assert page.locator(f"#chart-{chart} svg[role=img]").count() == 1, chart
    assert "Systolic" in page.locator("#chart-bp svg desc").text_content()
    assert "Planned dose" in page.locator("#chart-dose svg desc").text_content()
    assert page.locator("#chart-bp .sd-chart-markers line").count() >= 2  # taper step dates marked
    assert "128/84" in page.locator("#flowsheet ~ section").first.inner_text()
    page.screenshot(path=str(artifacts_dir / "vitals-flowsheet.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.screenshot(path=str(artifacts_dir / "vitals-flowsheet-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 400  # no sideways scrolling
