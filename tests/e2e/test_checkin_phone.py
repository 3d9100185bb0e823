"""A patient checks in from a phone (390x844, touch): a normal day that records the taper dose, and a
day with a threshold answer that shows the emergency guidance first. Screenshots in test-artifacts/."""

from __future__ import annotations

import pytest

from clinic.tenancy.context import tenant_context
from taper.models import DoseRecord
from tests.conftest import make_clinic, make_patient
from tests.vitals.checkins.factories import active_plan, link_path, make_link
from vitals.checkins import rules, services
from vitals.checkins.models import CheckIn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE_WIDTH = 390
MIN_TARGET = 44  # CSS px: the smallest comfortable tap target (WCAG 2.5.5 / platform guidelines)


def _setup(*, with_plan: bool):
    clinic = make_clinic("phone-clinic", name="Willow Clinic", timezone="America/Chicago")
    patient = make_patient(clinic, first_name="Jordan", last_name="Ellery", status="active")
    with tenant_context(clinic):
        services.checkin_settings_save(actor=None, fields={"care_team_phone": "555-0123"})
    if with_plan:
        active_plan(clinic, patient)
    link = make_link(clinic, patient)
    return clinic, patient, link_path(clinic, link)


def _choose(page, question: str, answer: str) -> None:
    box = page.locator(f"#q-{question}")
    choice = box.get_by_label(answer, exact=True)
    choice.tap()
    assert choice.is_checked(), f"{question}: {answer}"


def _fits_the_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH, "sideways scrolling"


def _answer_a_calm_day(page) -> None:
    form = rules.symptom_form()
    for item in form.items:
        _choose(page, f"sym_{item.id}", "Mild" if item.id == "tremor" else "None")
    for flag in form.red_flags:
        _choose(page, f"flag_{flag.id}", "No")
    page.get_by_label("How many hours did you sleep last night?").fill("7")
    _choose(page, "sleep_quality", "Good")
    _choose(page, "anxiety", "3")
    _choose(page, "cravings", "2")
    _choose(page, "alcohol", "No")
    _choose(page, "other_drugs", "No")


def test_patient_completes_a_normal_checkin_on_a_phone(phone_page, artifacts_dir):
    page = phone_page
    clinic, _patient, path = _setup(with_plan=True)
    page.goto(path)
    assert page.locator("h1").inner_text() == "Hi Jordan"
    plan = page.locator("#todays-plan").inner_text()
    assert plan.startswith("diazepam ") and "mg in the morning" in plan and "mg at night" in plan
    assert page.locator(".mainnav").count() == 0  # no staff navigation
    _fits_the_phone(page)
    for label in page.locator(".choice").all()[:12]:
        assert label.bounding_box()["height"] >= MIN_TARGET
    # The narrowest common phone: still no sideways scrolling.
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(artifacts_dir / "checkin-phone-360.png"))
    page.set_viewport_size({"width": PHONE_WIDTH, "height": 844})

    # "How much" appears only for less / more.
    amount = page.get_by_label("How much diazepam did you take today in total (mg)?")
    assert not amount.is_visible()
    _choose(page, "dose", "I took less")
    assert amount.is_visible()
    _choose(page, "dose", "Yes, as planned")
    assert not amount.is_visible()

    _answer_a_calm_day(page)
    page.screenshot(path=str(artifacts_dir / "checkin-phone-form.png"), full_page=True)
    page.get_by_role("button", name="Send my check-in").tap()
    page.wait_for_selector("#done")
    assert "Thank you, Jordan" in page.locator("#done").inner_text()
    assert page.locator("#guidance").count() == 0
    _fits_the_phone(page)
    page.screenshot(path=str(artifacts_dir / "checkin-phone-done.png"), full_page=True)

    with tenant_context(clinic):
        checkin = CheckIn.objects.get()
        dose = DoseRecord.objects.get()
    assert checkin.dose_status == "taken_as_planned" and checkin.symptoms["tremor"] == 1
    assert dose.source == "checkin" and dose.as_planned is True and dose.day == checkin.local_date

    # Opening the link again the same day: no second form.
    page.goto(path)
    assert page.locator("form.checkin-form").count() == 0


def test_threshold_answer_shows_emergency_guidance_first(phone_page, artifacts_dir):
    page = phone_page
    clinic, _patient, path = _setup(with_plan=False)
    page.goto(path)
    assert "has not set up a taper plan" in page.locator("#todays-plan").inner_text()
    _answer_a_calm_day(page)
    _choose(page, "flag_hallucinations", "Yes")
    # A missing answer first: the error summary names it and nothing is saved.
    page.get_by_label("How many hours did you sleep last night?").fill("")
    page.get_by_role("button", name="Send my check-in").tap()
    summary = page.locator("#error-summary")
    assert "Enter about how many hours you slept" in summary.inner_text()
    with tenant_context(clinic):
        assert CheckIn.objects.count() == 0
    page.get_by_label("How many hours did you sleep last night?").fill("3.5")
    # The other answers were kept by the form; the safety answer too.
    assert page.locator("#q-flag_hallucinations").get_by_label("Yes", exact=True).is_checked()
    page.get_by_role("button", name="Send my check-in").tap()

    guidance = page.locator("#guidance.guidance-emergency")
    guidance.wait_for()
    assert "Get help now" in guidance.inner_text()
    call = guidance.get_by_role("link", name="Call 911")
    assert call.get_attribute("href") == "tel:911"
    box = call.bounding_box()
    assert box["y"] + box["height"] <= 844, "the call button is on the first screen"
    assert box["height"] >= MIN_TARGET
    _fits_the_phone(page)
    page.screenshot(path=str(artifacts_dir / "checkin-phone-emergency.png"), full_page=False)

    with tenant_context(clinic):
        checkin = CheckIn.objects.get()
    assert checkin.guidance == "emergency" and "hallucinations" in checkin.flags
