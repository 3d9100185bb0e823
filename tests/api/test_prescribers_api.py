"""Prescribers, medications (staff entry, EHR upsert, stop) and PDMP fills over the API: validation that
writes nothing, audit, consent-gated reads by outside systems, `updated_since` sync, flat query counts."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.pagination import SyncCursorPagination
from api.services import api_client_create
from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.consent.models import Disclosure
from patients.consent.services import api_client_set_disclosure
from prescribers.models import Dispensation, Medication, Prescriber
from tests.conftest import make_patient, token_client
from tests.dates import clinic_date
from tests.patients.consent.factories import consent_in, recipient_in
from tests.prescribers.factories import (
    DEAS,
    NPIS,
    make_dispensation,
    make_medication,
    make_prescriber,
)

pytestmark = pytest.mark.django_db

PRESCRIBERS = "/api/v1/prescribers/"
MEDICATIONS = "/api/v1/medications/"
DISPENSATIONS = "/api/v1/dispensations/"
PROBLEM = "application/problem+json"
EHR = "urn:oid:2.16.840.1.113883.3.77.1"
TODAY = clinic_date()


@pytest.fixture
def nurse_api(clinic_a) -> Client:
    return token_client(clinic_a, Role.NURSE)


def _send(client: Client, method: str, url: str, body, **headers):
    data = body if isinstance(body, str) else json.dumps(body, default=str)
    return getattr(client, method)(url, data=data, content_type="application/json", headers=headers)


def _post(client, url, body, **headers):
    return _send(client, "post", url, body, **headers)


def _patch(client, url, body):
    return _send(client, "patch", url, body)


def _counts(clinic) -> tuple[int, int, int]:
    with tenant_context(clinic):
        return Prescriber.objects.count(), Medication.objects.count(), AuditEvent.objects.count()


def _medication_body(patient, **changes) -> dict:
    values = {
        "patient": str(patient.pk),
        "drug_text": "Oxycodone 10 mg tablet",
        "strength": "10",
        "strength_unit": "mg",
        "dose": "1",
        "dose_unit": "tablet",
        "doses_per_day": "4",
        "start_on": (TODAY - datetime.timedelta(days=3)).isoformat(),
    }
    values.update(changes)
    return values


# --- prescribers ----------------------------------------------------------------------------------------
def test_prescriber_create_cleans_the_npi_and_is_audited(nurse_api, clinic_a):
    response = _post(
        nurse_api,
        PRESCRIBERS,
        {"first_name": "Robin", "last_name": "Hale", "credentials": "MD", "npi": "1234-567 893"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["npi"] == "1234567893" and body["display_name"] == "Robin Hale, MD"
    assert body["is_active"] is True and body["recipient"] is None
    with tenant_context(clinic_a):
        event = AuditEvent.objects.get(action=AuditEvent.Action.CREATE, object_id=body["id"])
    assert event.actor_label.startswith("api:EHR sync")


BAD_PRESCRIBERS = {
    "npi-check-digit": ({"npi": "1234567890"}, "npi", "check digit"),
    "npi-shape": ({"npi": "12345"}, "npi", "10 digits"),
    "dea-check-digit": ({"dea": "AP5836728"}, "dea", "check digit"),
    "dea-shape": ({"dea": "A1"}, "dea", "two letters"),
    "blank-name": ({"last_name": "  "}, "last_name", ""),
    "bad-phone": ({"phone": "call me"}, "phone", ""),
    "licence-without-state": ({"state_license": "MD123"}, "license_state", "state"),
    "lone-surrogate": ({"last_name": "Hale\ud800"}, "last_name", "Surrogate"),
    "born-inactive": ({"is_active": False}, "is_active", "active"),
}


@pytest.mark.parametrize(("change", "field", "words"), BAD_PRESCRIBERS.values(), ids=BAD_PRESCRIBERS.keys())
def test_bad_prescriber_is_400_naming_the_field_and_writes_nothing(nurse_api, clinic_a, change, field, words):
    before = _counts(clinic_a)
    response = _post(nurse_api, PRESCRIBERS, {"first_name": "Robin", "last_name": "Hale", **change})
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == PROBLEM
    errors = response.json()["errors"]
    assert field in errors, errors
    assert words in " ".join(errors[field])
    assert _counts(clinic_a) == before


def test_duplicate_npi_and_dea_are_400_on_their_fields(nurse_api, clinic_a, clinic_b):
    make_prescriber(clinic_a, npi=NPIS[0], dea=DEAS[0])
    before = _counts(clinic_a)
    response = _post(
        nurse_api, PRESCRIBERS, {"first_name": "Other", "last_name": "Person", "npi": NPIS[0], "dea": DEAS[0]}
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "already has this NPI" in errors["npi"][0] and "already has this DEA" in errors["dea"][0]
    assert _counts(clinic_a) == before
    # Another clinic's registry is its own.
    other = _post(
        token_client(clinic_b, Role.NURSE), PRESCRIBERS, {"first_name": "A", "last_name": "B", "npi": NPIS[0]}
    )
    assert other.status_code == 201


def test_prescriber_search_filters_and_sync(nurse_api, clinic_a):
    hale = make_prescriber(clinic_a, npi=NPIS[0], dea=DEAS[0], last_name="Hale", practice="Maple Family")
    ortiz = make_prescriber(clinic_a, npi=NPIS[1], last_name="Ortiz")
    gone = make_prescriber(clinic_a, npi=NPIS[2], last_name="Gone")
    with tenant_context(clinic_a):
        Prescriber.objects.filter(pk=gone.pk).update(is_active=False)
        Prescriber.objects.filter(pk=hale.pk).update(updated_at=timezone.now() - datetime.timedelta(days=30))

    def ids(**params) -> list[str]:
        response = nurse_api.get(PRESCRIBERS, params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [str(gone.pk), str(hale.pk), str(ortiz.pk)]  # name order (the registry's index)
    assert ids(q="maple") == [str(hale.pk)]
    assert ids(q=NPIS[1]) == [str(ortiz.pk)]
    assert ids(npi=f"{NPIS[0][:4]}-{NPIS[0][4:]}") == [str(hale.pk)]
    assert ids(dea=DEAS[0].lower()) == [str(hale.pk)]
    assert ids(is_active="false") == [str(gone.pk)]
    since = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    assert ids(updated_since=since) == [str(gone.pk), str(ortiz.pk)]


def test_prescriber_patch_goes_through_the_service(nurse_api, clinic_a):
    first = make_prescriber(clinic_a, npi=NPIS[0])
    second = make_prescriber(clinic_a, npi=NPIS[1], last_name="Second")
    url = f"{PRESCRIBERS}{second.pk}/"
    response = _patch(nurse_api, url, {"phone": "503-555-0100", "is_active": False})
    assert response.status_code == 200, response.content
    assert response.json()["phone"] == "503-555-0100" and response.json()["is_active"] is False
    refused = _patch(nurse_api, url, {"npi": first.npi})
    assert refused.status_code == 400 and "already has this NPI" in refused.json()["errors"]["npi"][0]
    with tenant_context(clinic_a):
        assert Prescriber.objects.get(pk=second.pk).npi == NPIS[1]
        event = AuditEvent.objects.get(action=AuditEvent.Action.UPDATE, object_id=str(second.pk))
    assert event.detail == {"changed": ["is_active", "phone"]}
    assert _send(nurse_api, "put", url, {"first_name": "X", "last_name": "Y"}).status_code == 405


def test_prescriber_permissions_follow_the_role_table(clinic_a):
    # PRESCRIBER_VIEW/MANAGE: the care team, admissions and the clinic admin; the auditor reads nothing here.
    assert token_client(clinic_a, Role.ADMISSIONS).get(PRESCRIBERS).status_code == 200
    assert token_client(clinic_a, Role.AUDITOR).get(PRESCRIBERS).status_code == 403
    refused = _post(token_client(clinic_a, Role.AUDITOR), PRESCRIBERS, {"first_name": "A", "last_name": "B"})
    assert refused.status_code == 403 and _counts(clinic_a)[0] == 0


# --- medications: staff entry ---------------------------------------------------------------------------
def test_staff_medication_create_computes_class_and_mme(nurse_api, clinic_a, patient_a):
    prescriber = make_prescriber(clinic_a, npi=NPIS[0])
    response = _post(nurse_api, MEDICATIONS, _medication_body(patient_a, prescriber=str(prescriber.pk)))
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["source"], body["identifier"], body["status"]) == ("staff", None, "active")
    assert (body["ingredient"], body["drug_class"], body["drug_class_label"]) == (
        "oxycodone",
        "opioid",
        "Opioid",
    )
    assert body["mme_per_day"] == "60.00" and body["mme_reason"] == ""  # 10 mg x 4 a day x 1.5
    assert body["daily_amount"] == "40.0000"
    assert body["prescriber"] == str(prescriber.pk)
    assert body["prescriber_summary"] == {
        "id": str(prescriber.pk),
        "display_name": "Robin Hale, MD",
        "npi": NPIS[0],
        "dea": "",
        "in_program": False,
    }
    assert body["pharmacy"] is None and body["pharmacy_summary"] is None
    assert body["entered_by_label"].startswith("api:EHR sync")
    with tenant_context(clinic_a):
        event = AuditEvent.objects.get(action=AuditEvent.Action.CREATE, object_id=body["id"])
    assert event.patient_id == patient_a.pk


def test_a_benzodiazepine_has_no_mme_and_an_unconvertible_opioid_says_why(nurse_api, patient_a):
    benzo = _post(
        nurse_api,
        MEDICATIONS,
        _medication_body(patient_a, drug_text="Alprazolam 1 mg tablet", strength="1", doses_per_day="2"),
    ).json()
    assert (benzo["drug_class"], benzo["mme_per_day"], benzo["mme_reason"]) == ("benzodiazepine", None, "")
    vague = _post(
        nurse_api, MEDICATIONS, _medication_body(patient_a, doses_per_day=None, dose=None, dose_unit="")
    )
    assert vague.status_code == 201, vague.content
    assert vague.json()["mme_per_day"] is None and vague.json()["mme_reason"]


BAD_MEDICATIONS = {
    "unknown-unit": ({"strength_unit": "grams"}, "strength_unit"),
    "units-do-not-fit": ({"strength_unit": "mcg/h"}, "dose_unit"),
    "zero-strength": ({"strength": "0"}, "strength"),
    "not-a-number": ({"dose": "two"}, "dose"),
    "too-many-doses": ({"doses_per_day": "30"}, "doses_per_day"),
    "end-before-start": ({"end_on": (TODAY - datetime.timedelta(days=10)).isoformat()}, "end_on"),
    "year-one": ({"start_on": "0001-01-01"}, "start_on"),
    "blank-drug": ({"drug_text": "   "}, "drug_text"),
    "lone-surrogate": ({"drug_text": "Oxycodone \ud83d tablet"}, "drug_text"),
    "nul-character": ({"sig": "take one\x00"}, "sig"),
    "bad-choice": ({"indication": "fun"}, "indication"),
    "prescriber-unknown": ({"prescriber": "00000000-0000-0000-0000-000000000000"}, "prescriber"),
    "prescriber-not-a-uuid": ({"prescriber": "42"}, "prescriber"),
    "identifier-without-value": ({"identifier": {"system": EHR}}, "identifier"),
    "identifier-not-an-object": ({"identifier": "RX-1"}, "identifier"),
    "wrong-types": ({"drug_text": ["x"], "as_needed": "sometimes"}, "drug_text"),
}


@pytest.mark.parametrize(("change", "field"), BAD_MEDICATIONS.values(), ids=BAD_MEDICATIONS.keys())
def test_bad_medication_is_400_naming_the_field_and_writes_nothing(
    nurse_api, clinic_a, patient_a, change, field
):
    before = _counts(clinic_a)
    response = _post(nurse_api, MEDICATIONS, _medication_body(patient_a, **change))
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == PROBLEM
    assert field in response.json()["errors"], response.json()
    assert _counts(clinic_a) == before


def test_another_clinics_patient_prescriber_and_pharmacy_are_unknown(
    nurse_api, clinic_a, clinic_b, patient_a, patient_b
):
    theirs = make_prescriber(clinic_b, npi=NPIS[0])
    with tenant_context(clinic_b):
        from prescribers.services import pharmacy_resolve

        pharmacy = pharmacy_resolve(actor=None, name="Birch Pharmacy", ncpdp="1234567")
    before = _counts(clinic_a)
    response = _post(
        nurse_api,
        MEDICATIONS,
        _medication_body(patient_b, prescriber=str(theirs.pk), pharmacy=str(pharmacy.pk)),
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"patient", "prescriber", "pharmacy"}
    assert errors["prescriber"] == [f"No prescriber with id {theirs.pk} in this clinic."]
    assert _counts(clinic_a) == before
    # The same ids with the clinic's own patient: still unknown, and nothing written.
    response = _post(nurse_api, MEDICATIONS, _medication_body(patient_a, prescriber=str(theirs.pk)))
    assert response.status_code == 400 and set(response.json()["errors"]) == {"prescriber"}
    assert _counts(clinic_a) == before


def test_deeply_nested_json_is_a_400_problem_not_a_500(nurse_api, clinic_a, patient_a):
    before = _counts(clinic_a)
    deep = '{"drug_text": ' + "[" * 50_000 + "]" * 50_000 + "}"
    response = _post(nurse_api, MEDICATIONS, deep)
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert "nested" in response.json()["detail"]
    # Every endpoint parses with the same bounded parser (the base class), e.g. vital readings.
    assert _post(nurse_api, "/api/v1/vital-readings/", deep).status_code == 400
    # Deep but parseable (under Python's recursion limit) is refused the same way.
    nested = _medication_body(patient_a)
    nested["identifier"] = {"system": EHR, "value": json.loads("[" * 40 + "]" * 40)}
    response = _post(nurse_api, MEDICATIONS, nested)
    assert response.status_code == 400 and "nested" in response.json()["detail"]
    assert _counts(clinic_a) == before


# --- medications: the EHR upsert ------------------------------------------------------------------------
def test_ehr_upsert_creates_once_then_updates_the_same_medication(nurse_api, clinic_a, patient_a):
    body = _medication_body(patient_a, identifier={"system": EHR, "value": "RX-1001"})
    first = _post(nurse_api, MEDICATIONS, body)
    assert first.status_code == 201, first.content
    created = first.json()
    assert created["source"] == "ehr" and created["identifier"] == {"system": EHR, "value": "RX-1001"}
    assert created["provenance"] == f"EHR {EHR}"
    again = _post(nurse_api, MEDICATIONS, {**body, "doses_per_day": "3"})
    assert again.status_code == 200, again.content
    assert again.json()["id"] == created["id"]
    assert again.json()["doses_per_day"] == "3.000" and again.json()["mme_per_day"] == "45.00"
    same = _post(nurse_api, MEDICATIONS, {**body, "doses_per_day": "3"})
    assert same.status_code == 200 and same.json()["id"] == created["id"]
    with tenant_context(clinic_a):
        assert Medication.objects.count() == 1
        actions = list(
            AuditEvent.objects.filter(object_id=created["id"]).order_by("id").values_list("action", flat=True)
        )
    assert actions == ["create", "update", "update"]


def test_ehr_upsert_with_an_idempotency_key_replays_the_first_answer(nurse_api, clinic_a, patient_a):
    body = _medication_body(patient_a, identifier={"system": EHR, "value": "RX-2002"})
    first = _post(nurse_api, MEDICATIONS, body, **{"Idempotency-Key": "ehr-sync-0001"})
    retry = _post(nurse_api, MEDICATIONS, body, **{"Idempotency-Key": "ehr-sync-0001"})
    assert first.status_code == retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true" and retry.json() == first.json()
    reused = _post(nurse_api, MEDICATIONS, {**body, "dose": "2"}, **{"Idempotency-Key": "ehr-sync-0001"})
    assert reused.status_code == 422
    with tenant_context(clinic_a):
        assert Medication.objects.get().dose == Decimal("1")
        assert AuditEvent.objects.filter(object_id=first.json()["id"]).count() == 1


def test_another_patients_identifier_is_409_and_changes_nothing(nurse_api, clinic_a, patient_a):
    other = make_patient(clinic_a, first_name="Other", last_name="Patient")
    body = _medication_body(patient_a, identifier={"system": EHR, "value": "RX-3003"})
    assert _post(nurse_api, MEDICATIONS, body).status_code == 201
    before = _counts(clinic_a)
    response = _post(nurse_api, MEDICATIONS, {**body, "patient": str(other.pk), "dose": "2"})
    assert response.status_code == 409 and response["Content-Type"] == PROBLEM
    problem = response.json()
    assert problem["type"].endswith("identifier_conflict")
    assert problem["errors"] == {"identifier": ["This identifier belongs to another patient's medication."]}
    assert _counts(clinic_a) == before
    with tenant_context(clinic_a):
        assert Medication.objects.get().dose == Decimal("1")


def test_the_same_identifier_in_another_clinic_is_another_medication(
    clinic_a, clinic_b, patient_a, patient_b
):
    body = {"identifier": {"system": EHR, "value": "RX-4004"}}
    a = _post(token_client(clinic_a, Role.NURSE), MEDICATIONS, _medication_body(patient_a, **body))
    b = _post(token_client(clinic_b, Role.NURSE), MEDICATIONS, _medication_body(patient_b, **body))
    assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]


# --- medications: change and stop -----------------------------------------------------------------------
def test_patch_recomputes_and_refuses_moving_the_medication(nurse_api, clinic_a, patient_a):
    medication = make_medication(clinic_a, patient_a)
    url = f"{MEDICATIONS}{medication.pk}/"
    response = _patch(nurse_api, url, {"doses_per_day": "2", "sig": "1 tablet twice a day"})
    assert response.status_code == 200, response.content
    assert response.json()["mme_per_day"] == "30.00" and response.json()["sig"] == "1 tablet twice a day"
    other = make_patient(clinic_a, first_name="Other")
    assert set(_patch(nurse_api, url, {"patient": str(other.pk)}).json()["errors"]) == {"patient"}
    moved = _patch(nurse_api, url, {"identifier": {"system": EHR, "value": "X"}})
    assert moved.status_code == 400 and set(moved.json()["errors"]) == {"identifier"}
    assert _patch(nurse_api, url, {"strength_unit": "mcg/h"}).status_code == 400
    assert _patch(nurse_api, url, {"status": "stopped"}).json()["status"] == "active"  # read-only: use stop
    with tenant_context(clinic_a):
        row = Medication.objects.get(pk=medication.pk)
    assert (row.patient_id, row.external_id, row.strength_unit) == (patient_a.pk, "", "mg")


def test_stop_says_whether_it_can_and_stops_once(nurse_api, clinic_a, patient_a):
    medication = make_medication(clinic_a, patient_a)
    url = f"{MEDICATIONS}{medication.pk}/stop/"
    assert nurse_api.get(url).json() == {
        "stoppable": True,
        "status": "active",
        "stopped_on": None,
        "stop_reason": "",
        "requires": ["stopped_on", "reason"],
    }
    no_reason = _post(nurse_api, url, {"stopped_on": TODAY})
    assert no_reason.status_code == 400 and set(no_reason.json()["errors"]) == {"reason"}
    too_early = _post(nurse_api, url, {"stopped_on": TODAY - datetime.timedelta(days=30), "reason": "x"})
    assert too_early.status_code == 400 and "stopped_on" in too_early.json()["errors"]
    stopped = _post(nurse_api, url, {"reason": "Prescriber agreed to consolidate"})
    assert stopped.status_code == 200, stopped.content
    body = stopped.json()
    assert (body["status"], body["stopped_on"], body["end_on"]) == ("stopped", str(TODAY), str(TODAY))
    assert body["stop_reason"] == "Prescriber agreed to consolidate"
    assert nurse_api.get(url).json()["stoppable"] is False
    again = _post(nurse_api, url, {"reason": "again"})
    assert again.status_code == 400 and "Already stopped" in again.json()["errors"]["stopped_on"][0]


def test_medication_permissions_follow_the_role_table(clinic_a, patient_a):
    # MEDICATION_VIEW/RECORD: the care team only.
    admissions = token_client(clinic_a, Role.ADMISSIONS)
    assert admissions.get(MEDICATIONS).status_code == 403
    assert admissions.get(DISPENSATIONS).status_code == 403
    assert _post(admissions, MEDICATIONS, _medication_body(patient_a)).status_code == 403
    assert _counts(clinic_a)[1] == 0


# --- medication list: filters, sync order, audit ----------------------------------------------------------
def test_medication_filters_and_updated_since_sync_order(nurse_api, clinic_a, patient_a):
    other = make_patient(clinic_a, first_name="Other")
    old = make_medication(clinic_a, patient_a)
    benzo = make_medication(
        clinic_a,
        patient_a,
        drug_text="Alprazolam 1 mg tablet",
        strength=Decimal("1"),
        doses_per_day=Decimal("2"),
    )
    theirs = make_medication(clinic_a, other)
    with tenant_context(clinic_a):
        Medication.objects.filter(pk=old.pk).update(updated_at=timezone.now() - datetime.timedelta(days=30))

    def ids(**params) -> list[str]:
        response = nurse_api.get(MEDICATIONS, params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [str(old.pk), str(benzo.pk), str(theirs.pk)]  # oldest change first
    assert ids(patient=patient_a.pk) == [str(old.pk), str(benzo.pk)]
    assert ids(drug_class="benzodiazepine") == [str(benzo.pk)]
    since = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    assert ids(updated_since=since) == [str(benzo.pk), str(theirs.pk)]
    # A change moves the row to the end of the sync order.
    assert _patch(nurse_api, f"{MEDICATIONS}{benzo.pk}/", {"sig": "as directed"}).status_code == 200
    assert _post(nurse_api, f"{MEDICATIONS}{old.pk}/stop/", {"reason": "Done"}).status_code == 200
    assert ids() == [str(theirs.pk), str(benzo.pk), str(old.pk)]
    assert ids(status="stopped") == [str(old.pk)]
    assert nurse_api.get(MEDICATIONS, {"updated_since": "last week"}).status_code == 400
    assert nurse_api.get(MEDICATIONS, {"drug_class": "candy"}).status_code == 400


def test_cursor_walks_every_medication_once(nurse_api, clinic_a, patient_a):
    made = {str(make_medication(clinic_a, patient_a, sig=f"row {n}").pk) for n in range(7)}
    seen, url, pages = [], f"{MEDICATIONS}?page_size=3", 0
    while url:
        body = nurse_api.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url, pages = body["next"], pages + 1
    assert pages == 3 and sorted(seen) == sorted(made)


def test_reads_are_audited(nurse_api, clinic_a, patient_a):
    medication = make_medication(clinic_a, patient_a)
    fill = make_dispensation(clinic_a, patient_a)
    assert nurse_api.get(f"{MEDICATIONS}{medication.pk}/").status_code == 200
    assert nurse_api.get(f"{DISPENSATIONS}{fill.pk}/").status_code == 200
    assert nurse_api.get(MEDICATIONS).status_code == 200
    with tenant_context(clinic_a):
        views = AuditEvent.objects.filter(action=AuditEvent.Action.VIEW, patient_id=patient_a.pk)
        assert sorted(views.values_list("object_id", flat=True)) == sorted([str(medication.pk), str(fill.pk)])
        listed = AuditEvent.objects.get(action=AuditEvent.Action.LIST)
    assert listed.object_type == "prescribers.medication" and listed.detail["shown"] == 1


# --- dispensations ----------------------------------------------------------------------------------------
def test_dispensations_show_the_fill_its_prescriber_and_its_provenance(nurse_api, clinic_a, patient_a):
    prescriber = make_prescriber(clinic_a, npi=NPIS[0], dea=DEAS[0])
    fill = make_dispensation(
        clinic_a,
        patient_a,
        drug_text="Oxycodone 5 mg tablet",
        strength=Decimal("5"),
        quantity=Decimal("120"),
        daily_amount=Decimal("20"),
        prescriber=prescriber,
        filled_on=TODAY - datetime.timedelta(days=10),
        days_supply=30,
        import_fields={"transaction_id": "gw-7781", "state": "WA"},
    )
    response = nurse_api.get(f"{DISPENSATIONS}{fill.pk}/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["supply_end"] == str(TODAY + datetime.timedelta(days=19))
    assert body["daily_amount"] == "20.0000" and body["mme_per_day"] == "30.00"
    assert (body["ingredient"], body["drug_class_label"]) == ("oxycodone", "Opioid")
    assert body["prescriber_summary"]["npi"] == NPIS[0] and body["prescriber_name"] == "Robin Hale"
    assert body["pharmacy"] is None and body["pharmacy_name"] == "Corner Pharmacy"
    provenance = body["pdmp_import"]
    assert (provenance["state"], provenance["transaction_id"], provenance["format"]) == (
        "WA",
        "gw-7781",
        "fhir",
    )
    assert provenance["queried_at"] and provenance["imported_by_label"] == "Test Nurse"
    assert "raw" not in provenance and "fingerprint" not in body


def test_dispensations_are_read_only_and_filtered(nurse_api, clinic_a, patient_a):
    other = make_patient(clinic_a, first_name="Other")
    old = make_dispensation(clinic_a, patient_a, filled_on=TODAY - datetime.timedelta(days=60))
    recent = make_dispensation(clinic_a, patient_a, filled_on=TODAY - datetime.timedelta(days=2))
    theirs = make_dispensation(clinic_a, other)
    with tenant_context(clinic_a):
        Dispensation.objects.filter(pk=old.pk).update(updated_at=timezone.now() - datetime.timedelta(days=30))

    def ids(**params) -> list[str]:
        return [row["id"] for row in nurse_api.get(DISPENSATIONS, params).json()["results"]]

    assert ids() == [str(old.pk), str(recent.pk), str(theirs.pk)]
    assert ids(patient=patient_a.pk) == [str(old.pk), str(recent.pk)]
    assert ids(patient=patient_a.pk, filled_since=TODAY - datetime.timedelta(days=7)) == [str(recent.pk)]
    since = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    assert ids(updated_since=since) == [str(recent.pk), str(theirs.pk)]
    assert _post(nurse_api, DISPENSATIONS, {}).status_code == 405
    assert _patch(nurse_api, f"{DISPENSATIONS}{old.pk}/", {"quantity": "1"}).status_code == 405


# --- Part 2: reads by an outside system -------------------------------------------------------------------
def _outside_client(clinic, recipient, purpose="treatment") -> Client:
    with tenant_context(clinic):
        row, token = api_client_create(actor=None, name="Partner PCP", roles=[Role.NURSE])
        api_client_set_disclosure(
            actor=None, client=row, is_outside_system=True, recipient=recipient, purpose=purpose
        )
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def _disclosures(clinic) -> list[tuple]:
    with tenant_context(clinic):
        return sorted(
            (str(d.patient_id), tuple(d.information_categories), d.channel)
            for d in Disclosure.objects.filter(channel="api")
        )


@pytest.mark.parametrize("url", [MEDICATIONS, DISPENSATIONS])
def test_outside_system_sees_only_consented_medication_data_and_each_read_is_accounted(clinic_a, url):
    pcp = recipient_in(clinic_a, name="Dr. Pat Primary")
    covered = make_patient(clinic_a, first_name="Cora", last_name="Covered")
    attendance_only = make_patient(clinic_a, first_name="Ada", last_name="Attendance")
    no_consent = make_patient(clinic_a, first_name="Nell", last_name="Noconsent")
    consent_in(clinic_a, covered, recipients=[pcp])  # treatment: medications and attendance
    consent_in(clinic_a, attendance_only, recipients=[pcp], information_categories=["attendance"])
    rows = {}
    for patient in (covered, attendance_only, no_consent):
        made = (
            make_medication(clinic_a, patient) if url == MEDICATIONS else make_dispensation(clinic_a, patient)
        )
        rows[patient.pk] = str(made.pk)
    api = _outside_client(clinic_a, pcp)
    listed = api.get(url)
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [rows[covered.pk]]
    assert _disclosures(clinic_a) == [(str(covered.pk), ("medications",), "api")]
    assert api.get(f"{url}{rows[covered.pk]}/").status_code == 200
    refused = api.get(f"{url}{rows[attendance_only.pk]}/")
    assert refused.status_code == 403 and "information not covered" in refused.json()["detail"]
    assert api.get(f"{url}{rows[no_consent.pk]}/").status_code == 403
    assert len(_disclosures(clinic_a)) == 2  # the list and the one allowed read; refusals account nothing
    # The clinic's own systems are internal communications: not gated, not accounted.
    internal = token_client(clinic_a, Role.NURSE).get(url).json()["results"]
    assert len(internal) == 3 and len(_disclosures(clinic_a)) == 2


def test_the_prescriber_registry_is_not_patient_data(clinic_a):
    make_prescriber(clinic_a, npi=NPIS[0])
    api = _outside_client(clinic_a, recipient_in(clinic_a))
    assert len(api.get(PRESCRIBERS).json()["results"]) == 1
    assert _disclosures(clinic_a) == []


# --- performance ------------------------------------------------------------------------------------------
def _query_count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, {"page_size": 50})
    assert response.status_code == 200, response.content
    return len(queries)


def _fill_clinic(clinic, patients: list, n: int, *, npi: str) -> None:
    prescriber = make_prescriber(clinic, npi=npi, last_name=f"Many{n}")
    with tenant_context(clinic):
        from prescribers.services import pharmacy_resolve

        pharmacy = pharmacy_resolve(actor=None, name=f"Pharmacy {n}", ncpdp=f"{n:07d}")
    for k in range(n):
        patient = patients[k % len(patients)]
        make_medication(clinic, patient, prescriber=prescriber, pharmacy=pharmacy)
        make_dispensation(clinic, patient, prescriber=prescriber, pharmacy=pharmacy)


URLS = (MEDICATIONS, DISPENSATIONS, PRESCRIBERS)


def test_list_query_counts_are_flat(clinic_a):
    api = token_client(clinic_a, Role.NURSE)
    patients = [make_patient(clinic_a, first_name=f"Flat{k}") for k in range(6)]
    _fill_clinic(clinic_a, patients[:1], 1, npi=NPIS[3])
    api.get(MEDICATIONS)  # warm the token's last-used stamp and per-process caches
    one = [_query_count(api, url) for url in URLS]
    _fill_clinic(clinic_a, patients, 29, npi=NPIS[4])
    assert [_query_count(api, url) for url in URLS] == one
    assert len(api.get(MEDICATIONS, {"page_size": 50}).json()["results"]) == 30


def test_outside_system_list_query_counts_do_not_grow_with_rows(clinic_a):
    """The gate and the accounting are set-based; the accounting writes one DISCLOSE audit event per patient
    shown (patients.consent.gate.disclose_many), so the count is flat in rows for the same patients."""
    pcp = recipient_in(clinic_a)
    patients = [make_patient(clinic_a, first_name=f"Flat{k}") for k in range(6)]
    for patient in patients:
        consent_in(clinic_a, patient, recipients=[pcp])
    api = _outside_client(clinic_a, pcp)
    _fill_clinic(clinic_a, patients, 6, npi=NPIS[3])
    api.get(MEDICATIONS)
    six = [_query_count(api, url) for url in URLS]
    _fill_clinic(clinic_a, patients, 24, npi=NPIS[4])
    assert [_query_count(api, url) for url in URLS] == six
    assert len(api.get(MEDICATIONS, {"page_size": 50}).json()["results"]) == 30


@pytest.mark.parametrize(
    ("model", "index"), [(Medication, "medication_updated"), (Dispensation, "dispensation_updated")]
)
def test_sync_order_is_served_by_the_clinic_updated_at_index(clinic_a, model, index):
    """The pagination's order (with the clinic scope and an `updated_since` filter) is an index scan with no
    sort: the planner is told to avoid sequential scans so a small test table still shows the plan."""
    since = timezone.now() - datetime.timedelta(days=1)
    with tenant_context(clinic_a):
        queryset = model.objects.filter(updated_at__gte=since).order_by(*SyncCursorPagination.ordering)[:50]
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
        plan = queryset.explain()
    assert index in plan and "Sort" not in plan, plan


# --- PDMP report import over the API ------------------------------------------------------------------------
PDMP_IMPORTS = "/api/v1/pdmp-imports/"


def _report_body(patient, **changes):
    import base64

    from prescribers.pdmp.samples import example

    data = example("fhir", latest_fill_on=TODAY - datetime.timedelta(days=5))
    body = {
        "patient": str(patient.pk),
        "state": "OR",
        "format": "fhir",
        "content": base64.b64encode(data).decode(),
        "identity_confirmed": True,
    }
    body.update(changes)
    return body


@pytest.fixture
def oregon_raw(clinic_a):
    from prescribers.services import state_policy_set

    with tenant_context(clinic_a):
        state_policy_set(actor=None, state="OR", storage="raw")


def test_a_pdmp_report_previews_then_imports_over_the_api(clinic_a, patient_a, oregon_raw):
    from prescribers.models import Dispensation

    api = token_client(clinic_a, Role.NURSE)
    preview = api.post(PDMP_IMPORTS, _report_body(patient_a, preview=True), content_type="application/json")
    assert preview.status_code == 200, preview.content
    assert len(preview.json()["new"]) == 5 and preview.json()["problems"] == []
    with tenant_context(clinic_a):
        assert not Dispensation.objects.exists()
    created = api.post(PDMP_IMPORTS, _report_body(patient_a), content_type="application/json")
    assert created.status_code == 201, created.content
    assert created.json()["new_fill_count"] == 5
    again = api.post(PDMP_IMPORTS, _report_body(patient_a), content_type="application/json")
    assert again.status_code == 400 and "already imported" in again.content.decode()
    listed = api.get(PDMP_IMPORTS, {"patient": str(patient_a.pk)})
    assert listed.status_code == 200 and len(listed.json()["results"]) == 1


def test_a_malformed_report_over_the_api_is_a_problem_naming_every_line(clinic_a, patient_a, oregon_raw):
    import base64

    bad = base64.b64encode(b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": 3}]}')
    response = token_client(clinic_a, Role.NURSE).post(
        PDMP_IMPORTS, _report_body(patient_a, content=bad.decode()), content_type="application/json"
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert "Nothing was imported" in response.content.decode()


def test_a_pdmp_import_needs_medication_record(clinic_a, patient_a, oregon_raw):
    response = token_client(clinic_a, Role.ADMISSIONS).post(
        PDMP_IMPORTS, _report_body(patient_a), content_type="application/json"
    )
    assert response.status_code == 403
