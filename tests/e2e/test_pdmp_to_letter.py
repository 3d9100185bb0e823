"""The issue's flow in a real browser: a nurse imports a PDMP bundle (an opioid fill and a second
benzodiazepine prescriber) for a patient on a taper plan, the co-prescription alerts appear on the
medication list as the import commits (Celery eager: the task body a worker runs), and a letter to the
second prescriber goes through the consent gate — refused without a consent, then sent and accounted."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.consent.models import Disclosure
from prescribers.models import CoordinationEntry, Dispensation, Prescriber
from prescribers.pdmp.samples import example
from prescribers.services import prescriber_recipient, state_policy_set
from safety.models import Alert
from tests.conftest import make_clinic, make_member, make_patient
from tests.dates import clinic_date
from tests.e2e.test_vitals_entry import sign_in
from tests.e2e.test_vitals_to_alert import eager_celery
from tests.patients.consent.factories import consent_in
from tests.taper.factories import make_taper_plan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["eager_celery"]


def test_pdmp_import_raises_alerts_and_the_letter_goes_through_the_consent_gate(
    browser, live_server, artifacts_dir, eager_celery
):
    clinic = make_clinic("rx-clinic", name="Rowan Clinic")
    nurse = make_member(clinic, Role.NURSE, email="nurse@rowan.example.org")
    psychiatrist = make_member(clinic, Role.PSYCHIATRIST, email="psych@rowan.example.org")
    patient = make_patient(clinic, first_name="Casey", last_name="Sample", date_of_birth=dt.date(1984, 5, 12))
    make_taper_plan(clinic, patient, psychiatrist, start_date=clinic_date() - dt.timedelta(days=10))
    with tenant_context(clinic):
        state_policy_set(actor=None, state="OR", storage="raw")
    report = example("fhir", latest_fill_on=clinic_date() - dt.timedelta(days=4))

    page = browser.new_context(base_url=live_server.url).new_page()
    sign_in(page, nurse.email)
    page.wait_for_url(re.compile(r"/c/rx-clinic/$"))
    page.goto(f"/c/rx-clinic/prescribers/patients/{patient.pk}/medications/")
    page.get_by_role("link", name=re.compile("PDMP", re.I)).first.click()
    page.wait_for_url(f"**/patients/{patient.pk}/pdmp/")
    page.locator("#id_state").select_option("OR")
    page.get_by_label(re.compile(r"FHIR bundle")).check()
    page.locator("#id_file").set_input_files(
        {"name": "pdmp.json", "mimeType": "application/json", "buffer": report}
    )
    page.locator("#pdmp-preview-button").click()
    assert page.locator("#pdmp-fills tbody tr").count() == 5
    with tenant_context(clinic):
        assert not Dispensation.objects.exists()  # the preview wrote nothing
    page.locator("#pdmp-commit-button").click()
    page.wait_for_url(f"**/patients/{patient.pk}/medications/")
    concerns = page.locator("#co-prescription-alerts")
    concerns.wait_for()
    assert re.search("opioid", concerns.inner_text(), re.I)
    with tenant_context(clinic):
        rules = set(Alert.objects.filter(patient=patient).values_list("rule_id", flat=True))
        second = Prescriber.objects.get(last_name="Ellery")
    assert {"corx_benzo_opioid", "corx_benzo_fills_multi_prescriber"} <= rules
    page.screenshot(path=str(artifacts_dir / "pdmp-medication-list.png"), full_page=True)

    letter = f"/c/rx-clinic/prescribers/patients/{patient.pk}/letter/"
    page.goto(letter)
    page.locator("#id_prescriber").select_option(str(second.pk))
    page.locator("#check-and-send").click()
    page.locator("#refusal-reasons").wait_for()
    with tenant_context(clinic):
        assert not Disclosure.objects.exists()
        recipient = prescriber_recipient(actor=None, prescriber=second)
    consent_in(clinic, patient, recipients=[recipient])

    page.goto(letter)
    page.locator("#id_prescriber").select_option(str(second.pk))
    page.locator("#check-and-send").click()
    page.wait_for_load_state()
    with tenant_context(clinic):
        disclosure = Disclosure.objects.get()
        assert disclosure.recipient_id == recipient.pk and len(disclosure.document_sha256) == 64
        assert CoordinationEntry.objects.filter(kind="letter", disclosure=disclosure).exists()
