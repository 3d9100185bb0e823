"""Writes to the patient record: validated, atomic, audited in the same transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import require_clinic
from patients.models import Patient

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
    audit(actor=actor, action=AuditEvent.Action.UPDATE, obj=patient, patient=patient, detail={"fields": changed})
    return patient
