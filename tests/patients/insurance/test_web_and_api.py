"""Browser pages and API: role checks, bad input as form errors / 400 problem+json, nothing half-saved."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.insurance.models import BenefitVerification, Coverage, EligibilityCheck
from tests.conftest import client_for
from tests.patients.insurance.conftest import answer_for

pytestmark = pytest.mark.django_db


def url(clinic, name, **kw) -> str:
    return reverse(f"insurance:{name}", kwargs={"clinic_slug": clinic.slug, **kw})


COVERAGE_POST = {
    "payer_name": "Acme Health Plan",
    "payer_id": "ACME1",
    "member_id": "ABC-123",
    "subscriber_relationship": "self",
    "effective_from": "2026-01-01",
    "priority": "primary",
    "is_active": "on",
}


def test_admissions_adds_a_coverage_and_sees_the_panel(clinic_a, staff_a, patient_a):
    client = client_for(staff_a[Role.ADMISSIONS])
    response = client.post(url(clinic_a, "coverage-create", patient_id=patient_a.pk), COVERAGE_POST)
    assert response.status_code == 302
    panel = client.get(
        url(clinic_a, "patient-panel", patient_id=patient_a.pk), headers={"HX-Request": "true"}
    )
    body = panel.content.decode()
    assert panel.status_code == 200 and "<html" not in body and "Acme Health Plan" in body
    assert "Verify benefits (no verification yet)." in body
    page = client.get(url(clinic_a, "patient-panel", patient_id=patient_a.pk))
    assert "<html" in page.content.decode()  # works without htmx too
    with tenant_context(clinic_a):
        assert AuditEvent.objects.filter(action="view", patient_id=patient_a.pk).count() == 2


@pytest.mark.parametrize(
    ("change", "field_error"),
    [
        ({"effective_to": "2025-12-31"}, "The coverage cannot end before it starts."),
        ({"member_id": "ABC 123!"}, "Use 2–80 letters, digits or dashes"),
        ({"payer_name": "x" * 500}, "at most 60 characters"),
        ({"effective_from": "2026-02-30"}, "Enter a valid date."),
    ],
)
def test_coverage_form_errors(clinic_a, staff_a, patient_a, change, field_error):
    client = client_for(staff_a[Role.ADMISSIONS])
    response = client.post(
        url(clinic_a, "coverage-create", patient_id=patient_a.pk), {**COVERAGE_POST, **change}
    )
    assert response.status_code == 400 and field_error in response.content.decode()
    with tenant_context(clinic_a):
        assert Coverage.objects.count() == 0


def test_duplicate_primary_is_a_form_error(clinic_a, staff_a, patient_a, coverage):
    client = client_for(staff_a[Role.ADMISSIONS])
    response = client.post(url(clinic_a, "coverage-create", patient_id=patient_a.pk), COVERAGE_POST)
    assert (
        response.status_code == 400 and "already has an active primary coverage" in response.content.decode()
    )


@pytest.mark.parametrize(
    ("role", "status"), [(Role.NURSE, 403), (Role.AUDITOR, 403), (Role.CLINIC_ADMIN, 302)]
)
def test_who_may_change_insurance(clinic_a, staff_a, patient_a, role, status):
    response = client_for(staff_a[role]).post(
        url(clinic_a, "coverage-create", patient_id=patient_a.pk), COVERAGE_POST
    )
    assert response.status_code == status


def test_read_roles(clinic_a, staff_a, coverage):
    page = url(clinic_a, "coverage-detail", coverage_id=coverage.pk)
    assert client_for(staff_a[Role.CLINICIAN]).get(page).status_code == 200
    assert client_for(staff_a[Role.NURSE]).get(page).status_code == 403
    assert client_for(staff_a[Role.AUDITOR]).get(page).status_code == 403


def test_settings_page_is_for_clinic_admins(clinic_a, staff_a):
    data = {
        "organization_name": "Alder Clinic",
        "npi": "1234567890",  # bad check digit
        "submitter_id": "ALDER",
        "receiver_id": "ACME",
        "usage_indicator": "T",
    }
    assert client_for(staff_a[Role.ADMISSIONS]).post(url(clinic_a, "settings"), data).status_code == 403
    admin = client_for(staff_a[Role.CLINIC_ADMIN])
    response = admin.post(url(clinic_a, "settings"), data)
    assert response.status_code == 400 and "valid 10-digit NPI" in response.content.decode()
    assert admin.post(url(clinic_a, "settings"), {**data, "npi": "1234567893"}).status_code == 302


def test_start_check_upload_271_and_status_page(clinic_a, staff_a, profile, coverage):
    client = client_for(staff_a[Role.ADMISSIONS])
    response = client.post(
        url(clinic_a, "check-start", coverage_id=coverage.pk), {"service_types": ["AI", "BB"]}
    )
    assert response.status_code == 302
    with tenant_context(clinic_a):
        check = EligibilityCheck.objects.get()
    upload = url(clinic_a, "check-upload", check_id=check.pk)
    bad = SimpleUploadedFile("r.271", b"ISA*00*oops~", content_type="text/plain")
    response = client.post(upload, {"response_file": bad})
    assert response.status_code == 400 and "X12 syntax error" in response.content.decode()
    with tenant_context(clinic_a):
        assert EligibilityCheck.objects.get().status == "error" and not BenefitVerification.objects.exists()
    good = SimpleUploadedFile("r.271", answer_for(check, "271_rejected_subscriber.x12").encode())
    assert client.post(upload, {"response_file": good}).status_code == 302
    page = client.get(url(clinic_a, "check-detail", check_id=check.pk)).content.decode()
    assert "Subscriber/Insured Not Found" in page and "please correct and resubmit" in page
    assert "<details><summary>270 inquiry sent</summary>" in page and "271 response received" in page


def test_start_without_profile_is_a_form_error(clinic_a, staff_a, coverage):
    client = client_for(staff_a[Role.ADMISSIONS])
    response = client.post(url(clinic_a, "check-start", coverage_id=coverage.pk), {"service_types": ["AI"]})
    assert response.status_code == 400 and "billing profile" in response.content.decode()


def test_usage_entry_errors_on_the_page(clinic_a, staff_a, coverage):
    from tests.patients.insurance.test_coverage_and_authorizations import _auth

    auth = _auth(clinic_a, coverage)
    client = client_for(staff_a[Role.ADMISSIONS])
    usage = url(clinic_a, "usage-create", authorization_id=auth.pk)
    response = client.post(usage, {"service_date": "2026-03-01", "units": 1})
    assert response.status_code == 400 and "is outside it" in response.content.decode()
    assert client.post(usage, {"service_date": "2026-01-10", "units": 4}).status_code == 302
    page = client.get(url(clinic_a, "authorization-detail", authorization_id=auth.pk)).content.decode()
    assert "Only 1 days left" in page or "Only 1 day" in page
    assert (
        client_for(staff_a[Role.NURSE]).post(usage, {"service_date": "2026-01-11", "units": 1}).status_code
        == 403
    )


# --- API ---------------------------------------------------------------------------------------------------
def api(user, clinic) -> Client:
    client = client_for(user)
    client.defaults["HTTP_X_STEPDOWN_CLINIC"] = clinic.slug
    return client


def post(client, path, data):
    return client.post(path, data=json.dumps(data), content_type="application/json")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"effective_to": "2025-12-31"}, "effective_to"),
        ({"member_id": "bad id"}, "member_id"),
        ({"payer_name": "x" * 5000}, "payer_name"),
        ({"patient": "00000000-0000-0000-0000-000000000000"}, "patient"),
        ({"effective_from": "2026-13-01"}, "effective_from"),
    ],
)
def test_api_coverage_bad_input_is_problem_json(clinic_a, staff_a, patient_a, change, field):
    client = api(staff_a[Role.ADMISSIONS], clinic_a)
    body = {**COVERAGE_POST, "is_active": True, "patient": str(patient_a.pk), **change}
    response = post(client, "/api/v1/coverages/", body)
    assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    with tenant_context(clinic_a):
        assert Coverage.objects.count() == 0


def test_api_flow_and_roles(clinic_a, staff_a, patient_a, profile):
    from tests.patients.consent.factories import tpo_consent_in

    tpo_consent_in(clinic_a, patient_a)  # the 270 started below is a Part 2 disclosure to the payer
    client = api(staff_a[Role.ADMISSIONS], clinic_a)
    body = {**COVERAGE_POST, "is_active": True, "patient": str(patient_a.pk)}
    created = post(client, "/api/v1/coverages/", body)
    assert created.status_code == 201
    coverage_id = created.json()["id"]
    duplicate = post(client, "/api/v1/coverages/", {**body, "member_id": "OTHER-1"})
    assert duplicate.status_code == 400 and "priority" in duplicate.json()["errors"]
    listed = client.get(f"/api/v1/coverages/?patient={patient_a.pk}").json()["results"]
    assert [c["id"] for c in listed] == [coverage_id]
    started = post(
        client, "/api/v1/eligibility-checks/start/", {"coverage": coverage_id, "service_types": ["AI"]}
    )
    assert started.status_code == 201 and started.json()["status"] == "sent"
    auth = post(
        client,
        "/api/v1/authorizations/",
        {
            "coverage": coverage_id,
            "level_of_care": "php",
            "units_authorized": 10,
            "unit_type": "days",
            "start_date": "2026-01-01",
            "end_date": "2026-01-31",
            "notes": "y" * 3000,
        },
    )
    assert auth.status_code == 400 and "notes" in auth.json()["errors"]
    nurse = api(staff_a[Role.NURSE], clinic_a)
    assert nurse.get("/api/v1/coverages/").status_code == 403
    auditor = api(staff_a[Role.AUDITOR], clinic_a)
    assert auditor.get(f"/api/v1/coverages/{coverage_id}/").status_code == 403
    clinician = api(staff_a[Role.CLINICIAN], clinic_a)
    assert clinician.get(f"/api/v1/coverages/{coverage_id}/").status_code == 200
    patch = clinician.patch(
        f"/api/v1/coverages/{coverage_id}/", '{"plan_name": "x"}', content_type="application/json"
    )
    assert patch.status_code == 403
