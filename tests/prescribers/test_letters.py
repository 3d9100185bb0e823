"""The letter to a prescriber: only through the Part 2 consent gate; the recorded PDF carries the plan, the
ask, the §2.32 notice and the explanation of the consent; refused → nothing recorded about the patient."""

from __future__ import annotations

import base64
import datetime
import hashlib
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from patients.consent import notice
from patients.consent.models import Disclosure, Recipient
from prescribers import letters
from prescribers.models import CoordinationEntry, Prescriber
from prescribers.services import prescriber_of_record_set, prescriber_recipient
from taper.services import PlanInput
from tests.conftest import client_for
from tests.dates import clinic_date
from tests.patients.consent.factories import consent_in, tpo_consent_in
from tests.pdf_checks import assert_pdf_has_content, pdf_text
from tests.prescribers.factories import NPIS, make_medication, make_prescriber
from tests.taper.factories import make_taper_plan

pytestmark = pytest.mark.django_db
TODAY = clinic_date()
START = TODAY - datetime.timedelta(days=40)


def url(name: str, clinic, **kwargs) -> str:
    return reverse(f"prescribers:{name}", kwargs={"clinic_slug": clinic.slug, **kwargs})


@pytest.fixture
def plan(clinic_a, patient_a, psychiatrist):
    data = PlanInput(
        regimen=[{"drug": "diazepam", "dose_mg": "10", "time_of_day": "08:00"}],
        start_date=START,
        rate_percent=Decimal(10),
        interval_days=14,
        table="ashton",
        strategy="direct",
    )
    return make_taper_plan(clinic_a, patient_a, psychiatrist, status="active", data=data)


@pytest.fixture
def outside(clinic_a, patient_a):
    """Dr Hale, outside the program, prescribing alprazolam now (overlapping the taper plan)."""
    hale = make_prescriber(
        clinic_a,
        npi=NPIS[1],
        first_name="Morgan",
        last_name="Hale",
        practice="Maple Family Medicine",
        fax="555-0199",
    )
    make_medication(
        clinic_a,
        patient_a,
        drug_text="Alprazolam 1 mg tablet",
        strength=Decimal("1"),
        doses_per_day=Decimal("2"),
        prescriber=hale,
        start_on=TODAY - datetime.timedelta(days=20),
    )
    return hale


def _send(client, clinic, patient, prescriber, **extra):
    data = {"prescriber": str(prescriber.pk), "purpose": "treatment", "channel": "fax", **extra}
    return client.post(url("letter-send", clinic, patient_id=patient.pk), data)


def test_refused_without_consent_records_nothing_and_links_to_a_consent_naming_the_prescriber(
    clinic_a, patient_a, outside, nurse
):
    client = client_for(nurse)
    page = client.get(url("letter-send", clinic_a, patient_id=patient_a.pk), {"prescriber": str(outside.pk)})
    assert page.status_code == 200 and "does not fax or e-mail" in page.content.decode()
    response = _send(client, clinic_a, patient_a, outside)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Not sent: no consent allows this disclosure" in body and "no consent on file" in body
    with tenant_context(clinic_a):
        assert Disclosure.objects.count() == 0
        assert CoordinationEntry.objects.count() == 0
        assert not AuditEvent.objects.filter(action=AuditEvent.Action.DISCLOSE).exists()
        # The prescriber is now a recipient a consent can name, and the page links to that consent form.
        recipient = Prescriber.objects.get(pk=outside.pk).recipient
    assert recipient.kind == "prescriber" and recipient.name == outside.display_name
    consent_url = reverse("consent:create", kwargs={"clinic_slug": clinic_a.slug, "patient_id": patient_a.pk})
    assert f"{consent_url}?recipient={recipient.pk}" in body
    form = client.get(consent_url, {"recipient": str(recipient.pk)})
    assert [r.pk for r in form.context["form"].initial["recipients"]] == [recipient.pk]


def test_a_consent_for_another_recipient_does_not_allow_it(clinic_a, patient_a, outside, nurse):
    from tests.patients.consent.factories import recipient_in

    consent_in(clinic_a, patient_a, recipients=[recipient_in(clinic_a)])
    response = _send(client_for(nurse), clinic_a, patient_a, outside)
    assert response.status_code == 400
    with tenant_context(clinic_a):
        assert Disclosure.objects.count() == 0 and CoordinationEntry.objects.count() == 0


