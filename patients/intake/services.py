"""Writes to intake assessments: create/edit a draft, sign it, amend it. Validated, atomic, audited.

Who may sign: the assessing clinician, or a psychiatrist (who supervises the program medically and may
co-sign for a colleague who has left). Both also need Perm.ASSESSMENT_SIGN, which the views check.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.actors import ActorLike
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import clinic_today, require_clinic
from clinic.tenancy.models import Membership
from clinic.tenancy.roles import Perm, Role
from patients.intake import asam, content
from patients.intake.models import NOTES_MAX, AssessmentAmendment, IntakeAssessment
from patients.models import Patient

LOCKED = "This assessment is signed and locked. Record a change as an amendment."
NOT_SIGNED = "This assessment is still a draft: edit it instead of amending it."
DEPARTURE_REQUIRED = (
    "The recommended level differs from the suggested level ({suggested}). Say why in "
    "“Why the recommendation differs”."
)


def ratings_of(values: Any) -> dict[int, int]:
    get = values.get if isinstance(values, Mapping) else lambda name: getattr(values, name)
    return {n: get(f"d{n}_rating") for n in asam.DIMENSION_NUMBERS}


def suggestion_for(values: Any) -> asam.Suggestion:
    """The rules' suggestion for a mapping of field values or an assessment."""
    get = values.get if isinstance(values, Mapping) else lambda name: getattr(values, name)
    history = asam.History(
        seizures=bool(get("withdrawal_seizures")), delirium=bool(get("withdrawal_delirium"))
    )
    return asam.suggest_level(ratings_of(values), history)


def recommendation_errors(values: Any, suggestion: asam.Suggestion) -> dict[str, list[str]]:
    """Cross-field rules shared by the form, the service and the amendment: the clinician may depart from the
    suggestion, but must say why; an assessed date cannot be in the future; a dose needs a medication."""
    get = values.get if isinstance(values, Mapping) else lambda name: getattr(values, name)
    errors: dict[str, list[str]] = {}
    if not (get("rationale") or "").strip():
        errors["rationale"] = ["Give the rationale for the recommended level of care."]
    departs = get("recommended_level") and get("recommended_level") != suggestion.level
    if departs and not (get("departure_reason") or "").strip():
        errors["departure_reason"] = [DEPARTURE_REQUIRED.format(suggested=suggestion.level_name)]
    assessed_on = get("assessed_on")
    if isinstance(assessed_on, datetime.date) and assessed_on > clinic_today():
        errors["assessed_on"] = ["The assessment date cannot be in the future."]
    if get("current_benzodiazepine") == "none" and get("daily_dose_mg"):
        errors["daily_dose_mg"] = ["No current benzodiazepine was chosen, so leave the dose empty."]
    elif get("current_benzodiazepine") not in (None, "", "none") and get("daily_dose_mg") in (None, ""):
        errors["daily_dose_mg"] = ["Enter the daily dose as assessed."]
    return errors


def _clean_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(content.EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Not editable: {', '.join(sorted(unknown))}")
    values = dict(fields)
    for name, value in values.items():
        if isinstance(value, str):
            values[name] = value.strip()
    return values


def _validate(assessment: IntakeAssessment) -> None:
    errors: dict[str, list[str]] = {}
    try:
        assessment.full_clean(exclude=["clinic"], validate_constraints=False)
    except ValidationError as error:
        errors = dict(error.message_dict)
    if not any(f"d{n}_rating" in errors for n in asam.DIMENSION_NUMBERS):
        suggestion = suggestion_for(assessment)
        assessment.suggested_level = suggestion.level
        for name, problems in recommendation_errors(assessment, suggestion).items():
            errors.setdefault(name, []).extend(problems)
    if errors:
        raise ValidationError(errors)


def _assert_clinical_signer(user: Any) -> None:
    membership = Membership.objects.active().filter(user=user, clinic=require_clinic()).first()
    if membership is None or not membership.allows(Perm.ASSESSMENT_SIGN):
        raise ValidationError("Only a member of the care team can write intake assessments.")


@transaction.atomic
def assessment_create(*, actor: ActorLike, patient: Patient, fields: Mapping[str, Any]) -> IntakeAssessment:
    """A new draft, assessed by `actor`."""
    _assert_clinical_signer(actor)
    assessment = IntakeAssessment(
        clinic=require_clinic(), patient=patient, assessed_by=actor, **_clean_values(fields)
    )
    _validate(assessment)
    assessment.save()
    audit(actor=actor, action=AuditEvent.Action.CREATE, obj=assessment, patient=patient)
    return assessment


def _lock(assessment: IntakeAssessment) -> IntakeAssessment:
    return IntakeAssessment.objects.select_for_update().get(pk=assessment.pk)


@transaction.atomic
def assessment_update(
    *, actor: ActorLike, assessment: IntakeAssessment, fields: Mapping[str, Any]
) -> IntakeAssessment:
    """Edit a draft. A signed assessment is refused (the database would refuse it too)."""
    current = _lock(assessment)
    if current.is_signed:
        raise ValidationError(LOCKED, code="locked")
    values = _clean_values(fields)
    changed = sorted(name for name, value in values.items() if getattr(current, name) != value)
    for name in changed:
        setattr(current, name, values[name])
    suggested_before = current.suggested_level
    _validate(current)
    if changed or current.suggested_level != suggested_before:
        current.save()
        audit(
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            obj=current,
            patient=current.patient_id,
            detail={"fields": changed},
        )
    return current


def may_sign(*, user: Any, assessment: IntakeAssessment, roles: list[str]) -> bool:
    return user.pk == assessment.assessed_by_id or Role.PSYCHIATRIST in roles


def signer_refusal(*, user: Any, assessment: IntakeAssessment, roles: list[str]) -> str:
    if assessment.is_signed:
        return "This assessment is already signed."
    if not may_sign(user=user, assessment=assessment, roles=roles):
        return (
            f"Only the assessing clinician ({assessment.assessed_by.display_name}) or a psychiatrist may "
            "sign this assessment."
        )
    return ""


@transaction.atomic
def assessment_sign(*, actor: ActorLike, assessment: IntakeAssessment) -> IntakeAssessment:
    """Sign and lock: record signer and time, and hash the signed content."""
    current = _lock(assessment)
    membership = Membership.objects.active().filter(user=actor, clinic=require_clinic()).first()
    roles = list(membership.roles) if membership and membership.allows(Perm.ASSESSMENT_SIGN) else []
    if not roles:
        raise ValidationError("Only a member of the care team can sign intake assessments.")
    refusal = signer_refusal(user=actor, assessment=current, roles=roles)
    if refusal:
        raise ValidationError(refusal, code="locked" if current.is_signed else "signer")
    _validate(current)  # re-checks the rules as they stand today, and refreshes the suggestion
    current.status = IntakeAssessment.Status.SIGNED
    current.signed_by = actor
    current.signed_at = timezone.now()
    current.content_hash = content.sha256_hex(content.canonical_json(content.signed_content(current)))
    current.save()
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        obj=current,
        patient=current.patient_id,
        detail={"signed": True, "content_hash": current.content_hash},
    )
    return current


