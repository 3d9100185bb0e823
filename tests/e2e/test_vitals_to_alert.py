"""The safety loop end to end in a real browser: a nurse records a hypertensive reading, the on-save
pipeline raises the alert (Celery eager here: the task body is the one a worker runs), a clinician finds it
in the inbox, acknowledges and resolves it, and the flowsheet shows the reading beside the taper dose."""

from __future__ import annotations

import re

import pytest

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from safety.models import Alert
from tests.conftest import make_clinic, make_member, make_patient
from tests.e2e.test_vitals_entry import _active_taper, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def eager_celery():
    from clinic.celery import app

    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


def test_reading_raises_alert_that_a_clinician_closes(browser, live_server, artifacts_dir, eager_celery):
    clinic = make_clinic("loop-clinic", name="Aspen Clinic")
    nurse = make_member(clinic, Role.NURSE, email="nurse@aspen.example.org")
    clinician = make_member(clinic, Role.CLINICIAN, email="clinician@aspen.example.org")
    patient = make_patient(clinic, first_name="Robin", last_name="Testwell", mrn="SD-000901")
    _active_taper(clinic, patient)

    nurse_page = browser.new_context(base_url=live_server.url).new_page()
    sign_in(nurse_page, nurse.email)
    nurse_page.wait_for_url(re.compile(r"/c/loop-clinic/$"))
    nurse_page.goto(f"/c/loop-clinic/vitals/patients/{patient.pk}/readings/new/")
    nurse_page.get_by_label("Systolic").fill("186")
    nurse_page.get_by_label("Diastolic").fill("122")
    nurse_page.get_by_label("Heart rate").fill("88")
    nurse_page.locator("#save-vitals").click()
    confirm = nurse_page.locator("#confirm-step")
    confirm.wait_for()  # a crisis-range pressure is possible but unusual: the nurse confirms it
    nurse_page.locator("#confirm-values").click()
    nurse_page.wait_for_url(re.compile(rf"/vitals/patients/{patient.pk}/$"))
    assert "186/122" in nurse_page.locator("#readings tbody tr").first.inner_text()

    with tenant_context(clinic):
        alert = Alert.objects.get(patient=patient)
    assert alert.rule_id == "bp_hypertensive_crisis" and alert.status == "open"
    assert alert.evidence and alert.source

    page = browser.new_context(base_url=live_server.url).new_page()
    sign_in(page, clinician.email)
    page.wait_for_url(re.compile(r"/c/loop-clinic/$"))
    page.get_by_role("link", name=re.compile(r"^Alerts")).click()
    page.wait_for_url("**/alerts/")
    page.get_by_role("link", name=re.compile("hypertensive-crisis")).click()
    page.wait_for_url(f"**/alerts/{alert.pk}/")
    assert "186" in page.locator(".evidence").inner_text()
    page.get_by_role("button", name="Acknowledge", exact=True).click()
    page.wait_for_url(f"**/alerts/{alert.pk}/")
    page.get_by_label("What was done").fill("Repeated after rest: 150/92. Psychiatrist informed.")
    page.get_by_role("button", name="Resolve", exact=True).click()
    page.get_by_text("Resolved. The note is in the alert's history.").wait_for()
    history = page.locator("#history")
    assert history.locator('li[data-kind="acknowledged"]').count() == 1
    assert "150/92" in history.locator('li[data-kind="resolved"]').inner_text()

    page.goto(f"/c/loop-clinic/vitals/patients/{patient.pk}/flowsheet/")
    assert page.locator("#chart-bp svg[role=img]").count() == 1
    assert page.locator("#chart-dose svg[role=img]").count() == 1
    assert "186/122" in page.locator("#flowsheet ~ section").first.inner_text()
    page.screenshot(path=str(artifacts_dir / "loop-flowsheet.png"), full_page=True)
    with tenant_context(clinic):
        alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolved_by == clinician
