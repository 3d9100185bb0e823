"""Issue 9 in a real browser: what used to slip through the taper builder is stopped, in plain words.

1. An absurd dose (alprazolam 900 mg a day) is refused before anything else is said about it.
2. A high dose is saved only after the daily dose is typed to confirm it; the approval page lists every
   warning above the button, and the approval records that they were shown.
3. A coarse-formulation taper (clonazepam 2 mg at night, 10% weekly) is refused with the steps named and
   the alternatives that were tried; one click applies the switch to diazepam.
4. An inquiry whose caller reported a benzodiazepine converts into a patient whose builder is pre-filled.
"""

from __future__ import annotations

import re

import pytest

from clinic.tenancy.context import clinic_today, tenant_context
from clinic.tenancy.roles import Role
from taper.models import TaperPlan
from tests.conftest import PASSWORD, make_clinic, make_member, make_patient
from tests.patients.admissions.conftest import make_inquiry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SLUG = "aspen-iop"


def sign_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(rf"/c/{SLUG}/$"))


def preview_says(page, selector: str, words: str) -> None:
    page.wait_for_function(
        "([s, w]) => document.querySelector(s) && document.querySelector(s).innerText.includes(w)",
        arg=[selector, words],
    )


def one_dose(page, drug: str, mg: str, at: str = "21:00") -> None:
    page.locator("#id_line-0-drug").select_option(drug)
    page.locator("#id_line-0-dose_mg").fill(mg)
    page.locator("#id_line-0-time_of_day").fill(at)


def test_the_builder_stops_what_is_not_safe_and_says_why(page, artifacts_dir):
    clinic = make_clinic(SLUG, name="Aspen IOP")
    psychiatrist = make_member(clinic, Role.PSYCHIATRIST, email="psych@aspen.example.org")
    patient = make_patient(clinic, first_name="Riley", last_name="Thornbury", mrn="SD-000909")
    with tenant_context(clinic):
        today = clinic_today()
    sign_in(page, psychiatrist.email)
    page.goto(f"/c/{SLUG}/taper/patients/{patient.pk}/new/")
    page.get_by_label("First step on").fill(today.isoformat())

    # 1. 900 mg alprazolam a day: refused as an entry error, with the reason in plain words.
    one_dose(page, "alprazolam", "900")
    preview_says(page, "#preview-errors", "above the 200 mg this program accepts")
    assert "units (mg, not micrograms)" in page.locator("#preview-errors").inner_text()
    page.locator("#save-plan").click()
    assert "above the 200 mg this program accepts" in page.locator("#error-summary").inner_text()

    # 3. Clonazepam 2 mg at night, 10% every week: not within the guideline; the ways out were tried.
    one_dose(page, "clonazepam", "2")
    page.get_by_label("Every (days)").fill("7")
    preview_says(page, "#preview-refused", "Not within the guideline")
    refused = page.locator("#preview-refused").inner_text()
    assert "Switch to diazepam first" in refused and "keeps the guideline cap at every step" in refused
    assert "Accept steps" in refused  # a psychiatrist may accept the named steps instead
    assert page.locator("#preview-schedule tr.flag-row-over_cap").count() >= 1
    page.screenshot(path=str(artifacts_dir / "taper-refused-alternatives.png"), full_page=True)
    page.locator("#refusal-options button", has_text="Use this").first.click()
    page.wait_for_load_state()
    assert page.get_by_label("Switch to diazepam one dose at a time, then taper diazepam").is_checked()
    page.locator("#preview-schedule").wait_for()
    assert page.locator("#preview-refused").count() == 0
    assert (
        "on VA/DoD SUD CPG 2021" in page.locator("#preview-schedule").inner_text()
    )  # both tables at a switch

    # 2. That is 40 mg diazepam-equivalent a day: the save asks for the typed confirmation first.
    page.locator("#save-plan").click()
    assert "Type 40 to confirm" in page.locator("#error-summary").inner_text()
    page.get_by_label("Confirm a high dose: type the daily diazepam-equivalent dose").fill("40")
    page.locator("#save-plan").click()
    page.wait_for_url(re.compile(r"/taper/plans/[0-9a-f-]+/$"))
    page.locator("#approve-button").click()
    page.wait_for_url(re.compile(r"/approve/$"))
    warnings = page.locator("#approve-warnings").inner_text()
    for title in ("High dose", "The equivalence tables disagree", "Facts to check"):
        assert title in warnings
    assert "confirmed by typing “40”" in warnings
    page.locator("#approve-warnings details.why summary").first.click()
    assert "eguideline.guidelinecentral.com" in page.locator("#approve-warnings").inner_text()
    assert "taper_rules" not in page.content() and "taper.high_dose_band" not in page.content()
    page.screenshot(path=str(artifacts_dir / "taper-approve-warnings.png"), full_page=True)
    page.locator("#approve-submit").click()
    page.wait_for_url(re.compile(r"/taper/plans/[0-9a-f-]+/$"))
    with tenant_context(clinic):
        version = TaperPlan.objects.select_related("current_version").get(patient=patient).current_version
        assert version.approved_by == psychiatrist and version.high_dose_confirmation == "40"
        assert {w["code"] for w in version.approval_warnings} >= {
            "high_dose",
            "tables_disagree",
            "unverified",
        }


def test_an_inquiry_becomes_a_patient_whose_builder_starts_from_what_the_caller_said(page):
    clinic = make_clinic(SLUG, name="Aspen IOP")
    admissions = make_member(clinic, Role.ADMISSIONS, email="intake@aspen.example.org")
    psychiatrist = make_member(clinic, Role.PSYCHIATRIST, email="psych@aspen.example.org")
    inquiry = make_inquiry(
        clinic,
        actor=admissions,
        first_name="Quinn",
        last_name="Ravensworth",
        other_substances=["opioids"],
        benzodiazepines=[{"drug": "alprazolam", "daily_dose_mg": "2"}],
    )
    sign_in(page, admissions.email)
    page.goto(f"/c/{SLUG}/admissions/inquiries/{inquiry.pk}/convert/")
    page.get_by_role("button", name="Create patient").click()
    page.wait_for_url(re.compile(rf"/admissions/inquiries/{inquiry.pk}/$"))
    with tenant_context(clinic):
        inquiry.refresh_from_db()
    page.context.clear_cookies()

    sign_in(page, psychiatrist.email)
    page.goto(f"/c/{SLUG}/patients/{inquiry.patient_id}/")
    page.get_by_text("reported at inquiry").first.wait_for()  # record sections load with htmx
    record = page.locator("main").inner_text()
    assert "Alprazolam" in record and "Opioid" in record
    page.goto(f"/c/{SLUG}/taper/patients/{inquiry.patient_id}/new/")
    assert page.locator("#id_line-0-drug").input_value() == "alprazolam"
    assert page.locator("#id_line-0-dose_mg").input_value() == "2"
    assert "reported at first contact" in page.locator("#prefilled").inner_text()
