"""The patient record in a real browser: a nurse adds an allergy and a diagnosis (an unknown code first),
steps the patient down from PHP to IOP, and prints the face sheet; screenshots at desktop and phone width."""

from __future__ import annotations

import datetime
import re

import pytest

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.models import Allergy, CareEpisode, Diagnosis
from patients.services import care_episode_start
from tests.conftest import PASSWORD, make_clinic, make_member, make_patient
from tests.dates import clinic_date
from tests.pdf_checks import assert_pdf_has_content

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_nurse_builds_the_record_steps_down_and_prints(page, artifacts_dir):
    clinic = make_clinic("record-clinic", name="Rowan Clinic")
    nurse = make_member(clinic, Role.NURSE, email="nurse@rowan.example.org")
    patient = make_patient(clinic, first_name="Jordan", last_name="Ellery", mrn="SD-000321")
    with tenant_context(clinic):
        care_episode_start(
            actor=None,
            patient=patient,
            level="php",
            started_on=clinic_date() - datetime.timedelta(days=14),
            reason="Admitted from intake",
        )
    sign_in(page, nurse.email)
    page.wait_for_url(re.compile(r"/c/record-clinic/$"))
    page.goto(f"/c/record-clinic/patients/{patient.pk}/")
    banner = page.locator("#allergy-banner")
    assert "none recorded" in banner.inner_text()
    assert "Partial hospitalization" in page.locator("#current-level").inner_text()

    # An allergy: the banner turns red and names it.
    page.locator("#add-allergy").click()
    page.get_by_label("Substance").fill("Penicillin")
    page.get_by_label("Reaction").fill("Hives")
    page.get_by_label("Severity").select_option("severe")
    page.get_by_role("button", name="Add", exact=True).click()
    page.wait_for_url(re.compile(rf"/patients/{patient.pk}/#allergies$"))
    assert "Penicillin" in page.locator("#allergy-banner.has-allergies").inner_text()

    # A diagnosis: an unknown code is refused with an error naming it, then a valid one is saved.
    page.locator("#add-diagnosis").click()
    page.get_by_label("ICD-10-CM code").fill("F13.77")
    page.get_by_role("button", name="Add", exact=True).click()
    summary = page.locator("#error-summary")
    assert "F13.77 is not an ICD-10-CM code" in summary.inner_text()
    page.screenshot(path=str(artifacts_dir / "patient-record-diagnosis-error.png"), full_page=True)
    page.get_by_label("ICD-10-CM code").fill("f13.20")
    page.get_by_label("Primary diagnosis").check()
    page.get_by_role("button", name="Add", exact=True).click()
    page.wait_for_url(re.compile(rf"/patients/{patient.pk}/#diagnoses$"))
    assert "dependence, uncomplicated" in page.locator("#diagnoses").inner_text()

    # Step down from PHP to IOP.
    page.locator("#change-level").click()
    page.get_by_label("New level of care").select_option("iop")
    page.get_by_label("Reason").fill("Stable for two weeks; step down per treatment plan")
    page.screenshot(path=str(artifacts_dir / "patient-record-level-form.png"), full_page=True)
    page.get_by_role("button", name="Save the change").click()
    page.wait_for_url(re.compile(rf"/patients/{patient.pk}/#level-of-care$"))
    assert "Intensive outpatient" in page.locator("#current-level").inner_text()
    history = page.locator("#level-of-care").inner_text()
    assert "Partial hospitalization" in history and "Intensive outpatient" in history

    page.goto(f"/c/record-clinic/patients/{patient.pk}/")
    page.wait_for_load_state("networkidle")  # the sub-apps' panels load after the page
    page.screenshot(path=str(artifacts_dir / "patient-record-1200.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/c/record-clinic/patients/{patient.pk}/")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(artifacts_dir / "patient-record-390.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the record page scrolls sideways at 390px ({width}px wide)"

    # The face sheet: a real PDF with the record in it.
    href = page.locator("#print-face-sheet").get_attribute("href")
    response = page.request.get(href)
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    body = response.body()
    assert_pdf_has_content(body)
    (artifacts_dir / "face-sheet.pdf").write_bytes(body)

    with tenant_context(clinic):
        assert Allergy.objects.get(patient=patient).severity == "severe"
        assert Diagnosis.objects.get(patient=patient).code == "F13.20"
        levels = (
            CareEpisode.objects.filter(patient=patient).order_by("started_on").values_list("level", flat=True)
        )
        assert list(levels) == ["php", "iop"]
