"""Intake pages: who may open them, what each read audits, bad input, locked/draft conflicts, PDF, queries."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.intake.models import AssessmentAmendment, IntakeAssessment
from tests.conftest import make_patient
from tests.dates import clinic_date
from tests.patients.intake.factories import assessment_form_data, make_assessment
from tests.pdf_checks import assert_pdf_has_content

pytestmark = pytest.mark.django_db


def url(clinic, tail: str) -> str:
    return f"/c/{clinic.slug}/intake/{tail}"


@pytest.fixture
def as_clinician(client, clinician):
    client.force_login(clinician)
    return client


def _counts(clinic) -> tuple[int, int]:
    with tenant_context(clinic):
        return IntakeAssessment.objects.count(), AssessmentAmendment.objects.count()


def test_create_sign_amend_through_the_pages(as_clinician, clinician, clinic_a, patient_a):
    response = as_clinician.post(url(clinic_a, f"patients/{patient_a.pk}/new/"), assessment_form_data())
    assert response.status_code == 302
    with tenant_context(clinic_a):
        assessment = IntakeAssessment.objects.get(patient=patient_a)
    assert assessment.assessed_by == clinician and assessment.status == "draft"

    page = as_clinician.get(url(clinic_a, f"assessments/{assessment.pk}/sign/"))
    body = page.content.decode()
    assert "Suggested by the rules" in body and "Intensive outpatient" in body
    assert as_clinician.post(url(clinic_a, f"assessments/{assessment.pk}/sign/"), {}).status_code == 200
    response = as_clinician.post(url(clinic_a, f"assessments/{assessment.pk}/sign/"), {"confirm": "on"})
    assert response.status_code == 302
    with tenant_context(clinic_a):
        assessment.refresh_from_db()
    assert assessment.status == "signed"

    data = {**assessment_form_data(d4_rating=3, d4_notes="Ambivalent today."), "reason": "Second interview."}
    response = as_clinician.post(url(clinic_a, f"assessments/{assessment.pk}/amend/"), data)
    assert response.status_code == 302
    detail = as_clinician.get(url(clinic_a, f"assessments/{assessment.pk}/")).content.decode()
    assert "Amendment 1" in detail and "Second interview." in detail and "Original as signed" in detail
    assert assessment.content_hash in detail
    with tenant_context(clinic_a):
        assert AssessmentAmendment.objects.get().changes == {"d4_rating": 3, "d4_notes": "Ambivalent today."}


@pytest.mark.parametrize("tail", ["", "pdf/", "amend/", "edit/", "sign/"])
def test_admissions_and_auditors_get_403(client, staff_a, clinic_a, tail):
    assessment = make_assessment(clinic_a, sign=True)
    for role in (Role.ADMISSIONS, Role.AUDITOR, Role.CLINIC_ADMIN):
        client.force_login(staff_a[role])
        assert client.get(url(clinic_a, f"assessments/{assessment.pk}/{tail}")).status_code == 403
        assert client.get(url(clinic_a, f"patients/{assessment.patient_id}/panel/")).status_code == 403


def test_reading_audits_a_view_and_printing_audits_print(as_clinician, clinician, clinic_a):
    assessment = make_assessment(clinic_a, sign=True)
    as_clinician.get(url(clinic_a, f"assessments/{assessment.pk}/"))
    response = as_clinician.get(url(clinic_a, f"assessments/{assessment.pk}/pdf/"))
    assert response["Content-Type"] == "application/pdf"
    assert_pdf_has_content(response.content)
    with tenant_context(clinic_a):
        actions = list(
            AuditEvent.objects.filter(object_id=str(assessment.pk), actor=clinician).values_list(
                "action", flat=True
            )
        )
    assert "view" in actions and "print" in actions


BAD_FORMS = {
    "rating-5": ({"d2_rating": "5"}, "d2_rating"),
    "rating-text": ({"d2_rating": "severe"}, "d2_rating"),
    "future": (
        {"assessed_on": (clinic_date() + datetime.timedelta(days=3)).isoformat()},
        "assessed_on",
    ),
    "impossible-date": ({"assessed_on": "2026-02-30"}, "assessed_on"),
    "oversized": ({"d1_notes": "n" * 4001}, "d1_notes"),
    "no-rationale": ({"rationale": ""}, "rationale"),
    "departure-without-reason": ({"recommended_level": "op"}, "departure_reason"),
    "unknown-level": ({"recommended_level": "residential"}, "recommended_level"),
    "negative-dose": ({"daily_dose_mg": "-1"}, "daily_dose_mg"),
}


@pytest.mark.parametrize(("overrides", "field"), BAD_FORMS.values(), ids=BAD_FORMS.keys())
def test_bad_input_gets_form_errors_and_saves_nothing(as_clinician, clinic_a, patient_a, overrides, field):
    before = _counts(clinic_a)
    data = {**assessment_form_data(), **overrides}
    response = as_clinician.post(url(clinic_a, f"patients/{patient_a.pk}/new/"), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors, response.context["form"].errors
    assert (
        "There is a problem" in response.content.decode() or "There are problems" in response.content.decode()
    )
    assert _counts(clinic_a) == before


def test_amendment_without_reason_or_change_is_refused(as_clinician, clinic_a):
    assessment = make_assessment(clinic_a, sign=True)
    target = url(clinic_a, f"assessments/{assessment.pk}/amend/")
    response = as_clinician.post(target, assessment_form_data(d6_rating=3))
    assert "reason" in response.context["form"].errors
    response = as_clinician.post(target, {**assessment_form_data(), "reason": "Nothing really."})
    assert response.context["form"].non_field_errors()
    assert _counts(clinic_a)[1] == 0


def test_editing_a_signed_assessment_is_409_and_changes_nothing(as_clinician, clinic_a):
    assessment = make_assessment(clinic_a, sign=True)
    response = as_clinician.post(
        url(clinic_a, f"assessments/{assessment.pk}/edit/"), assessment_form_data(d1_rating=4)
    )
    assert response.status_code == 409 and "amendment" in response.content.decode()
    with tenant_context(clinic_a):
        assert IntakeAssessment.objects.get(pk=assessment.pk).d1_rating == 2


def test_amending_a_draft_is_409_and_points_to_edit(as_clinician, clinic_a):
    assessment = make_assessment(clinic_a)
    data = {**assessment_form_data(d1_rating=3), "reason": "x"}
    response = as_clinician.post(url(clinic_a, f"assessments/{assessment.pk}/amend/"), data)
    assert response.status_code == 409 and "Edit the draft" in response.content.decode()
    assert _counts(clinic_a) == (1, 0)


def test_a_colleague_sees_why_they_cannot_sign(client, clinic_a, staff_a):
    assessment = make_assessment(clinic_a)
    client.force_login(staff_a[Role.NURSE])
    response = client.post(url(clinic_a, f"assessments/{assessment.pk}/sign/"), {"confirm": "on"})
    assert response.status_code == 200 and "or a psychiatrist may sign" in response.content.decode()
    with tenant_context(clinic_a):
        assert IntakeAssessment.objects.get(pk=assessment.pk).status == "draft"


def test_panel_query_count_does_not_grow(as_clinician, clinic_a, clinician):
    patient = make_patient(clinic_a, first_name="Quinn", last_name="Query")
    make_assessment(clinic_a, patient=patient, actor=clinician, sign=True)
    target = url(clinic_a, f"patients/{patient.pk}/panel/")
    as_clinician.get(target, headers={"HX-Request": "true"})  # warm-up: session and per-user caches
    with CaptureQueriesContext(connection) as first:
        assert as_clinician.get(target, headers={"HX-Request": "true"}).status_code == 200
    for _ in range(4):
        make_assessment(clinic_a, patient=patient, actor=clinician)
    with CaptureQueriesContext(connection) as second:
        response = as_clinician.get(target, headers={"HX-Request": "true"})
    assert response.content.decode().count("Assessed ") == 5
    assert "<html" not in response.content.decode()
    assert _data_queries(second) == _data_queries(first)


def _data_queries(captured) -> int:
    """Queries other than savepoints and the middleware's occasional bookkeeping (session save, cached
    idle-timeout lookup), which does not depend on this page."""
    noise = ("django_session", "idle_timeout_minutes")
    return sum(
        1
        for query in captured.captured_queries
        if not any(word in query["sql"] for word in noise)
        and not query["sql"].startswith(("SAVEPOINT", "RELEASE"))
    )


def test_panel_is_a_full_page_without_htmx(as_clinician, clinic_a, patient_a):
    response = as_clinician.get(url(clinic_a, f"patients/{patient_a.pk}/panel/"))
    body = response.content.decode()
    assert response.status_code == 200 and "<html" in body and "Start intake assessment" in body


def test_form_pages_render_every_dimension(as_clinician, clinic_a, patient_a):
    body = as_clinician.get(url(clinic_a, f"patients/{patient_a.pk}/new/")).content.decode()
    for number in range(1, 7):
        assert f'id="dimension-{number}"' in body
    assert "3 · Significant" in body and "Start" not in body.split("<main")[0]
