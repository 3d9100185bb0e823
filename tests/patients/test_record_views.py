"""The patient record page and its sections in the browser views: who may read and change what, form
errors that write nothing, audit rows, a flat query count, the level-of-care form and the face sheet."""

from __future__ import annotations

import datetime
import subprocess

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.models import Allergy, CareEpisode, Diagnosis, Patient
from patients.services import (
    allergy_add,
    care_episode_start,
    contact_add,
    diagnosis_add,
    identifier_add,
    medication_add,
    substance_use_add,
)
from tests.dates import clinic_date
from tests.pdf_checks import assert_pdf_has_content

pytestmark = pytest.mark.django_db

TODAY = clinic_date()


def url(clinic, name: str, **kwargs) -> str:
    return reverse(f"patients:{name}", kwargs={"clinic_slug": clinic.slug, **kwargs})


def login(client, staff, role):
    client.force_login(staff[role])
    return client


def audits(clinic, **filters) -> int:
    with tenant_context(clinic):
        return AuditEvent.objects.filter(**filters).count()


def fill_record(clinic, patient, rows: int) -> None:
    """`rows` entries in every section of the record."""
    with tenant_context(clinic):
        for n in range(rows):
            contact_add(
                actor=None, patient=patient, fields={"name": f"Contact {n}", "relationship": "friend"}
            )
            identifier_add(
                actor=None, patient=patient, fields={"system": "urn:oid:1.2.3", "value": f"{patient.mrn}-{n}"}
            )
            allergy_add(actor=None, patient=patient, fields={"substance": f"Substance {n}"})
            diagnosis_add(actor=None, patient=patient, fields={"code": "F41.1"})
            substance_use_add(
                actor=None, patient=patient, fields={"category": "alcohol", "drug_name": f"Beer {n}"}
            )
            medication_add(
                actor=None, patient=patient, fields={"name": f"Medication {n}", "reported_on": TODAY}
            )


# --- reading the record ---------------------------------------------------------------------------------
def test_nurse_sees_every_section_and_the_view_is_audited(client, clinic_a, staff_a, patient_a):
    fill_record(clinic_a, patient_a, 1)
    html = (
        login(client, staff_a, Role.NURSE)
        .get(url(clinic_a, "detail", patient_id=patient_a.pk))
        .content.decode()
    )
    for anchor in ("demographics", "contacts", "identifiers", "allergies", "diagnoses", "substance-use",
                   "medications", "level-of-care"):  # fmt: skip
        assert f'id="{anchor}"' in html, anchor
    assert 'id="allergy-banner"' in html and "Substance 0" in html
    assert audits(clinic_a, action="view", object_id=str(patient_a.pk)) == 1


def test_admissions_sees_allergies_but_not_clinical_sections(client, clinic_a, staff_a, patient_a):
    fill_record(clinic_a, patient_a, 1)
    html = login(client, staff_a, Role.ADMISSIONS).get(url(clinic_a, "detail", patient_id=patient_a.pk))
    html = html.content.decode()
    assert 'id="allergies"' in html and "Substance 0" in html
    assert 'id="diagnoses"' not in html and "F41.1" not in html and "Medication 0" not in html
    response = client.get(url(clinic_a, "diagnosis-add", patient_id=patient_a.pk))
    assert response.status_code == 403


def test_auditor_cannot_read_the_record(client, clinic_a, staff_a, patient_a):
    login(client, staff_a, Role.AUDITOR)
    assert client.get(url(clinic_a, "detail", patient_id=patient_a.pk)).status_code == 403
    assert client.get(url(clinic_a, "allergy-list", patient_id=patient_a.pk)).status_code == 403
    assert client.get(url(clinic_a, "face-sheet", patient_id=patient_a.pk)).status_code == 403


