"""Writes to the patient record: validated, atomic, audited in the same transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import require_clinic
from patients.levels_of_care import BY_CODE as LEVELS_BY_CODE
from patients.models import CareEpisode, Patient

EDITABLE_FIELDS = (
    "mrn",
    "first_name",
    "last_name",
    "preferred_name",
    "date_of_birth",
    "sex_at_birth",
    "pronouns",
    "phone",
    "email",
    "status",
)
MRN_PREFIX = "SD-"


def _next_mrn() -> str:
    """The clinic's next SD-nnnnnn number; the advisory lock keeps two admissions from taking the same one."""
    clinic = require_clinic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('patient-mrn'), %s)", [clinic.pk])
        cursor.execute(
            "SELECT max(substring(mrn from 4)::int) FROM patients_patient"
            " WHERE clinic_id = %s AND mrn ~ '^SD-[0-9]{1,9}$'",
            [clinic.pk],
        )
        (highest,) = cursor.fetchone()
    return f"{MRN_PREFIX}{(highest or 0) + 1:06d}"


def _clean_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Not editable: {', '.join(sorted(unknown))}")
    values = dict(fields)
    for name in ("first_name", "last_name", "preferred_name", "pronouns", "phone"):
        if isinstance(values.get(name), str):
            values[name] = values[name].strip()
    if isinstance(values.get("mrn"), str):
        values["mrn"] = values["mrn"].strip().upper()
    if isinstance(values.get("email"), str):
        values["email"] = values["email"].strip().lower()
    return values


DUPLICATE_MRN = "Another patient in this clinic already has this MRN."


def _validate(patient: Patient) -> None:
    """Field rules plus the clinic-unique MRN, reported on the MRN field (Django would report the
    (clinic, mrn) constraint as a form-wide error naming the hidden clinic field)."""
    errors: dict[str, list[str]] = {}
    try:
        patient.full_clean(validate_constraints=False)
    except ValidationError as error:
        errors = error.message_dict
    if "mrn" not in errors and Patient.objects.filter(mrn=patient.mrn).exclude(pk=patient.pk).exists():
        errors["mrn"] = [DUPLICATE_MRN]
    if errors:
        raise ValidationError(errors)


def _save_or_duplicate_mrn(patient: Patient) -> None:
    """Save; a concurrent save that took the same MRN after full_clean becomes a field error, not a 500."""
    try:
        with transaction.atomic():
            patient.save()
    except IntegrityError as error:
        if "patient_mrn_unique_per_clinic" not in str(error):
            raise
        raise ValidationError({"mrn": DUPLICATE_MRN}) from error


@transaction.atomic
def patient_create(*, actor: Any, fields: Mapping[str, Any]) -> Patient:
    values = _clean_values(fields)
    if not values.get("mrn"):
        values["mrn"] = _next_mrn()
    # The clinic is set up front so validation sees the row exactly as it will be saved.
    patient = Patient(clinic=require_clinic(), **values)
    _validate(patient)
    _save_or_duplicate_mrn(patient)
    audit(actor=actor, action=AuditEvent.Action.CREATE, obj=patient, patient=patient)
    return patient


@transaction.atomic
def patient_update(*, actor: Any, patient: Patient, fields: Mapping[str, Any]) -> Patient:
    values = _clean_values(fields)
    changed = sorted(name for name, value in values.items() if getattr(patient, name) != value)
    if not changed:
        return patient
    for name in changed:
        setattr(patient, name, values[name])
    _validate(patient)
    _save_or_duplicate_mrn(patient)
    # Field names only: the audit trail records what changed, not a second copy of the record.
    audit(
        actor=actor, action=AuditEvent.Action.UPDATE, obj=patient, patient=patient, detail={"fields": changed}
    )
    return patient


@transaction.atomic
def care_episode_start(
    *, actor: Any, patient: Patient, level: str, started_on, reason: str = ""
) -> CareEpisode:
    """Admit to, or step to, a level of care: closes the open episode (if any) on the same day."""
    if level not in LEVELS_BY_CODE:
        raise ValidationError({"level": f"Unknown level of care {level!r}."})
    reason = reason.strip()[:500]
    current = CareEpisode.objects.select_for_update().filter(patient=patient, ended_on__isnull=True).first()
    if current is not None:
        if started_on < current.started_on:
            raise ValidationError(
                {
                    "started_on": f"The current episode started on {current.started_on:%b %-d, %Y}; "
                    "a new level cannot start before it."
                }
            )
        if current.level == level:
            raise ValidationError({"level": "The patient is already at this level of care."})
        current.ended_on = started_on
        current.end_reason = reason
        current.save(update_fields=["ended_on", "end_reason", "updated_at"])
        audit(
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            obj=current,
            patient=patient,
            detail={"fields": ["ended_on", "end_reason"]},
        )
    episode = CareEpisode(patient=patient, level=level, started_on=started_on, start_reason=reason)
    episode.full_clean()
    episode.save()
    if patient.status != Patient.Status.ACTIVE:
        patient.status = Patient.Status.ACTIVE
        patient.save(update_fields=["status", "updated_at"])
    audit(actor=actor, action=AuditEvent.Action.CREATE, obj=episode, patient=patient, detail={"level": level})
    return episode


@transaction.atomic
def care_episode_end(*, actor: Any, patient: Patient, ended_on, reason: str) -> CareEpisode | None:
    """Discharge: close the open episode without opening another."""
    current = CareEpisode.objects.select_for_update().filter(patient=patient, ended_on__isnull=True).first()
    if current is None:
        return None
    if ended_on < current.started_on:
        raise ValidationError({"ended_on": "The episode cannot end before it started."})
    current.ended_on = ended_on
    current.end_reason = reason.strip()[:500]
    current.save(update_fields=["ended_on", "end_reason", "updated_at"])
    patient.status = Patient.Status.DISCHARGED
    patient.save(update_fields=["status", "updated_at"])
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        obj=current,
        patient=patient,
        detail={"fields": ["ended_on", "end_reason"], "discharged": True},
    )
    return current
