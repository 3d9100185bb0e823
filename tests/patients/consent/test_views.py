"""Browser views: the panel and its may-disclose check, the guided consent form, revoke, accounting, PDFs."""

from __future__ import annotations

import datetime
import subprocess
import tempfile
from pathlib import Path

import pytest

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.consent import services
from patients.consent.models import Consent
from patients.consent.notice import CORE_PHRASE
from tests.dates import clinic_date
from tests.patients.consent.factories import consent_in, recipient_in, tpo_fields
from tests.pdf_checks import assert_pdf_has_content

pytestmark = pytest.mark.django_db
TODAY = clinic_date()


def _login(client, staff, role=Role.ADMISSIONS):
    client.force_login(staff[role])
    return client


def _base(clinic):
    return f"/c/{clinic.slug}/consent"


def pdf_text(content: bytes) -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "doc.pdf"
        path.write_bytes(content)
        out = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True)
    return " ".join(out.stdout.split())


def test_panel_lists_consents_and_answers_the_check(client, clinic_a, staff_a, patient_a, prescriber):
    consent_in(clinic_a, patient_a, recipients=[prescriber])
    _login(client, staff_a)
    url = f"{_base(clinic_a)}/patients/{patient_a.pk}/panel/"
    page = client.get(url)
    assert page.status_code == 200 and b"<html" in page.content and b"1 active consent" in page.content
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert b"<html" not in fragment.content and b"consent-panel" in fragment.content
    ok = client.get(url, {"recipient": prescriber.pk, "purpose": "treatment", "information": ["medications"]})
    assert b"Allowed." in ok.content
    no = client.get(url, {"recipient": prescriber.pk, "purpose": "payment", "information": ["medications"]})
    assert b"Not allowed." in no.content and b"purpose payment not covered" in no.content


def test_guided_form_creates_a_signed_consent(client, clinic_a, staff_a, patient_a, prescriber):
    _login(client, staff_a)
    url = f"{_base(clinic_a)}/patients/{patient_a.pk}/new/"
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "recipients": [prescriber.pk],
            "purpose": "treatment",
            "information_categories": ["medications"],
            "expiry_kind": "date",
            "expires_on": (TODAY + datetime.timedelta(days=60)).isoformat(),
            "signed_on": TODAY.isoformat(),
            "signed_by": "patient",
            "signature_method": "wet",
        },
    )
    assert response.status_code == 302
    with tenant_context(clinic_a):
        consent = Consent.objects.get()
        assert consent.status == "active" and consent.disclosing_party == clinic_a.name
        assert consent.recorded_by == staff_a[Role.ADMISSIONS]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"expires_on": "2001-01-01"}, b"must expire after the day it is signed"),
        ({"information_categories": ["counseling_notes", "diagnoses"]}, b"need their own separate consent"),
        ({"recipients": []}, b"Name at least one recipient"),
        ({"information_other": "x" * 501, "information_categories": ["other"]}, b"at most 500 characters"),
        ({"expires_on": "2025-02-30"}, b"Enter a valid date"),
    ],
)
def test_bad_form_input_shows_errors_and_saves_nothing(
    client, clinic_a, staff_a, patient_a, prescriber, change, message
):
    _login(client, staff_a)
    data = {
        "recipients": [prescriber.pk],
        "purpose": "treatment",
        "information_categories": ["medications"],
        "expiry_kind": "date",
        "expires_on": (TODAY + datetime.timedelta(days=60)).isoformat(),
        "signed_on": TODAY.isoformat(),
        "signed_by": "patient",
        "signature_method": "wet",
        **change,
    }
    response = client.post(f"{_base(clinic_a)}/patients/{patient_a.pk}/new/", data)
    assert response.status_code == 200 and message in response.content
    with tenant_context(clinic_a):
        assert Consent.objects.count() == 0


def test_revoke_flow_keeps_the_consent(client, clinic_a, staff_a, patient_a, prescriber):
    consent = consent_in(clinic_a, patient_a, recipients=[prescriber])
    _login(client, staff_a)
    url = f"{_base(clinic_a)}/consents/{consent.pk}/revoke/"
    assert b"Revoke this consent?" in client.get(url).content
    future = client.post(
        url, {"revoked_on": (TODAY + datetime.timedelta(days=3)).isoformat(), "method": "written"}
    )
    assert b"cannot be in the future" in future.content
    assert (
        client.post(
            url, {"revoked_on": TODAY.isoformat(), "method": "written", "reason": "Patient asked"}
        ).status_code
        == 302
    )
    with tenant_context(clinic_a):
        assert Consent.objects.get(pk=consent.pk).status == "revoked"


