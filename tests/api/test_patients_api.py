"""The patient API: authentication, validation that writes nothing, audit, pagination, sync filter, schema."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from api.services import api_client_create, api_client_revoke
from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.models import Patient
from tests.conftest import make_patient
from tests.dates import clinic_date

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PATIENTS = "/api/v1/patients/"
PROBLEM = "application/problem+json"


def _token(clinic, roles=(Role.ADMISSIONS,)) -> tuple[object, str]:
    with tenant_context(clinic):
        return api_client_create(actor=None, name="EHR sync", roles=list(roles))


@pytest.fixture
def api(clinic_a) -> Client:
    _, token = _token(clinic_a)
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def _post(client: Client, url: str, body) -> object:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def _counts(clinic) -> tuple[int, int]:
    with tenant_context(clinic):
        return Patient.objects.count(), AuditEvent.objects.count()


VALID = {"first_name": "Quinn", "last_name": "Rowan", "date_of_birth": "1984-03-09"}


# --- authentication -------------------------------------------------------------------------------
def test_no_credentials_is_401_problem(client):
    response = client.get(PATIENTS)
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response.json()["status"] == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_unknown_and_revoked_tokens_are_401(clinic_a):
    client_row, token = _token(clinic_a)
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get(PATIENTS).status_code == 200
    with tenant_context(clinic_a):
        api_client_revoke(actor=None, client=client_row)
    response = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get(PATIENTS)
    assert response.status_code == 401 and response["Content-Type"] == PROBLEM
    assert Client(HTTP_AUTHORIZATION="Bearer sdk_not-a-real-token").get(PATIENTS).status_code == 401


def test_session_user_naming_a_clinic_they_are_not_in_is_404(client, clinic_a, clinic_b, staff_a):
    client.force_login(staff_a[Role.ADMISSIONS])
    assert client.get(PATIENTS, headers={"X-Stepdown-Clinic": clinic_a.slug}).status_code == 200
    response = client.get(PATIENTS, headers={"X-Stepdown-Clinic": clinic_b.slug})
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM
    assert client.get(PATIENTS, headers={"X-Stepdown-Clinic": "no-such-clinic"}).status_code == 404


# --- bad input writes nothing ---------------------------------------------------------------------
BAD_BODIES = {
    "missing-fields": ({}, {"first_name", "last_name", "date_of_birth"}),
    "wrong-types": (
        {"first_name": ["Quinn"], "last_name": {"x": 1}, "date_of_birth": 19840309, "status": 7},
        {"first_name", "last_name", "date_of_birth", "status"},
    ),
    "oversized": ({**VALID, "first_name": "Q" * 101, "pronouns": "p" * 41}, {"first_name", "pronouns"}),
    "future-dob": (
        {**VALID, "date_of_birth": (clinic_date() + datetime.timedelta(days=2)).isoformat()},
        {"date_of_birth"},
    ),
    "bad-mrn": ({**VALID, "mrn": "not an mrn!"}, {"mrn"}),
    "bad-choice": ({**VALID, "status": "cured", "sex_at_birth": "?"}, {"status", "sex_at_birth"}),
    "blank-names": ({**VALID, "first_name": "   ", "last_name": ""}, {"first_name", "last_name"}),
    "bad-email-phone": ({**VALID, "email": "nope", "phone": "call me"}, {"email", "phone"}),
}


@pytest.mark.parametrize(("body", "fields"), BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_create_is_400_with_field_errors_and_writes_nothing(api, clinic_a, body, fields):
    before = _counts(clinic_a)
    response = _post(api, PATIENTS, body)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 400 and problem["title"]
    assert fields <= set(problem["errors"]), problem["errors"]
    assert _counts(clinic_a) == before


def test_malformed_json_is_400(api, clinic_a):
    before = _counts(clinic_a)
    response = api.post(PATIENTS, data="{not json", content_type="application/json")
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert _counts(clinic_a) == before


def test_duplicate_mrn_is_400_not_500(api, clinic_a):
    make_patient(clinic_a, mrn="SD-000777")
    before = _counts(clinic_a)
    response = _post(api, PATIENTS, {**VALID, "mrn": "sd-000777"})
    assert response.status_code == 400
    assert response.json()["errors"] == {"mrn": ["Another patient in this clinic already has this MRN."]}
    assert _counts(clinic_a) == before


# --- good writes, audited -------------------------------------------------------------------------
def test_create_is_201_with_assigned_mrn_and_audited(api, clinic_a):
    response = _post(api, PATIENTS, VALID)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["mrn"].startswith("SD-") and body["first_name"] == "Quinn"
    with tenant_context(clinic_a):
        patient = Patient.objects.get(pk=body["id"])
        event = AuditEvent.objects.get(action=AuditEvent.Action.CREATE, object_id=str(patient.pk))
    assert event.actor_label.startswith("api:EHR sync")
    assert str(event.patient_id) == str(patient.pk)


def test_patch_changes_only_the_sent_fields_and_is_audited(api, clinic_a, patient_a):
    response = api.patch(
        f"{PATIENTS}{patient_a.pk}/", data=json.dumps({"status": "active"}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    with tenant_context(clinic_a):
        patient = Patient.objects.get(pk=patient_a.pk)
        event = AuditEvent.objects.get(action=AuditEvent.Action.UPDATE, object_id=str(patient.pk))
    assert patient.status == "active" and patient.first_name == patient_a.first_name
    assert event.detail == {"fields": ["status"]}


def test_bad_patch_is_400_and_changes_nothing(api, clinic_a, patient_a):
    response = api.patch(
        f"{PATIENTS}{patient_a.pk}/",
        data=json.dumps({"last_name": "L" * 101}),
        content_type="application/json",
    )
    assert response.status_code == 400 and "last_name" in response.json()["errors"]
    with tenant_context(clinic_a):
        assert Patient.objects.get(pk=patient_a.pk).last_name == patient_a.last_name


def test_read_is_audited(api, clinic_a, patient_a):
    assert api.get(f"{PATIENTS}{patient_a.pk}/").status_code == 200
    with tenant_context(clinic_a):
        assert AuditEvent.objects.filter(action=AuditEvent.Action.VIEW, patient_id=patient_a.pk).count() == 1


# --- paging and sync ------------------------------------------------------------------------------
def test_cursor_pagination_walks_every_patient_once(api, clinic_a):
    created = {str(make_patient(clinic_a, last_name=f"Page{n}").pk) for n in range(7)}
    seen: list[str] = []
    url = f"{PATIENTS}?page_size=3"
    pages = 0
    while url:
        body = api.get(url).json()
        assert "count" not in body, "cursor pages do not count the table"
        seen += [row["id"] for row in body["results"]]
        url, pages = body["next"], pages + 1
    assert pages == 3
    assert sorted(seen) == sorted(created)


def test_updated_since_returns_only_recent_changes(api, clinic_a):
    old, recent = make_patient(clinic_a, last_name="Old"), make_patient(clinic_a, last_name="Recent")
    long_ago = timezone.now() - datetime.timedelta(days=30)
    with tenant_context(clinic_a):
        Patient.objects.filter(pk=old.pk).update(updated_at=long_ago)
    since = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    response = api.get(PATIENTS, {"updated_since": since})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(recent.pk)]
    assert api.get(PATIENTS, {"updated_since": "yesterday-ish"}).status_code == 400


# --- OpenAPI --------------------------------------------------------------------------------------
def test_openapi_schema_generates_without_warnings(tmp_path):
    env = {**os.environ, "STEPDOWN_ENV": "test", "DJANGO_SETTINGS_MODULE": "clinic.settings"}
    target = tmp_path / "schema.yml"
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--fail-on-warn", "--validate", "--file", str(target)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    schema = target.read_text()
    assert "/api/v1/patients/" in schema
    assert "clinicToken" in schema and "scheme: bearer" in schema


def test_schema_endpoint_and_docs_page_serve_without_a_cdn(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    for cdn in ("cdn.", "unpkg.com", "jsdelivr", "cdnjs", "googleapis"):
        assert cdn not in page, f"docs page loads from {cdn}"
    assert "swagger-ui" in page


def test_session_api_honours_the_clinics_mfa_requirement(clinic_a, staff_a, patient_a):
    """A clinic that requires MFA is closed over the session API too, until the person enrols."""
    from django.test import Client

    from clinic.tenancy.roles import Role

    clinic_a.require_mfa = True
    clinic_a.save(update_fields=["require_mfa"])
    client = Client()
    client.force_login(staff_a[Role.NURSE])
    response = client.get("/api/v1/patients/", headers={"X-Stepdown-Clinic": clinic_a.slug})
    assert response.status_code == 403
    assert "two-factor" in response.json()["detail"]
