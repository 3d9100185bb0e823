"""The vitals API: an EHR or device posts readings and scores; the browser's refusals and confirmation."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from tests.conftest import token_client
from tests.vitals.conftest import record, score
from vitals.models import InstrumentResult, VitalReading, VitalValue

pytestmark = pytest.mark.django_db

READINGS = "/api/v1/vital-readings/"
RESULTS = "/api/v1/instrument-results/"
PROBLEM = "application/problem+json"


@pytest.fixture
def api(clinic_a) -> Client:
    return token_client(clinic_a, Role.NURSE, name="Bedside monitor")


def post(client: Client, url: str, body) -> object:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def reading_body(for_patient, **extra) -> dict:
    return {
        "patient": str(for_patient.pk),
        "taken_at": timezone.now().isoformat(),
        "taken_by": "Device MX-40",
        "source": "device",
        "position": "sitting",
        "values": {"systolic_bp": 128, "diastolic_bp": 84, "heart_rate": 64, "temperature": 36.8},
        **extra,
    }


def counts(clinic):
    with tenant_context(clinic):
        return VitalReading.objects.count(), VitalValue.objects.count(), InstrumentResult.objects.count()


def test_a_device_posts_a_reading(clinic_a, patient_a, api):
    response = post(api, READINGS, reading_body(patient_a))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["values"] == {"diastolic_bp": 84, "heart_rate": 64, "systolic_bp": 128, "temperature": 36.8}
    assert body["bp_category"] == "stage_1" and body["source"] == "device"
    by_kind = {m["kind"]: m for m in body["measurements"]}
    assert by_kind["temperature"]["unit"] == "Cel" and by_kind["temperature"]["loinc"] == "8310-5"
    assert body["entered_by"] is None
    with tenant_context(clinic_a):
        event = AuditEvent.objects.get(action="create", object_id=body["id"])
    assert event.actor_label.startswith("API client") or "Bedside monitor" in event.actor_label


def test_unusual_values_without_confirmation_are_422_naming_them(clinic_a, patient_a, api):
    before = counts(clinic_a)
    body = reading_body(patient_a, values={"heart_rate": 138, "respiratory_rate": 7})
    body.pop("position")
    response = post(api, READINGS, body)
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    problem = response.json()
    assert problem["type"].endswith("/unusual_values")
    assert set(problem["errors"]) == {"heart_rate", "respiratory_rate", "confirm_unusual"}
    assert "unusually high" in problem["errors"]["heart_rate"][0]
    assert counts(clinic_a) == before

    confirmed = post(api, READINGS, {**body, "confirm_unusual": True})
    assert confirmed.status_code == 201
    data = confirmed.json()
    assert {m["kind"]: m["confirmed_unusual"] for m in data["measurements"]} == {
        "heart_rate": True,
        "respiratory_rate": True,
    }
    assert "oversedation_low_respiratory_rate" in data["flags"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"values": {"systolic_bp": 500, "diastolic_bp": 80}}, "systolic_bp"),
        ({"values": {"pulse": 70}}, "values"),
        ({"values": {}}, "values"),
        ({"values": "120/80"}, "values"),
        ({"position": "upside-down"}, "position"),
        ({"patient": "00000000-0000-0000-0000-000000000000"}, "patient"),
        ({"taken_at": "yesterday"}, "taken_at"),
        ({"source": "checkin"}, "source"),
    ],
)
def test_bad_input_is_400_problem_and_writes_nothing(clinic_a, patient_a, api, change, field):
    before = counts(clinic_a)
    response = post(api, READINGS, reading_body(patient_a, **change))
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == PROBLEM
    assert field in response.json()["errors"]
    assert counts(clinic_a) == before


def test_list_filters_by_patient_and_updated_since(clinic_a, patient_a, api):
    from tests.conftest import make_patient

    other = make_patient(clinic_a, first_name="Other")
    mine = record(clinic_a, patient_a)
    record(clinic_a, other)
    rows = api.get(READINGS, {"patient": str(patient_a.pk)}).json()["results"]
    assert [r["id"] for r in rows] == [str(mine.pk)]
    assert rows[0]["values"]["systolic_bp"] == 122
    later = timezone.now().isoformat()
    assert api.get(READINGS, {"updated_since": later}).json()["results"] == []
    assert api.get(f"{READINGS}{mine.pk}/").json()["bp_category"] == "elevated"


def test_instrument_results_in_and_out(clinic_a, patient_a, api):
    body = {
        "patient": str(patient_a.pk),
        "instrument": "phq9",
        "completed_at": timezone.now().isoformat(),
        "answers": {str(n): 1 for n in range(1, 10)},
    }
    response = post(api, RESULTS, body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["total"] == "9.00" and data["band"] == "mild" and data["flags"] == ["phq9_item9_positive"]
    assert data["answers"] == body["answers"] and data["source"] == "api"
    score(clinic_a, patient_a, "gad7", {str(n): 0 for n in range(1, 8)})
    listed = api.get(RESULTS, {"patient": str(patient_a.pk), "instrument": "gad7"}).json()["results"]
    assert [r["instrument"] for r in listed] == ["gad7"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"answers": {str(n): 1 for n in range(1, 9)}}, "answers"),
        ({"answers": {**{str(n): 1 for n in range(1, 10)}, "9": 5}}, "answers"),
        ({"instrument": "bwsq"}, "instrument"),
    ],
)
def test_bad_answers_are_400_and_write_nothing(clinic_a, patient_a, api, change, field):
    before = counts(clinic_a)
    body = {
        "patient": str(patient_a.pk),
        "instrument": "phq9",
        "completed_at": timezone.now().isoformat(),
        "answers": {str(n): 1 for n in range(1, 10)},
        **change,
    }
    response = post(api, RESULTS, body)
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert field in response.json()["errors"]
    assert counts(clinic_a) == before


def test_roles_without_vitals_permission_are_refused(clinic_a, patient_a):
    admissions = token_client(clinic_a, Role.ADMISSIONS, name="Bedside monitor")
    assert admissions.get(READINGS).status_code == 403
    assert post(admissions, READINGS, reading_body(patient_a)).status_code == 403


def test_readings_are_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    assert "/api/v1/vital-readings/" in schema["paths"] and "/api/v1/instrument-results/" in schema["paths"]
    request = schema["components"]["schemas"]["VitalReadingRequest"]["properties"]
    assert "confirm_unusual" in request and set(request["values"]["properties"]) >= {"spo2", "weight"}