def test_role_without_consent_manage_cannot_create(client, clinic_a, staff_a, patient_a):
    _login(client, staff_a, Role.AUDITOR)
    assert client.get(f"{_base(clinic_a)}/patients/{patient_a.pk}/new/").status_code == 403
    assert client.get(f"{_base(clinic_a)}/patients/{patient_a.pk}/panel/").status_code == 403


def test_consent_pdf_has_every_element_and_the_redisclosure_notice(
    client, clinic_a, staff_a, patient_a, prescriber
):
    consent = consent_in(
        clinic_a, patient_a, recipients=[prescriber], signed_on=None, signed_by="", signature_method=""
    )
    tpo = consent_in(clinic_a, patient_a, **tpo_fields())
    _login(client, staff_a)
    for item, expected in (
        (consent, "Signature of patient or authorized representative"),
        (tpo, "my treating providers, health plans, third-party payers"),
    ):
        response = client.get(f"{_base(clinic_a)}/consents/{item.pk}/pdf/")
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert_pdf_has_content(response.content)
        text = pdf_text(response.content)
        assert CORE_PHRASE in text and "42 CFR 2.12(c)(5)" in text
        assert expected in text and "right to revoke" in text.lower()
        assert patient_a.mrn in text
    with tenant_context(clinic_a):
        assert (
            AuditEvent.objects.filter(action=AuditEvent.Action.PRINT, object_id=str(consent.pk)).count() == 1
        )


def test_accounting_page_and_pdf(client, clinic_a, staff_a, patient_a):
    prescriber = recipient_in(clinic_a, name="Dr. Ada Stone")
    consent_in(clinic_a, patient_a, recipients=[prescriber])
    with tenant_context(clinic_a):
        services.disclose(
            actor=None,
            patient=patient_a,
            recipient=prescriber,
            purpose="treatment",
            information=["medications"],
            channel="fax",
            description="Weekly taper summary",
        )
    _login(client, staff_a, Role.NURSE)
    page = client.get(f"{_base(clinic_a)}/patients/{patient_a.pk}/disclosures/")
    assert page.status_code == 200 and b"Weekly taper summary" in page.content
    response = client.get(f"{_base(clinic_a)}/patients/{patient_a.pk}/disclosures/pdf/")
    assert_pdf_has_content(response.content)
    text = pdf_text(response.content)
    assert "Weekly taper summary" in text and "Dr. Ada Stone" in text and "Fax" in text
    with tenant_context(clinic_a):
        printed = AuditEvent.objects.filter(action=AuditEvent.Action.PRINT, patient_id=patient_a.pk).get()
        assert printed.detail["rows"] == 1
    bad = client.get(
        f"{_base(clinic_a)}/patients/{patient_a.pk}/disclosures/",
        {"start": "2025-05-01", "end": "2024-01-01"},
    )
    assert b"start of the period is after its end" in bad.content


def test_panel_query_count_is_flat(
    client, clinic_a, staff_a, patient_a, prescriber, django_assert_max_num_queries
):
    _login(client, staff_a)
    url = f"{_base(clinic_a)}/patients/{patient_a.pk}/panel/"
    consent_in(clinic_a, patient_a, recipients=[prescriber])
    client.get(url)
    with django_assert_max_num_queries(30) as one:
        client.get(url)
    for _ in range(5):
        consent_in(clinic_a, patient_a, recipients=[prescriber])
    with django_assert_max_num_queries(len(one.captured_queries)):
        client.get(url)


def test_admin_sees_verify_mark_and_sets_an_api_client_outside(client, clinic_a, staff_a, prescriber):
    from api.models import ApiClient
    from api.services import api_client_create

    _login(client, staff_a, Role.CLINIC_ADMIN)
    assert b"Verify against eCFR" in client.get(f"{_base(clinic_a)}/notice/").content
    with tenant_context(clinic_a):
        row, _ = api_client_create(actor=None, name="Partner EHR", roles=[Role.ADMISSIONS])
    assert b"Internal system" in client.get(f"/c/{clinic_a.slug}/admin/api-clients/").content
    url = f"{_base(clinic_a)}/api-clients/{row.pk}/"
    missing = client.post(url, {"is_outside_system": "1"})
    assert b"Choose the recipient" in missing.content
    assert (
        client.post(
            url, {"is_outside_system": "1", "recipient": prescriber.pk, "disclosure_purpose": "treatment"}
        ).status_code
        == 302
    )
    row = ApiClient.objects.get(pk=row.pk)
    assert row.is_outside_system and row.recipient_id == prescriber.pk
