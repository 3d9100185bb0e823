"""The record over the API: nested identifiers/contacts/allergies on the patient, the `identifier` filter an
EHR uses to find its patient, and the clinical-only diagnoses endpoint."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.services import allergy_add, contact_add, diagnosis_add, identifier_add
from tests.conftest import make_patient, token_client

pytestmark = pytest.mark.django_db

PATIENTS = "/api/v1/patients/"
DIAGNOSES = "/api/v1/diagnoses/"
EHR = "urn:oid:2.16.840.1.113883.3.42"


@pytest.fixture
def record(clinic_a, patient_a):
    with tenant_context(clinic_a):
        identifier_add(actor=None, patient=patient_a, fields={"system": EHR, "value": "E-1"})
        contact_add(actor=None, patient=patient_a, fields={"name": "Robin", "relationship": "sibling"})
        allergy_add(actor=None, patient=patient_a, fields={"substance": "Penicillin", "severity": "severe"})
        diagnosis_add(actor=None, patient=patient_a, fields={"code": "F13.20", "is_primary": True})
    return patient_a


def test_patient_carries_identifiers_contacts_and_allergies(clinic_a, record):
    body = token_client(clinic_a, Role.ADMISSIONS).get(f"{PATIENTS}{record.pk}/").json()
    assert body["identifiers"] == [
        {"id": body["identifiers"][0]["id"], "system": EHR, "value": "E-1", "label": "", "is_active": True}
    ]
    assert [c["name"] for c in body["contacts"]] == ["Robin"]
    assert [(a["substance"], a["severity"]) for a in body["allergies"]] == [("Penicillin", "severe")]
    assert "diagnoses" not in body  # clinical: its own endpoint and permission
    assert body["zip_code"] == "" and "preferred_language" in body


def test_identifier_filter_finds_the_patient(clinic_a, record):
    other = make_patient(clinic_a, first_name="Other")
    api = token_client(clinic_a, Role.ADMISSIONS)
    found = api.get(PATIENTS, {"identifier": f"{EHR}|E-1"}).json()["results"]
    assert [row["id"] for row in found] == [str(record.pk)]
    assert api.get(PATIENTS, {"identifier": f"{EHR}|nope"}).json()["results"] == []
    assert str(other.pk) not in str(api.get(PATIENTS, {"identifier": f"{EHR}|E-1"}).json())


@pytest.mark.parametrize("bad", ["E-1", f"{EHR}|", "|E-1", "   |  "])
def test_malformed_identifier_filter_is_400(clinic_a, record, bad):
    response = token_client(clinic_a, Role.ADMISSIONS).get(PATIENTS, {"identifier": bad})
    assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"
    assert "identifier" in response.json()["errors"]


def test_identifier_of_another_clinic_is_not_found(clinic_a, clinic_b, record):
    assert (
        token_client(clinic_b, Role.ADMISSIONS).get(PATIENTS, {"identifier": f"{EHR}|E-1"}).json()["results"]
        == []
    )


def test_patient_list_query_count_does_not_grow_with_nested_rows(clinic_a):
    api = token_client(clinic_a, Role.ADMISSIONS)
    for n in range(3):
        patient = make_patient(clinic_a, last_name=f"Nested{n}")
        with tenant_context(clinic_a):
            for k in range(n * 5):
                identifier_add(actor=None, patient=patient, fields={"system": EHR, "value": f"{n}-{k}"})
                allergy_add(actor=None, patient=patient, fields={"substance": f"S{k}"})
    api.get(PATIENTS)
    with CaptureQueriesContext(connection) as small:
        api.get(PATIENTS, {"page_size": 1})
    with CaptureQueriesContext(connection) as large:
        api.get(PATIENTS, {"page_size": 3})
    assert len(small) == len(large)


def test_diagnoses_endpoint_is_for_the_care_team(clinic_a, record):
    nurse = token_client(clinic_a, Role.NURSE)
    rows = nurse.get(DIAGNOSES, {"patient": str(record.pk)}).json()["results"]
    assert [(row["code"], row["is_primary"], row["patient"]) for row in rows] == [
        ("F13.20", True, str(record.pk))
    ]
    assert rows[0]["description"] == "Sedative, hypnotic or anxiolytic dependence, uncomplicated"
    assert token_client(clinic_a, Role.ADMISSIONS).get(DIAGNOSES).status_code == 403
    detail = nurse.get(f"{DIAGNOSES}{rows[0]['id']}/")
    assert detail.status_code == 200
    with tenant_context(clinic_a):
        assert AuditEvent.objects.filter(
            action="view", object_id=rows[0]["id"], patient_id=record.pk
        ).exists()


def test_diagnoses_are_read_only(clinic_a, record):
    nurse = token_client(clinic_a, Role.NURSE)
    response = nurse.post(DIAGNOSES, data={"code": "F41.1"}, content_type="application/json")
    assert response.status_code == 405


def test_address_over_the_api_is_validated_and_writes_nothing_when_bad(clinic_a):
    api = token_client(clinic_a, Role.ADMISSIONS)
    body = {"first_name": "Quinn", "last_name": "Rowan", "date_of_birth": "1984-03-09"}
    bad = api.post(
        PATIENTS, data={**body, "zip_code": "9720", "state": "XX"}, content_type="application/json"
    )
    assert bad.status_code == 400 and {"zip_code", "state"} <= set(bad.json()["errors"])
    with tenant_context(clinic_a):
        from patients.models import Patient

        assert not Patient.objects.filter(last_name="Rowan").exists()
    good = api.post(
        PATIENTS,
        data={
            **body,
            "zip_code": "97201-1234",
            "state": "OR",
            "city": "Portland",
            "preferred_language": "Spanish",
        },
        content_type="application/json",
    )
    assert good.status_code == 201, good.content
    assert (good.json()["zip_code"], good.json()["identifiers"]) == ("97201-1234", [])
