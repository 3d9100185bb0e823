"""Consent API, and reads by outside systems: gated by consent, accounted once per patient per request."""

from __future__ import annotations

import datetime
import json

import pytest
from django.test import Client

from api.models import ApiClient
from api.services import api_client_create
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.consent.models import Consent, Disclosure
from tests.conftest import make_patient
from tests.dates import clinic_date
from tests.patients.consent.factories import consent_in, recipient_in, tpo_fields

pytestmark = pytest.mark.django_db
TODAY = clinic_date()


def _client(clinic, *, roles=(Role.CLINIC_ADMIN,), outside=None) -> Client:
    with tenant_context(clinic):
        row, token = api_client_create(actor=None, name="Partner EHR", roles=list(roles))
    if outside is not None:
        recipient, purpose = outside
        ApiClient.objects.filter(pk=row.pk).update(
            is_outside_system=True, recipient=recipient, disclosure_purpose=purpose
        )
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def _post(client, url, body):
    return client.post(url, data=json.dumps(body, default=str), content_type="application/json")


def _disclosures(clinic):
    with tenant_context(clinic):
        return list(Disclosure.objects.values_list("patient_id", "channel"))


def test_create_list_and_revoke_consent(clinic_a, patient_a, prescriber):
    api = _client(clinic_a)
    body = {
        "patient": patient_a.pk,
        "recipients": [prescriber.pk],
        "purpose": "treatment",
        "information_categories": ["medications"],
        "expiry_kind": "event",
        "expiry_event": "end of treatment",
        "signed_on": TODAY,
        "signed_by": "patient",
        "signature_method": "electronic",
        "signature_name": "Avery Alder",
    }
    created = _post(api, "/api/v1/consents/", body)
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["status"] == "active" and data["named_recipients"] == [str(prescriber.pk)]
    assert data["disclosing_party"] == clinic_a.name
    listed = api.get(f"/api/v1/consents/?patient={patient_a.pk}").json()["results"]
    assert [row["id"] for row in listed] == [data["id"]]
    revoked = _post(api, f"/api/v1/consents/{data['id']}/revoke/", {"revocation_method": "oral"})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    again = _post(api, f"/api/v1/consents/{data['id']}/revoke/", {})
    assert again.status_code == 400 and again["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"information_categories": ["counseling_notes", "diagnoses"]}, "information_categories"),
        ({"expires_on": TODAY - datetime.timedelta(days=1), "expiry_kind": "date"}, "expires_on"),
        ({"recipients": []}, "recipients"),
        ({"purpose": "other", "purpose_other": "x" * 400}, "purpose_other"),
        ({"information_categories": ["gossip"]}, "information_categories"),
    ],
)
def test_bad_consent_is_400_with_field_errors_and_nothing_saved(
    clinic_a, patient_a, prescriber, change, field
):
    api = _client(clinic_a)
    body = {
        "patient": patient_a.pk,
        "recipients": [prescriber.pk],
        "purpose": "treatment",
        "information_categories": ["medications"],
        "expiry_kind": "date",
        "expires_on": TODAY + datetime.timedelta(days=90),
        "signed_on": TODAY,
        "signed_by": "patient",
        "signature_method": "wet",
        **change,
    }
    response = _post(api, "/api/v1/consents/", body)
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    with tenant_context(clinic_a):
        assert Consent.objects.count() == 0


def test_internal_client_reads_are_not_disclosures(clinic_a, patient_a):
    api = _client(clinic_a, roles=(Role.ADMISSIONS,))
    assert api.get("/api/v1/patients/").status_code == 200
    assert api.get(f"/api/v1/patients/{patient_a.pk}/").status_code == 200
    assert _disclosures(clinic_a) == []


def test_outside_client_list_shows_only_consenting_patients_and_accounts_each(clinic_a):
    plan = recipient_in(clinic_a, kind="health_plan", name="Acme Health Plan")
    covered = make_patient(clinic_a, first_name="Cora", last_name="Covered")
    also = make_patient(clinic_a, first_name="Dana", last_name="Tpo")
    revoked = make_patient(clinic_a, first_name="Evan", last_name="Revoked")
    make_patient(clinic_a, first_name="Finn", last_name="Noconsent")
    consent_in(
        clinic_a, covered, recipients=[plan], purpose="payment", information_categories=["all_records"]
    )
    consent_in(clinic_a, also, **tpo_fields())
    consent_in(
        clinic_a,
        revoked,
        recipients=[plan],
        purpose="payment",
        information_categories=["all_records"],
        signed_on=TODAY - datetime.timedelta(days=20),
    )
    with tenant_context(clinic_a):
        from patients.consent.services import consent_revoke

        consent_revoke(
            actor=None, consent=Consent.objects.get(patient=revoked), revoked_on=TODAY, method="written"
        )
    api = _client(clinic_a, roles=(Role.ADMISSIONS,), outside=(plan, "payment"))
    response = api.get("/api/v1/patients/?page_size=50")
    assert response.status_code == 200
    shown = {row["id"] for row in response.json()["results"]}
    assert shown == {str(covered.pk), str(also.pk)}
    assert sorted(_disclosures(clinic_a)) == sorted([(covered.pk, "api"), (also.pk, "api")])
    # Retrieve: allowed one is accounted; a refused one is 403 with the reasons, and writes nothing.
    assert api.get(f"/api/v1/patients/{covered.pk}/").status_code == 200
    refused = api.get(f"/api/v1/patients/{revoked.pk}/")
    assert refused.status_code == 403 and "revoked on" in refused.json()["detail"]
    assert len(_disclosures(clinic_a)) == 3


def test_outside_client_without_recipient_sees_no_patient_data(clinic_a, patient_a):
    consent_in(clinic_a, patient_a, **tpo_fields())
    with tenant_context(clinic_a):
        row, token = api_client_create(actor=None, name="Unknown partner", roles=[Role.ADMISSIONS])
    ApiClient.objects.filter(pk=row.pk).update(is_outside_system=True)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/v1/patients/").json()["results"] == []
    assert api.get(f"/api/v1/patients/{patient_a.pk}/").status_code == 403
    assert _disclosures(clinic_a) == []


def test_disclosures_endpoint_is_read_only(clinic_a, patient_a, prescriber):
    consent_in(clinic_a, patient_a, recipients=[prescriber])
    api = _client(clinic_a)
    assert api.get("/api/v1/disclosures/").json()["results"] == []
    assert _post(api, "/api/v1/disclosures/", {}).status_code == 405
