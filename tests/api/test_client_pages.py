"""API clients page: the token is shown once, works, and stops working (401 problem JSON) once revoked."""

from __future__ import annotations

import pytest
from django.test import Client

from api.models import ApiClient
from tests.clinic.accounts.helpers import clinic_audit_events, staff_url

pytestmark = pytest.mark.django_db

PATIENTS_API = "/api/v1/patients/"


@pytest.fixture
def clinic_admin_client(client, clinic_admin):
    client.force_login(clinic_admin)
    return client


def test_create_shows_token_once_then_revoke(clinic_admin_client, clinic_a, patient_a):
    created = clinic_admin_client.post(
        staff_url(clinic_a, "api-clients:list"), {"name": "EHR sync", "roles": ["nurse"]}
    )
    assert created.status_code == 200
    token = created.context["new_token"]
    assert token.startswith("sdk_") and token.encode() in created.content
    assert "no-store" in created["Cache-Control"]
    client_row = ApiClient.objects.get(clinic=clinic_a)
    assert client_row.token_hash != token and token not in client_row.token_prefix + client_row.token_hash

    listing = clinic_admin_client.get(staff_url(clinic_a, "api-clients:list"))
    assert b"EHR sync" in listing.content and token.encode() not in listing.content  # never shown again

    api = Client()  # no session: the token alone authenticates
    ok = api.get(PATIENTS_API, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200, ok.content

    revoked = clinic_admin_client.post(staff_url(clinic_a, "api-clients:revoke", client_id=client_row.pk))
    assert revoked.status_code == 302
    client_row.refresh_from_db()
    assert client_row.revoked_at is not None

    refused = api.get(PATIENTS_API, headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    assert refused["Content-Type"].startswith("application/problem+json")
    body = refused.json()
    assert body["status"] == 401 and body["type"].startswith("https://")
    events = [event.detail["event"] for event in clinic_audit_events(clinic_a, object_type="api.apiclient")]
    assert events == ["api_client_created", "api_client_revoked"]


def test_bad_create_is_form_error(clinic_admin_client, clinic_a):
    response = clinic_admin_client.post(staff_url(clinic_a, "api-clients:list"), {"name": "", "roles": []})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "roles"}
    assert response.context["new_token"] is None
    assert not ApiClient.objects.exists()


def test_cannot_revoke_other_clinics_client(clinic_admin_client, clinic_a, clinic_b):
    from api.services import api_client_create
    from clinic.tenancy.context import tenant_context

    with tenant_context(clinic_b):
        other, _ = api_client_create(actor=None, name="Birch EHR", roles=["nurse"])
    response = clinic_admin_client.post(staff_url(clinic_a, "api-clients:revoke", client_id=other.pk))
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None
