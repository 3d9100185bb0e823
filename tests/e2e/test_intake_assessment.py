"""A clinician signs an intake assessment in a real browser, then amends it; the original stays."""

from __future__ import annotations

import re

import pytest

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.intake.models import IntakeAssessment
from tests.conftest import PASSWORD, make_clinic, make_member, make_patient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def rate(page, dimension: int, value: int) -> None:
    option = page.locator(f"#dimension-{dimension} label.rating-option").nth(value)
    assert option.inner_text().startswith(f"{value} · ")
    option.click()
    assert page.locator(f"#id_d{dimension}_rating_{value}").is_checked()


def test_clinician_signs_then_amends_and_the_original_is_kept(page, artifacts_dir):
    clinic = make_clinic("intake-e2e", name="Juniper Clinic")
    clinician = make_member(clinic, Role.CLINICIAN, email="clinician@juniper.example.org")
    admissions = make_member(clinic, Role.ADMISSIONS, email="admissions@juniper.example.org")
    patient = make_patient(clinic, first_name="Robin", last_name="Vale")

    sign_in(page, clinician.email)
    page.wait_for_url(re.compile(r"/c/intake-e2e/$"))
    page.goto(f"/c/intake-e2e/patients/{patient.pk}/")
    assert page.get_by_role("heading", level=1, name="Robin Vale").is_visible()
    page.goto(f"/c/intake-e2e/intake/patients/{patient.pk}/panel/")
    page.get_by_role("link", name="Start intake assessment").click()
    page.wait_for_url("**/new/")

    for dimension, value in {1: 3, 2: 1, 3: 2, 4: 1, 5: 2, 6: 1}.items():
        rate(page, dimension, value)
    page.get_by_label("Dimension 1 notes").fill("Tremor and sweats between doses; CIWA-B moderate.")
    page.get_by_label("Prior benzodiazepine withdrawal attempts").fill("2")
    page.get_by_label("History of withdrawal seizures").check()
    page.get_by_label("When (seizures)").fill("2019, after stopping abruptly")
    page.get_by_label("Anxiety / panic").check()
    page.get_by_label("Current benzodiazepine").select_option("alprazolam")
    page.get_by_label("Daily dose (mg) as assessed").fill("3")
    page.get_by_label("Recommended level of care").select_option("php")
    page.get_by_label("Rationale").fill("Withdrawal seizure history and significant withdrawal potential.")
    page.screenshot(path=str(artifacts_dir / "intake-form-1200.png"), full_page=True)
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(re.compile(r"/assessments/[0-9a-f-]+/$"))

    page.get_by_role("link", name="Review and sign").click()
    assert "Partial hospitalization" in page.locator("#suggested-level").inner_text()
    assert "Partial hospitalization" in page.locator("#chosen-level").inner_text()
    assert page.get_by_text("medically managed level this program does not offer").is_visible()
    page.screenshot(path=str(artifacts_dir / "intake-sign-1200.png"), full_page=True)
    page.get_by_label(re.compile("sign this assessment as complete")).check()
    page.get_by_role("button", name="Sign and lock").click()
    page.wait_for_url(re.compile(r"/assessments/[0-9a-f-]+/$"))
    assert page.get_by_text("Assessment signed and locked.").is_visible()
    content_hash = page.locator("#content-hash").inner_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", content_hash)

    page.get_by_role("link", name="Amend").click()
    page.get_by_label("Reason for the amendment").fill("Partner confirmed a stable home this week.")
    rate(page, 6, 0)
    page.get_by_role("button", name="Sign and add amendment").click()
    page.wait_for_url(re.compile(r"/assessments/[0-9a-f-]+/$"))

    original = page.locator("#original")
    assert "1 · Mild" in original.locator("div.assessment-section", has_text="Dimension 6").inner_text()
    effective = page.locator("#effective")
    assert "0 · None" in effective.locator("div.assessment-section", has_text="Dimension 6").inner_text()
    assert "Amended (#1)" in effective.inner_text()
    amendment = page.locator("#amendment-1")
    assert "Partner confirmed a stable home" in amendment.inner_text()
    assert page.locator("#content-hash").inner_text().strip() == content_hash
    page.screenshot(path=str(artifacts_dir / "intake-detail-1200.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(artifacts_dir / "intake-detail-390.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways at 390px"
    page.goto(f"/c/intake-e2e/intake/patients/{patient.pk}/new/")
    page.screenshot(path=str(artifacts_dir / "intake-form-390.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    with tenant_context(clinic):
        assessment = IntakeAssessment.objects.get(patient=patient)
        assert assessment.d6_rating == 1 and assessment.content_hash == content_hash
        detail_url = f"/c/intake-e2e/intake/assessments/{assessment.pk}/"

    page.context.clear_cookies()
    sign_in(page, admissions.email)
    page.wait_for_url(re.compile(r"/c/intake-e2e/$"))
    response = page.goto(detail_url)
    assert response.status == 403
    assert "Robin" not in page.content()
