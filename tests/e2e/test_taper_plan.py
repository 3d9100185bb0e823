"""A psychiatrist builds a taper plan in a real browser (the reported alprazolam pre-fills the first dose,
they add a night dose and watch the live preview), saves it, approves it, starts it, holds it and resumes
it; screenshots of the builder and the plan page go to test-artifacts/. (Dose recording, the progress chart
and the PDFs are covered by their own browser tests.)"""

from __future__ import annotations

import datetime
import re

import pytest

from clinic.tenancy.context import clinic_today, tenant_context
from clinic.tenancy.roles import Role
from patients.services import medication_add
from taper.models import TaperPlan
from tests.conftest import PASSWORD, make_clinic, make_member, make_patient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_psychiatrist_builds_approves_starts_holds_and_resumes(page, artifacts_dir):
    clinic = make_clinic("taper-clinic", name="Tamarack Clinic")
    psychiatrist = make_member(clinic, Role.PSYCHIATRIST, email="psych@tamarack.example.org")
    patient = make_patient(clinic, first_name="Morgan", last_name="Vale", mrn="SD-000444")
    with tenant_context(clinic):
        today = clinic_today()
        medication_add(
            actor=None,
            patient=patient,
            fields={"name": "Alprazolam", "strength": "1 mg", "dose_frequency": "in the morning",
                    "reported_on": today},
        )  # fmt: skip
    started = today  # a plan may not start in the past; the first step is today

    sign_in(page, psychiatrist.email)
    page.wait_for_url(re.compile(r"/c/taper-clinic/$"))
    page.goto(f"/c/taper-clinic/patients/{patient.pk}/")
    page.locator("#taper-build").click()  # the panel is loaded by htmx on the patient page
    page.wait_for_url(re.compile(rf"/taper/patients/{patient.pk}/new/$"))

    # The reported alprazolam is the first line; add the night dose with htmx (no page load).
    assert page.locator("#id_line-0-drug").input_value() == "alprazolam"
    assert page.locator("#id_line-0-dose_mg").input_value() == "1"
    assert "Pre-filled" in page.locator("#prefilled").inner_text()
    page.locator("#add-line").click()
    page.locator("#id_line-1-drug").select_option("alprazolam")
    page.locator("#id_line-1-dose_mg").fill("0.5")
    page.locator("#id_line-1-time_of_day").fill("21:00")
    page.get_by_label("First step on").fill(started.isoformat())
    page.get_by_label("Switch to diazepam one dose at a time, then taper diazepam").check()
    page.get_by_label("Reduce by (%)").fill("10")
    page.get_by_label("Every (days)").fill("14")

    # The live preview: a dated table with the switch to diazepam, the table used and its source.
    preview = page.locator("#preview")
    preview.locator("#preview-schedule").wait_for()
    # Predicates are functions: a string expression is eval'd in the page, which the CSP forbids.
    page.wait_for_function(
        "() => document.querySelector('#preview-summary') && "
        "document.querySelector('#preview-summary').innerText.includes('30 mg DE/day')"
    )
    text = preview.inner_text()
    assert "Switch" in text and "Reduction" in text
    table = preview.locator("#table-used").inner_text()
    assert "Ashton (2002, rev. 2007)" in table and "0.5 mg ≈ diazepam 10 mg" in table and "JGIM 2025" in table
    assert started.strftime("%b %-d, %Y") in text
    page.screenshot(path=str(artifacts_dir / "taper-builder-preview.png"), full_page=True)

    # A bad rate is explained in the preview, in plain words, before anything is saved.
    page.get_by_label("Reduce by (%)").fill("150")
    page.wait_for_function(
        "() => document.querySelector('#preview-errors') && "
        "document.querySelector('#preview-errors').innerText.includes('at most 100%')"
    )
    page.get_by_label("Reduce by (%)").fill("10")
    # 1.5 mg alprazolam is 30 mg diazepam-equivalent a day: the guideline's high band, confirmed by typing it.
    page.wait_for_function("() => document.querySelector('#confirm-high-dose')")
    assert "type 30" in page.locator("#confirm-high-dose").inner_text().lower()
    page.get_by_label("Confirm a high dose: type the daily diazepam-equivalent dose").fill("30")
    page.get_by_label("Note").fill("Plan agreed with the patient at intake review")
    page.locator("#save-plan").click()
    page.wait_for_url(re.compile(r"/taper/plans/[0-9a-f-]+/$"))
    banner = page.locator("#plan-banner")
    assert "Draft" in banner.inner_text()

    # Approve on the page that lists every warning above the button, then start.
    page.locator("#approve-button").click()
    page.wait_for_url(re.compile(r"/taper/plans/[0-9a-f-]+/approve/$"))
    warnings = page.locator("#approve-warnings").inner_text()
    assert "High dose" in warnings and "Facts to check" in warnings
    page.locator("#approve-submit").click()
    page.wait_for_url(re.compile(r"/taper/plans/[0-9a-f-]+/$"))
    assert "Approved" in page.locator("#plan-banner").inner_text()
    page.locator("#activate-button").click()
    page.wait_for_url(re.compile(r"/taper/plans/[0-9a-f-]+/$"))
    assert "Active" in page.locator("#plan-banner").inner_text()
    assert page.locator("#today-step").count() == 1

    # Hold until resumed, from today.
    page.locator("#hold-button").click()
    page.get_by_label("Hold from").fill(today.isoformat())
    page.get_by_label("Until a psychiatrist resumes it").check()
    page.get_by_label("Reason").fill("Withdrawal symptoms rose; hold at the current dose")
    page.locator("#hold-submit").click()
    page.wait_for_url(re.compile(r"/taper/plans/[0-9a-f-]+/$"))
    assert "Held since" in page.locator("#plan-banner").inner_text()
    assert "Held until resumed" in page.locator("#today-step").inner_text()

    # Resume tomorrow at a slower pace: the form is open on the plan page.
    resume = page.locator("#resume-form")
    resume.get_by_label("Next reduction on").fill((today + datetime.timedelta(days=1)).isoformat())
    resume.get_by_label("New rate (%)").fill("5")
    resume.get_by_label("Reason").fill("Symptoms settled; resume more slowly")
    page.locator("#resume-submit").click()
    page.wait_for_url(re.compile(r"/taper/plans/[0-9a-f-]+/$"))
    banner_text = page.locator("#plan-banner").inner_text()
    assert "Active" in banner_text and "Held" not in banner_text
    history = page.locator("#versions").inner_text()
    for change in ("Created", "Held", "Resumed"):
        assert change in history
    page.screenshot(path=str(artifacts_dir / "taper-plan-page.png"), full_page=True)

    with tenant_context(clinic):
        plan = TaperPlan.objects.select_related("current_version").get(patient=patient)
        assert plan.status == TaperPlan.Status.ACTIVE and plan.held_since is None
        assert plan.current_version.number == 3 and plan.current_version.rate_percent == 5
        assert plan.approved_by == psychiatrist

    # The first version stays readable on its own page.
    page.locator("#versions a", has_text="Version 1").click()
    assert "An earlier version" in page.locator("#old-version").inner_text()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(page.url)
    page.screenshot(path=str(artifacts_dir / "taper-version-phone.png"), full_page=True)
