"""Read-only assessments API: the care team reads (with amendments and the effective view); others 403."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.intake.services import assessment_amend
from tests.patients.intake.factories import make_assessment

pytestmark = pytest.mark.django_db


def _client(user, clinic) -> APIClient:
    client = APIClient()
    client.force_login(user)
    client.credentials(HTTP_X_STEPDOWN_CLINIC=clinic.slug)
    return client


def test_clinician_lists_and_reads_with_effective_values(clinic_a, staff_a):
    assessment = make_assessment(clinic_a, sign=True)
    with tenant_context(clinic_a):
        assessment_amend(
            actor=assessment.assessed_by, assessment=assessment, fields={"d6_rating": 3}, reason="Moved."
        )
    client = _client(staff_a[Role.CLINICIAN], clinic_a)
    listing = client.get(f"/api/v1/intake-assessments/?patient={assessment.patient_id}")
    assert listing.status_code == 200 and listing.json()["results"][0]["id"] == str(assessment.pk)
    body = client.get(f"/api/v1/intake-assessments/{assessment.pk}/").json()
    assert body["d6_rating"] == 1 and body["effective"]["d6_rating"] == 3
    assert body["content_hash"] == assessment.content_hash and body["amendments"][0]["reason"] == "Moved."


def test_admissions_gets_403_and_writes_are_not_offered(clinic_a, staff_a):
    assessment = make_assessment(clinic_a, sign=True)
    response = _client(staff_a[Role.ADMISSIONS], clinic_a).get(f"/api/v1/intake-assessments/{assessment.pk}/")
    assert response.status_code == 403
    clinician = _client(staff_a[Role.CLINICIAN], clinic_a)
    assert (
        clinician.patch(f"/api/v1/intake-assessments/{assessment.pk}/", {}, format="json").status_code == 405
    )