def test_no_allergies_says_so_rather_than_showing_nothing(client, clinic_a, staff_a, patient_a):
    html = (
        login(client, staff_a, Role.NURSE)
        .get(url(clinic_a, "detail", patient_id=patient_a.pk))
        .content.decode()
    )
    assert "no-allergies" in html and "none recorded" in html


def _detail_queries(client, clinic, patient) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url(clinic, "detail", patient_id=patient.pk)).status_code == 200
    return len(queries)


def test_detail_query_count_does_not_grow_with_rows(client, clinic_a, staff_a):
    from tests.conftest import make_patient

    few_rows = make_patient(clinic_a, first_name="Few", mrn="SD-000901")
    many_rows = make_patient(clinic_a, first_name="Many", mrn="SD-000902")
    fill_record(clinic_a, few_rows, 2)
    fill_record(clinic_a, many_rows, 30)
    login(client, staff_a, Role.NURSE)
    for _ in range(2):  # warm up: session, audit chain head
        _detail_queries(client, clinic_a, few_rows)
    few = _detail_queries(client, clinic_a, few_rows)
    many = _detail_queries(client, clinic_a, many_rows)
    assert many == few, f"2 rows per section: {few} queries, 30 rows: {many}"


# --- writing sections ----------------------------------------------------------------------------------
def test_nurse_adds_an_allergy_and_it_is_audited(client, clinic_a, staff_a, patient_a):
    login(client, staff_a, Role.NURSE)
    response = client.post(
        url(clinic_a, "allergy-add", patient_id=patient_a.pk),
        {"substance": "Penicillin", "reaction": "Hives", "severity": "severe", "status": "active"},
    )
    assert response.status_code == 302 and response["Location"].endswith("#allergies")
    with tenant_context(clinic_a):
        allergy = Allergy.objects.get(patient=patient_a)
        event = AuditEvent.objects.get(action="create", object_id=str(allergy.pk))
    assert event.actor_id == staff_a[Role.NURSE].pk and str(event.patient_id) == str(patient_a.pk)
    assert event.object_type == "patients.allergy"


def test_unknown_code_is_a_form_error_that_names_it_and_writes_nothing(client, clinic_a, staff_a, patient_a):
    login(client, staff_a, Role.CLINICIAN)
    before = audits(clinic_a)
    response = client.post(
        url(clinic_a, "diagnosis-add", patient_id=patient_a.pk), {"code": "F13.77", "status": "active"}
    )
    assert response.status_code == 200
    assert "F13.77 is not an ICD-10-CM code" in str(response.context["form"].errors["code"])
    assert audits(clinic_a) == before
    ok = client.post(
        url(clinic_a, "diagnosis-add", patient_id=patient_a.pk), {"code": "f13.239", "status": "active"}
    )
    assert ok.status_code == 302
    with tenant_context(clinic_a):
        assert Diagnosis.objects.get(patient=patient_a).code == "F13.239"


BAD_SECTION_POSTS = {
    "oversized-contact-notes": (
        "contact-add",
        {"name": "Kim", "relationship": "friend", "notes": "x" * 1001},
        "notes",
    ),
    "bad-identifier-system": ("identifier-add", {"system": "not a uri", "value": "1"}, "system"),
    "future-allergy": (
        "allergy-add",
        {"substance": "Latex", "severity": "mild", "status": "active", "noted_on": "2999-01-01"},
        "noted_on",
    ),
    "impossible-date": (
        "allergy-add",
        {"substance": "Latex", "severity": "mild", "status": "active", "noted_on": "2024-02-30"},
        "noted_on",
    ),
    "negative-amount": (
        "substance-use-add",
        {"category": "alcohol", "daily_amount": "-3", "unit": "drinks"},
        "daily_amount",
    ),
    "benzo-without-drug": ("substance-use-add", {"category": "benzodiazepine"}, "benzodiazepine"),
    "medication-without-name": ("medication-add", {"reported_on": "2024-01-01", "status": "current"}, "name"),
}


