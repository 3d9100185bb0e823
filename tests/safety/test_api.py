"""Alerts over REST: list/read with sync filters, and acknowledge/resolve/dismiss with problem+json errors."""

from __future__ import annotations

import datetime
import json

import pytest
from django.test import Client
from django.utils import timezone

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from safety import services
from safety.models import Alert
from tests.conftest import token_client
from tests.safety.conftest import raise_one

pytestmark = pytest.mark.django_db

ALERTS = "/api/v1/alerts/"
PROBLEM = "application/problem+json"


@pytest.fixture
def nurse_api(clinic_a) -> Client:
    return token_client(clinic_a, Role.NURSE, name="Alert probe")


def _post(client: Client, url: str, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def test_list_filters_by_status_patient_and_updated_since(clinic_a, nurse_api, patient_a, staff_a):
    from tests.conftest import make_patient

    other = make_patient(clinic_a, mrn="SD-500001")
    first = raise_one(clinic_a, patient_a)
    second = raise_one(clinic_a, other, "checkin_missed")
    with tenant_context(clinic_a):
        services.alert_acknowledge(actor=staff_a[Role.NURSE], alert=second)
    body = nurse_api.get(ALERTS).json()
    assert {row["id"] for row in body["results"]} == {str(first.pk), str(second.pk)}
    row = next(r for r in body["results"] if r["id"] == str(first.pk))
    assert row["severity"] == "critical" and row["what_to_do"] and row["evidence"]
    assert [r["id"] for r in nurse_api.get(ALERTS, {"status": "acknowledged"}).json()["results"]] == [
        str(second.pk)
    ]
    assert [r["id"] for r in nurse_api.get(ALERTS, {"patient": str(patient_a.pk)}).json()["results"]] == [
        str(first.pk)
    ]
    later = (timezone.now() + datetime.timedelta(hours=1)).isoformat()
    assert nurse_api.get(ALERTS, {"updated_since": later}).json()["results"] == []


def test_acknowledge_resolve_and_the_get_side_of_each_action(clinic_a, nurse_api, patient_a):
    alert = raise_one(clinic_a, patient_a)
    url = f"{ALERTS}{alert.pk}/"
    check = nurse_api.get(f"{url}resolve/").json()
    assert check == {
        "action": "resolve",
        "allowed": True,
        "problem": "",
        "requires": "note",
        "status": "open",
    }
    acknowledged = _post(nurse_api, f"{url}acknowledge/")
    assert acknowledged.status_code == 200 and acknowledged.json()["status"] == "acknowledged"
    again = nurse_api.get(f"{url}acknowledge/").json()
    assert again["allowed"] is False and "already acknowledged" in again["problem"]
    resolved = _post(nurse_api, f"{url}resolve/", {"note": "Called the patient."})
    assert resolved.status_code == 200
    assert resolved.json()["resolution_note"] == "Called the patient."
    assert resolved.json()["resolved_by"] is None  # an API client, not a person


def test_missing_note_is_400_and_illegal_transition_is_409(clinic_a, nurse_api, patient_a):
    alert = raise_one(clinic_a, patient_a)
    url = f"{ALERTS}{alert.pk}/"
    missing = _post(nurse_api, f"{url}resolve/", {})
    assert missing.status_code == 400 and missing["Content-Type"] == PROBLEM
    assert "note" in missing.json()["errors"]
    assert _post(nurse_api, f"{url}dismiss/", {"reason": "Typed in error."}).status_code == 200
    conflict = _post(nurse_api, f"{url}resolve/", {"note": "Late"})
    assert conflict.status_code == 409 and conflict["Content-Type"] == PROBLEM
    assert "dismissed" in conflict.json()["detail"]
    with tenant_context(clinic_a):
        assert Alert.objects.get(pk=alert.pk).status == "dismissed"


def test_roles_without_alert_permissions_are_refused(clinic_a, patient_a):
    alert = raise_one(clinic_a, patient_a)
    admissions = token_client(clinic_a, Role.ADMISSIONS, name="Alert probe")
    assert admissions.get(ALERTS).status_code == 403
    assert _post(admissions, f"{ALERTS}{alert.pk}/acknowledge/").status_code == 403
    with tenant_context(clinic_a):
        assert Alert.objects.get(pk=alert.pk).status == "open"


def test_alerts_are_not_created_over_the_api(nurse_api):
    assert _post(nurse_api, ALERTS, {"rule_id": "spo2_low"}).status_code == 405


def test_another_clinics_alert_is_404(clinic_b, patient_b, nurse_api):
    foreign = raise_one(clinic_b, patient_b)
    assert nurse_api.get(f"{ALERTS}{foreign.pk}/").status_code == 404
    assert _post(nurse_api, f"{ALERTS}{foreign.pk}/acknowledge/").status_code == 404


def test_alert_endpoints_are_in_the_schema(client):
    schema = client.get("/api/schema/?format=json").json()
    assert "/api/v1/alerts/{id}/resolve/" in schema["paths"]
    assert set(schema["paths"]["/api/v1/alerts/{id}/resolve/"]) >= {"get", "post"}
