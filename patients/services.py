"""Writes to the patient record: validated, atomic, audited in the same transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from clinic.actors import ActorLike
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import require_clinic
from patients.codes import is_benzodiazepine, normalise_code
from patients.codes import lookup as lookup_diagnosis
from patients.levels_of_care import BY_CODE as LEVELS_BY_CODE
from patients.models import (
    Allergy,
    CareEpisode,
    Diagnosis,
    ExternalIdentifier,
    Patient,
    PatientContact,
    RecordSource,
    ReportedMedication,
    SubstanceUse,
)

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
    "address_line1",
    "address_line2",
    "city",
    "state",
    "zip_code",
    "preferred_language",
    "marital_status",
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
    for name in (
        "first_name",
        "last_name",
        "preferred_name",
        "pronouns",
        "phone",
        "address_line1",
        "address_line2",
        "city",
        "zip_code",
        "preferred_language",
    ):
        if isinstance(values.get(name), str):
            values[name] = values[name].strip()
    if isinstance(values.get("mrn"), str):
        values["mrn"] = values["mrn"].strip().upper()
    if isinstance(values.get("email"), str):
        values["email"] = values["email"].strip().lower()
    if isinstance(values.get("state"), str):
        values["state"] = values["state"].strip().upper()
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
def patient_create(*, actor: ActorLike, fields: Mapping[str, Any]) -> Patient:
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
def patient_update(*, actor: ActorLike, patient: Patient, fields: Mapping[str, Any]) -> Patient:
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
    *, actor: ActorLike, patient: Patient, level: str, started_on, reason: str = ""
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
def care_episode_end(*, actor: ActorLike, patient: Patient, ended_on, reason: str) -> CareEpisode | None:
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


# --- the rest of the record: contacts, identifiers, allergies, diagnoses, substance use, medications ----
RecordEntry = PatientContact | ExternalIdentifier | Allergy | Diagnosis | SubstanceUse | ReportedMedication

ENTRY_FIELDS: dict[type[RecordEntry], tuple[str, ...]] = {
    PatientContact: (
        "name",
        "relationship",
        "phone",
        "email",
        "is_emergency_contact",
        "may_receive_information",
        "notes",
        "is_active",
    ),
    ExternalIdentifier: ("system", "value", "label", "is_active"),
    Allergy: ("substance", "reaction", "severity", "status", "noted_on"),
    Diagnosis: ("code", "is_primary", "onset_on", "status", "resolved_on", "notes"),
    SubstanceUse: (
        "category",
        "benzodiazepine",
        "drug_name",
        "daily_amount",
        "unit",
        "route",
        "frequency",
        "duration_months",
        "age_at_first_use",
        "last_used_on",
        "prescribed",
        "notes",
    ),
    ReportedMedication: (
        "name",
        "strength",
        "dose_frequency",
        "prescriber_name",
        "indication",
        "reported_on",
        "status",
    ),
}


def _closing_values(model: type[RecordEntry]) -> dict[str, Any]:
    """What "mark inactive / resolve / stop" sets; substance-use history has no closed state."""
    return {
        PatientContact: {"is_active": False},
        ExternalIdentifier: {"is_active": False},
        Allergy: {"status": Allergy.Status.INACTIVE},
        Diagnosis: {"status": Diagnosis.Status.RESOLVED, "resolved_on": timezone.localdate()},
        ReportedMedication: {"status": ReportedMedication.Status.STOPPED},
    }.get(model, {})


def entry_can_close(entry: RecordEntry) -> bool:
    return bool(_closing_values(type(entry))) and not entry.is_closed


def _entry_values(model: type[RecordEntry], fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(ENTRY_FIELDS[model])
    if unknown:
        raise TypeError(f"Not editable on {model.__name__}: {', '.join(sorted(unknown))}")
    return {name: value.strip() if isinstance(value, str) else value for name, value in fields.items()}


def _derive(entry: RecordEntry) -> None:
    """Values the record computes rather than accepts: the coded description, the benzodiazepine flag."""
    if isinstance(entry, Diagnosis):
        entry.code = normalise_code(entry.code or "")
        found = lookup_diagnosis(entry.code)
        entry.description = found.description if found else ""
    elif isinstance(entry, ReportedMedication):
        entry.is_benzodiazepine = is_benzodiazepine(entry.name or "")


def _duplicate_identifier_error(entry: ExternalIdentifier) -> str | None:
    other = (
        ExternalIdentifier.objects.select_related("patient")
        .filter(system=entry.system, value=entry.value)
        .exclude(pk=entry.pk)
        .first()
    )
    if other is None:
        return None
    if other.patient_id == entry.patient_id:
        return "This patient already has this identifier in this system."
    return (
        f"Identifier {entry.value} in {entry.system} already belongs to {other.patient.display_name} "
        f"({other.patient.mrn}). One identifier can name only one patient."
    )


def _validate_entry(entry: RecordEntry) -> None:
    errors: dict[str, list[str]] = {}
    try:
        entry.full_clean(exclude=["patient", "clinic"], validate_constraints=False)
    except ValidationError as error:
        errors = error.message_dict
    if isinstance(entry, ExternalIdentifier) and not errors.keys() & {"system", "value"}:
        problem = _duplicate_identifier_error(entry)
        if problem:
            errors["value"] = [problem]
    if errors:
        raise ValidationError(errors)


def _save_entry(entry: RecordEntry) -> None:
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError as error:
        # A concurrent write that won the race after validation: still a field error, never a 500.
        if "identifier_unique_per_clinic" in str(error):
            raise ValidationError({"value": "This identifier was just recorded for a patient."}) from error
        if "diagnosis_one_active_primary" in str(error):
            raise ValidationError({"is_primary": "Another primary diagnosis was just recorded."}) from error
        raise


def _demote_other_primary(*, actor: ActorLike, entry: RecordEntry) -> None:
    """One active primary diagnosis per patient: marking a new one primary demotes the old one."""
    if not (isinstance(entry, Diagnosis) and entry.is_primary and entry.status == Diagnosis.Status.ACTIVE):
        return
    others = Diagnosis.objects.select_for_update().filter(
        patient_id=entry.patient_id, is_primary=True, status=Diagnosis.Status.ACTIVE
    )
    for other in others.exclude(pk=entry.pk):
        other.is_primary = False
        other.save(update_fields=["is_primary", "updated_at"])
        audit(
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            obj=other,
            patient=entry.patient_id,
            detail={"fields": ["is_primary"]},
        )


SOURCED_MODELS = (SubstanceUse, ReportedMedication)


@transaction.atomic
def record_entry_add(
    *,
    actor: ActorLike,
    patient: Patient,
    model: type[RecordEntry],
    fields: Mapping[str, Any],
    source: str = RecordSource.STAFF,
):
    """Add a contact, identifier, allergy, diagnosis, substance-use row or medication to a patient.

    `source` says where a substance-use or medication row came from (staff, or the admissions inquiry);
    it is set here by the calling service, never by a form, and stays with the row when it is edited."""
    source = RecordSource(source)
    if source != RecordSource.STAFF and model not in SOURCED_MODELS:
        raise TypeError(f"{model.__name__} has no source")
    entry = model(clinic=require_clinic(), patient=patient, **_entry_values(model, fields))
    if model in SOURCED_MODELS:
        entry.source = source
    _derive(entry)
    _validate_entry(entry)
    _demote_other_primary(actor=actor, entry=entry)
    _save_entry(entry)
    detail: dict[str, Any] = {
        "fields": sorted(name for name, value in fields.items() if value not in ("", None))
    }
    if source != RecordSource.STAFF:
        detail["source"] = source.value
    audit(actor=actor, action=AuditEvent.Action.CREATE, obj=entry, patient=patient, detail=detail)
    return entry


@transaction.atomic
def record_entry_update(*, actor: ActorLike, entry: RecordEntry, fields: Mapping[str, Any]):
    """Change a record entry; audited with the names of the changed fields, never their values."""
    model = type(entry)
    values = _entry_values(model, fields)
    current = model.objects.select_for_update().select_related("patient").get(pk=entry.pk)
    changed = sorted(name for name, value in values.items() if getattr(current, name) != value)
    if not changed:
        return current
    for name in changed:
        setattr(current, name, values[name])
    _derive(current)
    _validate_entry(current)
    _demote_other_primary(actor=actor, entry=current)
    _save_entry(current)
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        obj=current,
        patient=current.patient_id,
        detail={"fields": changed},
    )
    return current


@transaction.atomic
def record_entry_close(*, actor: ActorLike, entry: RecordEntry):
    """Mark a contact or identifier inactive, an allergy inactive, a diagnosis resolved (today), a
    medication stopped. The row stays in the record; history is never deleted."""
    closing = _closing_values(type(entry))
    if not closing:
        raise ValidationError(f"A {entry._meta.verbose_name} has no inactive state; edit it instead.")
    return record_entry_update(actor=actor, entry=entry, fields=closing)


# Named entry points, one per kind of entry, for callers that know what they are writing.
def contact_add(*, actor: ActorLike, patient: Patient, fields: Mapping[str, Any]) -> PatientContact:
    return record_entry_add(actor=actor, patient=patient, model=PatientContact, fields=fields)


def identifier_add(*, actor: ActorLike, patient: Patient, fields: Mapping[str, Any]) -> ExternalIdentifier:
    return record_entry_add(actor=actor, patient=patient, model=ExternalIdentifier, fields=fields)


def allergy_add(*, actor: ActorLike, patient: Patient, fields: Mapping[str, Any]) -> Allergy:
    return record_entry_add(actor=actor, patient=patient, model=Allergy, fields=fields)


def diagnosis_add(*, actor: ActorLike, patient: Patient, fields: Mapping[str, Any]) -> Diagnosis:
    return record_entry_add(actor=actor, patient=patient, model=Diagnosis, fields=fields)


def substance_use_add(
    *, actor: ActorLike, patient: Patient, fields: Mapping[str, Any], source: str = RecordSource.STAFF
) -> SubstanceUse:
    return record_entry_add(actor=actor, patient=patient, model=SubstanceUse, fields=fields, source=source)


def medication_add(
    *, actor: ActorLike, patient: Patient, fields: Mapping[str, Any], source: str = RecordSource.STAFF
) -> ReportedMedication:
    return record_entry_add(
        actor=actor, patient=patient, model=ReportedMedication, fields=fields, source=source
    )