def test_allowed_with_a_consent_naming_the_prescriber(
    clinic_a, patient_a, plan, outside, psychiatrist, nurse
):
    ours = make_prescriber(clinic_a, npi=NPIS[0], first_name="Sam", last_name="Ours", in_program=True)
    with tenant_context(clinic_a):
        prescriber_of_record_set(actor=psychiatrist, patient=patient_a, prescriber=ours, role="benzo")
        recipient = prescriber_recipient(actor=None, prescriber=outside)
    consent = consent_in(clinic_a, patient_a, recipients=[recipient])
    response = _send(client_for(nurse), clinic_a, patient_a, outside, note="Please call me back.")
    assert response.status_code == 200, response.content.decode()[:2000]
    body = response.content.decode()
    assert "Disclosure recorded: download to send" in body
    content = base64.b64decode(re.search(r'href="data:application/pdf;base64,([^"]+)"', body).group(1))
    assert_pdf_has_content(content)
    text = pdf_text(content)
    # The plan, the prescriber of record, the overlapping prescription, the ask.
    with tenant_context(clinic_a):
        facts = letters.plan_facts(patient_a, TODAY)
    (_drug, mg), next_mg = facts.current.doses[0], facts.next_step.doses[0][1]
    assert (
        f"Diazepam {mg.normalize():f} mg a day" in text
        and f"Diazepam {next_mg.normalize():f} mg a day" in text
    )
    assert "Next step" in text and "Sam Ours, MD" in text and "Alprazolam 1 mg tablet" in text
    assert "consolidate benzodiazepine prescribing under Sam Ours, MD" in text
    assert "Please do not renew the overlapping benzodiazepine prescription" in text
    assert "does not change a dose" in text and "Please call me back." in text
    # The notice and the explanation of the consent.
    assert notice.CORE_PHRASE in text and "Notice to any recipient (42 CFR 2.32)" in text
    assert "The consent that permits this disclosure" in text
    assert "Morgan Hale, MD (Maple Family Medicine)" in text and "Medication and taper information" in text
    assert f"{consent.signed_on:%b} {consent.signed_on.day}, {consent.signed_on.year}" in text
    assert "may revoke this consent" in text
    with tenant_context(clinic_a):
        disclosure = Disclosure.objects.get()
        entry = CoordinationEntry.objects.get()
        assert disclosure.recipient_id == recipient.pk and disclosure.consent_id == consent.pk
        assert disclosure.document_sha256 == hashlib.sha256(content).hexdigest()
        assert disclosure.channel == "fax" and disclosure.information_categories == list(
            letters.LETTER_CATEGORIES
        )
        assert entry.kind == "letter" and entry.direction == "out" and entry.disclosure_id == disclosure.pk
        assert entry.prescriber_id == outside.pk and entry.recorded_by_id == nurse.pk
        assert AuditEvent.objects.filter(action=AuditEvent.Action.DISCLOSE).count() == 1


def test_a_tpo_consent_is_explained_with_its_general_designation(clinic_a, patient_a, outside, nurse):
    tpo_consent_in(clinic_a, patient_a)
    response = _send(client_for(nurse), clinic_a, patient_a, outside)
    assert response.status_code == 200
    content = base64.b64decode(re.search(r'base64,([^"]+)"', response.content.decode()).group(1))
    text = pdf_text(content)
    assert "my treating providers, health plans, third-party payers" in text
    assert "revoke this consent in writing" in text
    assert "No taper plan has been made yet" in text and "Please call us to agree who will prescribe" in text


def test_bad_input_is_a_form_error(clinic_a, patient_a, outside, nurse):
    client = client_for(nurse)
    assert client.post(url("letter-send", clinic_a, patient_id=patient_a.pk), {}).status_code == 400
    assert _send(client, clinic_a, patient_a, outside, channel="carrier pigeon").status_code == 400
    with tenant_context(clinic_a):
        assert Recipient.objects.count() == 0 and Disclosure.objects.count() == 0


def test_preview_is_marked_and_records_a_print_not_a_disclosure(clinic_a, patient_a, outside, nurse):
    client = client_for(nurse)
    preview = url("letter-preview", clinic_a, patient_id=patient_a.pk)
    assert client.get(preview).status_code == 302
    response = client.get(preview, {"prescriber": str(outside.pk)})
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "PREVIEW — NOT SENT" in text and "The consent that permits" not in text
    with tenant_context(clinic_a):
        assert Disclosure.objects.count() == 0
        assert AuditEvent.objects.filter(action=AuditEvent.Action.PRINT, patient_id=patient_a.pk).count() == 1


def test_the_overlapping_prescriptions_are_this_prescribers_sedating_ones(clinic_a, patient_a, plan, outside):
    make_medication(clinic_a, patient_a, drug_text="Lisinopril 10 mg", dose_unit="tablet", prescriber=outside)
    other = make_prescriber(clinic_a, npi=NPIS[2], last_name="Other")
    make_medication(
        clinic_a, patient_a, drug_text="Zolpidem 10 mg tablet", strength=Decimal("10"), prescriber=other
    )
    with tenant_context(clinic_a):
        from prescribers.selectors import medication_list

        found = letters.overlapping_prescriptions(medication_list(patient_a), outside, TODAY)
    assert [o.line.drug_text for o in found] == ["Alprazolam 1 mg tablet"]
    assert set(found[0].others) == {"This program", other.display_name}
