"""What gets recorded: patient page views, API reads, sign-ins; and that every value survives the
round trip through Postgres unchanged, so the chain still verifies."""

from __future__ import annotations

import datetime
import decimal
import uuid

import pytest

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from tests.clinic.audit.conftest import PASSWORD, clinic_events, verify

VIEW = AuditEvent.Action.VIEW


@pytest.mark.django_db
def test_patient_page_view_adds_exactly_one_view_event(clinician_client, clinic_a, staff_a, patient_a):
    before = clinic_events(clinic_a)
    response = clinician_client.get(f"/c/clinic-a/patients/{patient_a.pk}/", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200
    new = [event for event in clinic_events(clinic_a) if event not in before]
    assert len(new) == 1
    event = new[0]
    assert event.action == VIEW
    assert event.actor_id == staff_a[Role.CLINICIAN].pk
    assert event.actor_label == staff_a[Role.CLINICIAN].email
    assert event.patient_id == patient_a.pk
    assert (event.object_type, event.object_id) == ("patients.patient", str(patient_a.pk))
    assert event.ip_address == "203.0.113.9"
    assert event.request_id == response["X-Request-ID"]
    assert event.clinic_id == clinic_a.pk


@pytest.mark.django_db
def test_api_read_with_session_adds_a_view_event(clinician_client, clinic_a, patient_a):
    response = clinician_client.get(f"/api/v1/patients/{patient_a.pk}/", HTTP_X_STEPDOWN_CLINIC="clinic-a")
    assert response.status_code == 200, response.content
    views = clinic_events(clinic_a, action=VIEW, patient_id=patient_a.pk)
    assert len(views) == 1
    assert views[0].request_id == response["X-Request-ID"]


@pytest.mark.django_db
def test_api_read_with_token_adds_a_view_event_naming_the_client(client, clinic_a, staff_a, patient_a):
    from api.services import api_client_create

    with tenant_context(clinic_a):
        _client, token = api_client_create(
            actor=staff_a[Role.CLINIC_ADMIN], name="Lab bridge", roles=[Role.CLINICIAN]
        )
    response = client.get(f"/api/v1/patients/{patient_a.pk}/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    (event,) = clinic_events(clinic_a, action=VIEW, patient_id=patient_a.pk)
    assert event.actor_id is None
    assert event.actor_label.startswith("api:Lab bridge")


@pytest.mark.django_db
def test_other_clinics_patient_page_records_nothing_there(clinician_client, clinic_a, clinic_b, patient_b):
    response = clinician_client.get(f"/c/clinic-a/patients/{patient_b.pk}/")
    assert response.status_code == 404
    assert clinic_events(clinic_b) == []


@pytest.mark.django_db(transaction=True)
def test_signins_signouts_and_failed_signins_join_the_platform_chain(client, clinic_a, staff_a):
    from clinic.audit.management.commands.verify_audit_chain import platform_chain_visible
    from clinic.tenancy.maintenance import owner_connection

    nurse = staff_a[Role.NURSE]
    failed = client.post("/accounts/login/", {"login": nurse.email, "password": "not-the-password"})
    assert failed.status_code == 200  # the form again, with an error
    assert client.post("/accounts/login/", {"login": nurse.email, "password": PASSWORD}).status_code == 302
    assert client.post("/accounts/logout/").status_code == 302

    with owner_connection(), platform_chain_visible() as events:
        rows = list(events.order_by("id").values("action", "actor_id", "actor_label", "detail", "ip_address"))
    assert [row["action"] for row in rows] == ["login_failed", "login", "logout"]
    assert rows[0]["actor_id"] is None and rows[0]["actor_label"] == nurse.email
    assert "password" not in str(rows[0]["detail"])
    assert rows[1]["actor_id"] == rows[2]["actor_id"] == nurse.pk
    assert all(row["ip_address"] == "127.0.0.1" for row in rows)
    assert clinic_events(clinic_a) == []  # not in any clinic's chain
    assert verify()[0]


@pytest.mark.django_db(transaction=True)
def test_values_postgres_reformats_still_verify(clinic_a, patient_a):
    """inet, uuid, timestamptz and jsonb come back from Postgres in their own spelling."""
    from clinic.middleware import RequestMeta, _request_meta

    odd_ips = ["::1.2.3.4", "2001:DB8:0:0::A", "::FFFF:10.0.0.1", "fe80::1%eth0", "not-an-ip"]
    with tenant_context(clinic_a):
        for ip in odd_ips:
            token = _request_meta.set(RequestMeta(request_id="req-12345678", ip_address=ip))
            try:
                audit(
                    actor=None,
                    action="view",
                    patient=str(patient_a.pk).upper(),
                    detail={
                        "when": datetime.date(2026, 1, 2),
                        "dose_mg": decimal.Decimal("0.25"),
                        "ids": (uuid.UUID(int=7),),
                        "search": "nul\x00byte",
                        "big": 1e20,
                        "small": 5e-05,
                        "whole": 2.0,
                        "ünïcode": "Zoë",
                    },
                )
            finally:
                _request_meta.reset(token)
    stored = clinic_events(clinic_a)
    assert [event.ip_address for event in stored] == [
        "::1.2.3.4",
        "2001:db8::a",
        "::ffff:10.0.0.1",
        "fe80::1",
        None,
    ]
    assert {event.patient_id for event in stored} == {patient_a.pk}
    assert stored[0].detail["search"] == "nul\ufffdbyte"
    intact, output = verify("--clinic", "clinic-a")
    assert intact, output