@pytest.mark.parametrize(("name", "data", "field"), BAD_SECTION_POSTS.values(), ids=BAD_SECTION_POSTS.keys())
def test_bad_section_input_is_a_form_error(client, clinic_a, staff_a, patient_a, name, data, field):
    login(client, staff_a, Role.NURSE)
    before = audits(clinic_a)
    response = client.post(url(clinic_a, name, patient_id=patient_a.pk), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors, response.context["form"].errors
    assert 'id="error-summary"' in response.content.decode()
    assert audits(clinic_a) == before


def test_duplicate_identifier_is_a_form_error(client, clinic_a, staff_a, patient_a):
    from tests.conftest import make_patient

    other = make_patient(clinic_a, first_name="Other", mrn="SD-000777")
    with tenant_context(clinic_a):
        identifier_add(actor=None, patient=other, fields={"system": "urn:oid:1.2.3", "value": "X1"})
    login(client, staff_a, Role.ADMISSIONS)
    response = client.post(
        url(clinic_a, "identifier-add", patient_id=patient_a.pk), {"system": "urn:oid:1.2.3", "value": "X1"}
    )
    assert response.status_code == 200
    assert "SD-000777" in str(response.context["form"].errors["value"])


def test_edit_and_resolve_a_diagnosis(client, clinic_a, staff_a, patient_a):
    with tenant_context(clinic_a):
        diagnosis = diagnosis_add(actor=None, patient=patient_a, fields={"code": "F41.1"})
    login(client, staff_a, Role.PSYCHIATRIST)
    edit = url(clinic_a, "diagnosis-edit", diagnosis_id=diagnosis.pk)
    assert client.get(edit).status_code == 200
    response = client.post(edit, {"code": "F41.0", "status": "active", "is_primary": "on"})
    assert response.status_code == 302
    assert client.get(url(clinic_a, "diagnosis-close", diagnosis_id=diagnosis.pk)).status_code == 200
    assert client.post(url(clinic_a, "diagnosis-close", diagnosis_id=diagnosis.pk)).status_code == 302
    with tenant_context(clinic_a):
        diagnosis.refresh_from_db()
    assert (diagnosis.code, diagnosis.is_primary, diagnosis.status) == ("F41.0", True, "resolved")
    assert diagnosis.resolved_on == TODAY


def test_bad_zip_on_the_patient_form(client, clinic_a, staff_a, patient_a):
    login(client, staff_a, Role.ADMISSIONS)
    data = {
        "first_name": "Avery",
        "last_name": "Alder",
        "date_of_birth": "1980-01-01",
        "sex_at_birth": "unknown",
        "status": "active",
        "mrn": patient_a.mrn,
        "zip_code": "9720",
    }
    response = client.post(url(clinic_a, "edit", patient_id=patient_a.pk), data)
    assert response.status_code == 200 and "zip_code" in response.context["form"].errors


# --- level of care ----------------------------------------------------------------------------------------
def _admit_to_php(clinic, patient, days_ago: int = 10) -> None:
    with tenant_context(clinic):
        care_episode_start(
            actor=None, patient=patient, level="php", started_on=TODAY - datetime.timedelta(days=days_ago)
        )


def test_step_down_from_php_to_iop(client, clinic_a, staff_a, patient_a):
    _admit_to_php(clinic_a, patient_a)
    login(client, staff_a, Role.NURSE)
    response = client.post(
        url(clinic_a, "level-of-care", patient_id=patient_a.pk),
        {"action": "change", "level": "iop", "effective_on": TODAY.isoformat(), "reason": "Stable"},
    )
    assert response.status_code == 302
    with tenant_context(clinic_a):
        episodes = list(CareEpisode.objects.filter(patient=patient_a).order_by("started_on"))
    assert [(e.level, e.ended_on) for e in episodes] == [("php", TODAY), ("iop", None)]
    html = client.get(url(clinic_a, "detail", patient_id=patient_a.pk)).content.decode()
    assert "Intensive outpatient" in html and "Partial hospitalization" in html


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"action": "change", "level": "iop", "effective_on": "2999-01-01", "reason": "x"}, "effective_on"),
        ({"action": "change", "level": "iop", "effective_on": "2020-13-01", "reason": "x"}, "effective_on"),
        ({"action": "change", "level": "iop", "effective_on": "(before)", "reason": "x"}, "effective_on"),
        ({"action": "change", "level": "php", "effective_on": "(today)", "reason": "x"}, "level"),
        ({"action": "change", "level": "", "effective_on": "(today)", "reason": "x"}, "level"),
        ({"action": "change", "level": "iop", "effective_on": "(today)", "reason": "r" * 501}, "reason"),
    ],
)
def test_bad_level_changes_are_form_errors(client, clinic_a, staff_a, patient_a, data, field):
    _admit_to_php(clinic_a, patient_a)
    dates = {"(today)": TODAY.isoformat(), "(before)": (TODAY - datetime.timedelta(days=30)).isoformat()}
    data = {**data, "effective_on": dates.get(data["effective_on"], data["effective_on"])}
    login(client, staff_a, Role.NURSE)
    response = client.post(url(clinic_a, "level-of-care", patient_id=patient_a.pk), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors, response.context["form"].errors
    with tenant_context(clinic_a):
        assert CareEpisode.objects.filter(patient=patient_a).count() == 1


def test_discharge_and_discharging_twice(client, clinic_a, staff_a, patient_a):
    _admit_to_php(clinic_a, patient_a)
    login(client, staff_a, Role.NURSE)
    data = {"action": "discharge", "effective_on": TODAY.isoformat(), "reason": "Completed program"}
    assert client.post(url(clinic_a, "level-of-care", patient_id=patient_a.pk), data).status_code == 302
    with tenant_context(clinic_a):
        assert Patient.objects.get(pk=patient_a.pk).status == "discharged"
    again = client.post(url(clinic_a, "level-of-care", patient_id=patient_a.pk), data)
    assert again.status_code == 200 and "action" in again.context["form"].errors


# --- face sheet -----------------------------------------------------------------------------------------
def test_face_sheet_is_a_pdf_with_content_and_is_audited_as_print(client, clinic_a, staff_a, patient_a):
    fill_record(clinic_a, patient_a, 2)
    _admit_to_php(clinic_a, patient_a)
    login(client, staff_a, Role.NURSE)
    response = client.get(url(clinic_a, "face-sheet", patient_id=patient_a.pk))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "no-store"
    assert_pdf_has_content(response.content)
    assert audits(clinic_a, action="print", object_id=str(patient_a.pk)) == 1


def pdf_text(content: bytes) -> str:
    result = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True
    )
    return result.stdout.decode()


def test_face_sheet_carries_the_record(client, clinic_a, staff_a, patient_a):
    fill_record(clinic_a, patient_a, 1)
    login(client, staff_a, Role.NURSE)
    text = pdf_text(client.get(url(clinic_a, "face-sheet", patient_id=patient_a.pk)).content)
    for expected in (patient_a.mrn, "Allergies", "Substance 0", "Contact 0", f"{patient_a.mrn}-0", "F41.1",
                     "Medication 0", "Printed"):  # fmt: skip
        assert expected in text, expected


def test_face_sheet_for_admissions_leaves_clinical_sections_out(client, clinic_a, staff_a, patient_a):
    fill_record(clinic_a, patient_a, 1)
    login(client, staff_a, Role.ADMISSIONS)
    response = client.get(url(clinic_a, "face-sheet", patient_id=patient_a.pk))
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert "Substance 0" in text and "F41.1" not in text and "Medication 0" not in text
    with tenant_context(clinic_a):
        event = AuditEvent.objects.get(action="print", object_id=str(patient_a.pk))
    assert event.detail == {"document": "face_sheet", "clinical_sections": False}
