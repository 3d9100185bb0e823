"""Assessment services: drafts, signing, locking (service and database), amendments and their hashes."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.intake import content
from patients.intake.models import AssessmentAmendment, IntakeAssessment
from patients.intake.services import (
    assessment_amend,
    assessment_create,
    assessment_sign,
    assessment_update,
    effective_values,
)
from tests.dates import clinic_date
from tests.patients.intake.factories import assessment_fields, make_assessment, make_clinician

pytestmark = pytest.mark.django_db


def _row(clinic, assessment) -> tuple:
    with tenant_context(clinic), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM intake_intakeassessment WHERE id = %s", [assessment.pk])
        return cursor.fetchone()


def _counts(clinic) -> tuple[int, int]:
    with tenant_context(clinic):
        return IntakeAssessment.objects.count(), AssessmentAmendment.objects.count()


def test_create_records_the_suggestion_and_audits(clinic_a, patient_a):
    clinician = make_clinician(clinic_a)
    with tenant_context(clinic_a):
        assessment = assessment_create(actor=clinician, patient=patient_a, fields=assessment_fields())
        assert assessment.status == "draft" and assessment.suggested_level == "iop"
        assert assessment.assessed_by == clinician
        event = AuditEvent.objects.get(object_id=str(assessment.pk))
        assert event.action == "create" and event.patient_id == patient_a.pk


BAD_FIELDS = {
    "rating-above-4": ({"d3_rating": 5}, "d3_rating"),
    "rating-below-0": ({"d1_rating": -1}, "d1_rating"),
    "future-date": ({"assessed_on": clinic_date() + datetime.timedelta(days=2)}, "assessed_on"),
    "oversized-notes": ({"d2_notes": "x" * 4001}, "d2_notes"),
    "missing-rationale": ({"rationale": "   "}, "rationale"),
    "unknown-drug": ({"current_benzodiazepine": "benzonatate"}, "current_benzodiazepine"),
    "dose-without-drug": ({"current_benzodiazepine": "none"}, "daily_dose_mg"),
    "departure-without-reason": ({"recommended_level": "op"}, "departure_reason"),
}


@pytest.mark.parametrize(("overrides", "field"), BAD_FIELDS.values(), ids=BAD_FIELDS.keys())
def test_bad_input_is_refused_and_nothing_is_saved(clinic_a, patient_a, overrides, field):
    clinician = make_clinician(clinic_a)
    before = _counts(clinic_a)
    with tenant_context(clinic_a), pytest.raises(ValidationError) as caught:
        assessment_create(actor=clinician, patient=patient_a, fields=assessment_fields(**overrides))
    assert field in caught.value.message_dict
    assert _counts(clinic_a) == before


def test_clinician_may_depart_from_the_suggestion_with_a_reason(clinic_a, patient_a):
    assessment = make_assessment(
        clinic_a, patient=patient_a, recommended_level="php", departure_reason="Lives alone, 90 minutes away."
    )
    assert assessment.suggested_level == "iop" and assessment.recommended_level == "php"


def test_admissions_cannot_write_an_assessment(clinic_a, patient_a, staff_a):
    with tenant_context(clinic_a), pytest.raises(ValidationError):
        assessment_create(actor=staff_a[Role.ADMISSIONS], patient=patient_a, fields=assessment_fields())


def test_sign_locks_hashes_and_the_service_refuses_edits(clinic_a):
    assessment = make_assessment(clinic_a, sign=True)
    assert assessment.status == "signed" and assessment.signed_at and len(assessment.content_hash) == 64
    assert assessment.content_hash == content.sha256_hex(
        content.canonical_json(content.signed_content(assessment))
    )
    row = _row(clinic_a, assessment)
    with tenant_context(clinic_a), pytest.raises(ValidationError, match="locked"):
        assessment_update(actor=assessment.assessed_by, assessment=assessment, fields={"d1_rating": 4})
    assert _row(clinic_a, assessment) == row


def test_the_database_refuses_to_change_or_delete_a_signed_assessment(clinic_a):
    assessment = make_assessment(clinic_a, sign=True)
    row = _row(clinic_a, assessment)
    for sql in (
        "UPDATE intake_intakeassessment SET d1_rating = 4 WHERE id = %s",
        "UPDATE intake_intakeassessment SET status = 'draft', content_hash = '' WHERE id = %s",
        "DELETE FROM intake_intakeassessment WHERE id = %s",
    ):
        with (
            tenant_context(clinic_a),
            pytest.raises(DatabaseError, match="signed and locked"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [assessment.pk])
    with tenant_context(clinic_a), pytest.raises(DatabaseError), transaction.atomic():
        IntakeAssessment.objects.filter(pk=assessment.pk).update(rationale="rewritten")
    assert _row(clinic_a, assessment) == row


def test_drafts_stay_editable_in_the_database(clinic_a):
    assessment = make_assessment(clinic_a)
    with tenant_context(clinic_a):
        updated = assessment_update(
            actor=assessment.assessed_by,
            assessment=assessment,
            fields={"d1_rating": 3, "d1_notes": "Worse.", "departure_reason": "Prefers IOP; see plan."},
        )
        assert updated.suggested_level == "php"
        assert AuditEvent.objects.filter(object_id=str(assessment.pk), action="update").exists()


def test_only_the_assessor_or_a_psychiatrist_signs(clinic_a):
    assessment = make_assessment(clinic_a)
    colleague = make_clinician(clinic_a)
    with tenant_context(clinic_a), pytest.raises(ValidationError, match="assessing clinician"):
        assessment_sign(actor=colleague, assessment=assessment)
    psychiatrist = make_clinician(clinic_a, Role.PSYCHIATRIST)
    with tenant_context(clinic_a):
        signed = assessment_sign(actor=psychiatrist, assessment=assessment)
    assert signed.signed_by == psychiatrist and signed.assessed_by == assessment.assessed_by


def test_amendments_append_and_the_original_stays_byte_identical(clinic_a):
    assessment = make_assessment(clinic_a, sign=True)
    row = _row(clinic_a, assessment)
    original_json = content.canonical_json(content.signed_content(assessment))
    with tenant_context(clinic_a):
        first = assessment_amend(
            actor=assessment.assessed_by,
            assessment=assessment,
            fields={**assessment_fields(), "d5_rating": 3, "d5_notes": "Disclosed a third failed taper."},
            reason="Collateral history from the partner.",
        )
        second = assessment_amend(
            actor=assessment.assessed_by,
            assessment=assessment,
            fields={
                "withdrawal_seizures": True,
                "withdrawal_seizures_when": "2019",
                "recommended_level": "php",
            },
            reason="Records from the ED arrived.",
        )
        assert first.changes == {"d5_rating": 3, "d5_notes": "Disclosed a third failed taper."}
        assert second.sequence == 2 and second.changes["recommended_level"] == "php"
        reloaded = IntakeAssessment.objects.get(pk=assessment.pk)
        effective = effective_values(reloaded, list(reloaded.amendments.all()))
    assert _row(clinic_a, assessment) == row
    assert content.canonical_json(content.signed_content(reloaded)) == original_json
    assert content.sha256_hex(original_json) == reloaded.content_hash
    assert effective["d5_rating"] == 3 and effective["withdrawal_seizures"] is True
    assert effective["d1_rating"] == 2 and reloaded.d5_rating == 2
    # The chain links each amendment to the one before it (the first to the signed original).
    expected_first = content.sha256_hex(
        content.canonical_json(
            content.amendment_content(
                assessment_id=reloaded.pk,
                previous_hash=reloaded.content_hash,
                sequence=1,
                changes=first.changes,
                reason=first.reason,
                author_id=first.author_id,
                signed_at=first.signed_at,
            )
        )
    )
    assert first.content_hash == expected_first


def test_amendments_themselves_are_append_only(clinic_a):
    assessment = make_assessment(clinic_a, sign=True)
    with tenant_context(clinic_a):
        amendment = assessment_amend(
            actor=assessment.assessed_by,
            assessment=assessment,
            fields={"d6_rating": 2},
            reason="Eviction notice.",
        )
        # Two layers: the app role holds no UPDATE grant, and the trigger refuses even the owner.
        with pytest.raises(DatabaseError, match=r"append-only|permission denied"), transaction.atomic():
            AssessmentAmendment.objects.filter(pk=amendment.pk).update(reason="other")


AMEND_ERRORS = {
    "no-reason": ({"d6_rating": 2}, "  ", "reason"),
    "no-change": (assessment_fields(), "Because.", "__all__"),
    "bad-rating": ({"d6_rating": 7}, "Because.", "d6_rating"),
    "departure-without-reason": ({"recommended_level": "op"}, "Because.", "departure_reason"),
    "oversized": ({"d6_notes": "y" * 4001}, "Because.", "d6_notes"),
}


@pytest.mark.parametrize(("fields", "reason", "field"), AMEND_ERRORS.values(), ids=AMEND_ERRORS.keys())
def test_bad_amendments_are_refused(clinic_a, fields, reason, field):
    assessment = make_assessment(clinic_a, sign=True)
    before = _counts(clinic_a)
    with tenant_context(clinic_a), pytest.raises(ValidationError) as caught:
        assessment_amend(actor=assessment.assessed_by, assessment=assessment, fields=fields, reason=reason)
    assert field in caught.value.message_dict
    assert _counts(clinic_a) == before


def test_a_draft_cannot_be_amended(clinic_a):
    assessment = make_assessment(clinic_a)
    with tenant_context(clinic_a), pytest.raises(ValidationError, match="draft"):
        assessment_amend(
            actor=assessment.assessed_by, assessment=assessment, fields={"d6_rating": 2}, reason="x"
        )