def effective_values(assessment: IntakeAssessment, amendments: list[AssessmentAmendment]) -> dict[str, Any]:
    """The assessment as it reads now: the original with each amendment applied in order."""
    values = {name: content.json_value(getattr(assessment, name)) for name in content.EDITABLE_FIELDS}
    for amendment in amendments:
        values.update(amendment.changes)
    return values


def python_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-safe effective values back to Python types, for the cross-field rules."""
    result = dict(values)
    if isinstance(result.get("assessed_on"), str):
        result["assessed_on"] = datetime.date.fromisoformat(result["assessed_on"])
    return result


@transaction.atomic
def assessment_amend(
    *, actor: ActorLike, assessment: IntakeAssessment, fields: Mapping[str, Any], reason: str
) -> AssessmentAmendment:
    """Append a signed amendment holding only the fields whose values change. The original is untouched."""
    _assert_clinical_signer(actor)
    current = _lock(assessment)  # also orders concurrent amendments of one assessment
    if not current.is_signed:
        raise ValidationError(NOT_SIGNED, code="draft")
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if not reason:
        errors["reason"] = ["Say why the assessment is being amended."]
    elif len(reason) > NOTES_MAX:
        errors["reason"] = [f"Keep the reason under {NOTES_MAX} characters."]
    previous = list(current.amendments.order_by("sequence"))
    before = effective_values(current, previous)
    values = _clean_values(fields)
    changes = {
        name: content.json_value(value)
        for name, value in values.items()
        if content.json_value(value) != before[name]
    }
    if not changes and not errors:
        errors["__all__"] = ["Nothing was changed: edit at least one field."]
    if changes:
        # Validate the amended assessment as a whole with the model's own field rules.
        probe = IntakeAssessment(**{**python_values(before), **values})
        probe.patient_id, probe.assessed_by_id = current.patient_id, current.assessed_by_id
        try:
            probe.full_clean(exclude=["clinic", "patient", "assessed_by"], validate_constraints=False)
        except ValidationError as error:
            for name, problems in error.message_dict.items():
                errors.setdefault(name, []).extend(problems)
        if not any(f"d{n}_rating" in errors for n in asam.DIMENSION_NUMBERS):
            for name, problems in recommendation_errors(probe, suggestion_for(probe)).items():
                errors.setdefault(name, []).extend(problems)
    if errors:
        raise ValidationError(errors)
    sequence = len(previous) + 1
    previous_hash = previous[-1].content_hash if previous else current.content_hash
    signed_at = timezone.now()
    digest = content.sha256_hex(
        content.canonical_json(
            content.amendment_content(
                assessment_id=current.pk,
                previous_hash=previous_hash,
                sequence=sequence,
                changes=changes,
                reason=reason,
                author_id=actor.pk,
                signed_at=signed_at,
            )
        )
    )
    amendment = AssessmentAmendment.objects.create(
        assessment=current,
        sequence=sequence,
        changes=changes,
        reason=reason,
        author=actor,
        signed_at=signed_at,
        content_hash=digest,
    )
    audit(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        obj=amendment,
        patient=current.patient_id,
        detail={"assessment": str(current.pk), "fields": sorted(changes)},
    )
    return amendment
