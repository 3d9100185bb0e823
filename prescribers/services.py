"""Writes for prescribers, pharmacies, medications, prescribers of record and coordination.

Every write is atomic and audited. A write that changes what the co-prescription rules see (a medication
saved or stopped, fills imported) sends `prescribers.signals.medications_changed`; safety evaluates the
rules after the transaction commits. PDMP imports are `prescribers.pdmp_import`.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.actors import ActorLike, as_actor
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import clinic_today, require_clinic
from clinic.tenancy.roles import Perm
from patients.consent.models import Recipient
from patients.consent.services import recipient_create
from patients.models import Patient
from prescribers import drugs, identifiers
from prescribers.models import (
    CoordinationEntry,
    CoordinationTask,
    DoseUnit,
    Medication,
    PatientPrescriber,
    PdmpStatePolicy,
    Pharmacy,
    Prescriber,
    PrescribingSettings,
    StrengthUnit,
)
from prescribers.signals import medications_changed, prescribing_settings_changed

EARLIEST = datetime.date(1900, 1, 1)
MAX_DAYS_SUPPLY = 365


def _strip(values: Mapping[str, Any], allowed: Iterable[str]) -> dict[str, Any]:
    keep = set(allowed)
    return {k: v.strip() if isinstance(v, str) else v for k, v in values.items() if k in keep}


def _clean(obj, errors: dict[str, list[str]] | None = None, exclude: Iterable[str] = ()) -> None:
    """full_clean, merged with the service's own errors, raised as one ValidationError."""
    found: dict[str, list[str]] = {}
    try:
        obj.full_clean(exclude=list(exclude), validate_constraints=False)
    except ValidationError as error:
        found = dict(error.message_dict)
    for field, messages in (errors or {}).items():
        found.setdefault(field, []).extend(messages)
    if found:
        raise ValidationError(found)


def changed(patient_ids: Iterable[Any]) -> None:
    """Tell listeners (safety) which patients' medications changed; they act after commit."""
    ids = sorted({str(pid) for pid in patient_ids})
    if ids:
        medications_changed.send(sender=Medication, clinic_id=require_clinic().pk, patient_ids=ids)


# --- prescribers ----------------------------------------------------------------------------------------
PRESCRIBER_FIELDS = (
    "first_name",
    "last_name",
    "credentials",
    "npi",
    "dea",
    "state_license",
    "license_state",
    "specialty",
    "practice",
    "address",
    "phone",
    "fax",
    "secure_address",
    "in_program",
    "notes",
)


def _identifier_errors(prescriber: Prescriber) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    prescriber.npi = identifiers.clean(prescriber.npi)
    prescriber.dea = identifiers.clean(prescriber.dea)
    prescriber.license_state = (prescriber.license_state or "").upper()
    if prescriber.npi and (problem := identifiers.npi_problem(prescriber.npi)):
        errors["npi"] = [problem]
    if prescriber.dea and (problem := identifiers.dea_problem(prescriber.dea)):
        errors["dea"] = [problem]
    if prescriber.license_state and not (
        len(prescriber.license_state) == 2 and prescriber.license_state.isalpha()
    ):
        errors["license_state"] = ["Use the two-letter state code, e.g. OR."]
    if prescriber.state_license and not prescriber.license_state:
        errors["license_state"] = ["Say which state issued the licence."]
    for field, value in (("npi", prescriber.npi), ("dea", prescriber.dea)):
        if value and field not in errors:
            twin = Prescriber.objects.filter(**{field: value}).exclude(pk=prescriber.pk).first()
            if twin is not None:
                errors[field] = [
                    f"{twin.display_name} already has this {field.upper()}; open that record instead."
                ]
    return errors


_DUPLICATE_CONSTRAINTS = {"prescriber_npi_unique": "npi", "prescriber_dea_unique": "dea"}


def _save_prescriber(prescriber: Prescriber) -> None:
    """Save; a duplicate NPI or DEA written by a concurrent request after the check is still a field error
    (the unique constraints decide), never a 500."""
    try:
        with transaction.atomic():
            prescriber.save()
    except IntegrityError as error:
        field = next((f for name, f in _DUPLICATE_CONSTRAINTS.items() if name in str(error)), None)
        if field is None:
            raise
        raise ValidationError(
            {field: [f"Another prescriber was just saved with this {field.upper()}; open that record."]}
        ) from error


@transaction.atomic
def prescriber_create(*, actor: ActorLike, fields: Mapping[str, Any]) -> Prescriber:
    prescriber = Prescriber(clinic=require_clinic(), **_strip(fields, PRESCRIBER_FIELDS))
    _clean(prescriber, _identifier_errors(prescriber), exclude=["recipient"])
    _save_prescriber(prescriber)
    audit(actor=actor, action=AuditEvent.Action.CREATE, obj=prescriber, detail={"npi": prescriber.npi})
    return prescriber


@transaction.atomic
def prescriber_update(*, actor: ActorLike, prescriber: Prescriber, fields: Mapping[str, Any]) -> Prescriber:
    prescriber = Prescriber.objects.select_for_update().get(pk=prescriber.pk)
    values = _strip(fields, (*PRESCRIBER_FIELDS, "is_active"))
    before = {k: getattr(prescriber, k) for k in values}
    for key, value in values.items():
        setattr(prescriber, key, value)
    _clean(prescriber, _identifier_errors(prescriber), exclude=["recipient"])
    _save_prescriber(prescriber)
    if prescriber.recipient_id:
        Recipient.objects.filter(pk=prescriber.recipient_id).update(**_recipient_fields(prescriber))
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        obj=prescriber,
        detail={"changed": sorted(k for k, v in before.items() if getattr(prescriber, k) != v)},
    )
    return prescriber


def _recipient_fields(prescriber: Prescriber) -> dict[str, str]:
    return {
        "name": prescriber.display_name[:200],
        "organization": prescriber.practice[:200],
        "address": prescriber.address[:500],
        "phone": prescriber.phone,
        "fax": prescriber.fax,
    }


@transaction.atomic
def prescriber_recipient(*, actor: ActorLike, prescriber: Prescriber) -> Recipient:
    """The prescriber as a Part 2 disclosure recipient (made the first time the clinic writes to them), so
    a consent can name them and the disclosure gate can decide."""
    prescriber = Prescriber.objects.select_for_update().get(pk=prescriber.pk)
    if prescriber.recipient_id:
        return prescriber.recipient
    recipient = recipient_create(actor=actor, fields={**_recipient_fields(prescriber), "kind": "prescriber"})
    prescriber.recipient = recipient
    prescriber.save(update_fields=["recipient", "updated_at"])
    return recipient


def prescriber_resolve(*, actor: ActorLike, name: str, npi: str = "", dea: str = "") -> Prescriber | None:
    """The registry's prescriber for an identified person in a report (by NPI, then DEA), added as an
    outside prescriber when new. A prescriber with neither identifier is not registered (None)."""
    npi, dea = identifiers.clean(npi), identifiers.clean(dea)
    for field, value in (("npi", npi), ("dea", dea)):
        if value:
            found = Prescriber.objects.filter(**{field: value}).first()
            if found is not None:
                return found
    if not (npi or dea):
        return None
    # Reports write "Dana Whitfield, MD": the part after the comma is the credentials.
    person, _, credentials = (name or "Unknown prescriber").partition(",")
    first, _, last = person.strip().rpartition(" ")
    return prescriber_create(
        actor=actor,
        fields={
            "first_name": first or "(first name)",
            "last_name": last or "(unknown)",
            "credentials": credentials.strip()[:40],
            "npi": npi,
            "dea": dea,
        },
    )


def pharmacy_resolve(
    *, actor: ActorLike, name: str, npi: str = "", ncpdp: str = "", dea: str = ""
) -> Pharmacy:
    npi, ncpdp, dea = identifiers.clean(npi), identifiers.clean(ncpdp), identifiers.clean(dea)
    for field, value in (("npi", npi), ("ncpdp", ncpdp), ("dea", dea)):
        if value:
            found = Pharmacy.objects.filter(**{field: value}).first()
            if found is not None:
                return found
    if not (npi or ncpdp or dea):
        found = Pharmacy.objects.filter(name__iexact=(name or "").strip(), npi="", ncpdp="", dea="").first()
        if found is not None:
            return found
    pharmacy = Pharmacy(
        clinic=require_clinic(),
        name=(name or "Unknown pharmacy").strip()[:200],
        npi=npi,
        ncpdp=ncpdp,
        dea=dea,
    )
    _clean(pharmacy)
    pharmacy.save()
    audit(actor=actor, action=AuditEvent.Action.CREATE, obj=pharmacy, detail={"npi": npi, "ncpdp": ncpdp})
    return pharmacy


# --- medications ----------------------------------------------------------------------------------------
MEDICATION_FIELDS = (
    "drug_text",
    "rxnorm",
    "strength",
    "strength_unit",
    "form",
    "route",
    "dose",
    "dose_unit",
    "doses_per_day",
    "as_needed",
    "sig",
    "indication",
    "quantity",
    "days_supply",
    "written_on",
    "start_on",
    "end_on",
    "prescriber",
    "pharmacy",
)
_UNITS_FOR_DOSE = {
    DoseUnit.MG: {StrengthUnit.MG, StrengthUnit.MG_PER_ML, ""},
    DoseUnit.TABLET: {StrengthUnit.MG},
    DoseUnit.CAPSULE: {StrengthUnit.MG},
    DoseUnit.PATCH: {StrengthUnit.MCG_PER_HOUR},
    DoseUnit.ML: {StrengthUnit.MG_PER_ML},
}


def classify(row: Any) -> None:
    """Set ingredient and class from the drug table (by RxNorm code, then by name)."""
    drug = drugs.identify(rxcui=row.rxnorm, text=row.drug_text)
    row.ingredient = drug.ingredient if drug else ""
    row.drug_class = drug.drug_class if drug else ""


def _medication_errors(medication: Medication, today: datetime.date) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    for field in ("strength", "dose", "doses_per_day", "quantity"):
        value = getattr(medication, field)
        if value is not None and Decimal(value) <= 0:
            add(field, "Must be more than zero.")
    if medication.doses_per_day is not None and Decimal(medication.doses_per_day) > 24:
        add("doses_per_day", "More than 24 doses a day: check the number.")
    if medication.days_supply is not None and not 1 <= medication.days_supply <= MAX_DAYS_SUPPLY:
        add("days_supply", f"Days supply is between 1 and {MAX_DAYS_SUPPLY}.")
    if medication.dose is not None and not medication.dose_unit:
        add("dose_unit", "Say what the dose is measured in.")
    if medication.strength is not None and not medication.strength_unit:
        add("strength_unit", "Say what the strength is measured in.")
    if (
        medication.dose_unit
        and medication.strength_unit not in _UNITS_FOR_DOSE[DoseUnit(medication.dose_unit)]
    ):
        add(
            "dose_unit",
            f"A dose in {medication.get_dose_unit_display()} does not fit a strength in "
            f"{medication.strength_unit or 'no unit'}.",
        )
    if (
        medication.dose_unit in (DoseUnit.TABLET, DoseUnit.CAPSULE, DoseUnit.PATCH, DoseUnit.ML)
        and medication.strength is None
    ):
        add("strength", "Give the strength of one tablet, capsule, patch or mL.")
    for field in ("start_on", "written_on"):
        day = getattr(medication, field)
        if day is not None and not EARLIEST <= day <= today + datetime.timedelta(days=366):
            add(field, "Check the year: this date is too far in the past or the future.")
    if medication.end_on and medication.start_on and medication.end_on < medication.start_on:
        add("end_on", "The last day cannot be before the first.")
    if medication.written_on and medication.start_on and medication.written_on > medication.start_on:
        add("written_on", "A prescription is written on or before the day it starts.")
    return errors


def _check_links(medication: Medication) -> None:
    # Another clinic's prescriber or pharmacy cannot be named: the scoped lookup in forms/API already
    # refuses it; this is the service's own guard.
    clinic = require_clinic()
    for field in ("prescriber", "pharmacy"):
        linked = getattr(medication, field)
        if linked is not None and linked.clinic_id != clinic.pk:
            raise ValidationError({field: ["Unknown."]})


@transaction.atomic
def medication_create(
    *,
    actor: ActorLike,
    patient: Patient,
    fields: Mapping[str, Any],
    source: str = Medication.Source.STAFF,
    external_system: str = "",
    external_id: str = "",
) -> Medication:
    who = as_actor(actor)
    medication = Medication(
        clinic=require_clinic(),
        patient=patient,
        source=source,
        external_system=external_system,
        external_id=external_id,
        entered_by=who.user,
        entered_by_label=who.label[:254],
        provenance=("EHR " + external_system)[:300] if source == Medication.Source.EHR else "",
        **_strip(fields, MEDICATION_FIELDS),
    )
    if medication.start_on is None:
        medication.start_on = clinic_today()
    classify(medication)
    _check_links(medication)
    _clean(medication, _medication_errors(medication, clinic_today()), exclude=["patient"])
    medication.save()
    audit(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        obj=medication,
        patient=patient,
        detail={"drug": medication.drug_text, "class": medication.drug_class, "source": source},
    )
    changed([patient.pk])
    return medication


def medication_proposed(
    *, patient: Patient, fields: Mapping[str, Any], medication: Medication | None = None
) -> Medication:
    """The order as saving it would store it — classified and validated, not saved — for the order check
    the form shows before it saves. Raises the same ValidationError the save would."""
    if medication is None:
        proposed = Medication(clinic=require_clinic(), patient=patient, **_strip(fields, MEDICATION_FIELDS))
        proposed.start_on = proposed.start_on or clinic_today()
    else:
        proposed = copy.copy(medication)
        for key, value in _strip(fields, MEDICATION_FIELDS).items():
            setattr(proposed, key, value)
    classify(proposed)
    _check_links(proposed)
    _clean(proposed, _medication_errors(proposed, clinic_today()), exclude=["patient"])
    return proposed


@transaction.atomic
def medication_update(*, actor: ActorLike, medication: Medication, fields: Mapping[str, Any]) -> Medication:
    medication = Medication.objects.select_for_update().get(pk=medication.pk)
    values = _strip(fields, (*MEDICATION_FIELDS, "status", "stopped_on", "stop_reason"))
    before = {k: getattr(medication, k) for k in values}
    for key, value in values.items():
        setattr(medication, key, value)
    classify(medication)
    _check_links(medication)
    _clean(medication, _medication_errors(medication, clinic_today()), exclude=["patient"])
    medication.save()
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        obj=medication,
        patient=medication.patient_id,
        detail={"changed": sorted(k for k, v in before.items() if getattr(medication, k) != v)},
    )
    changed([medication.patient_id])
    return medication


@transaction.atomic
def medication_upsert_from_ehr(
    *, actor: ActorLike, patient: Patient, system: str, external_id: str, fields: Mapping[str, Any]
) -> tuple[Medication, bool]:
    """An EHR's medication keyed by its identifier (system, value): created once, updated after."""
    system, external_id = (system or "").strip(), (external_id or "").strip()
    if not system or not external_id:
        raise ValidationError({"identifier": ["An EHR medication needs its identifier system and value."]})
    found = _ehr_medication(patient, system, external_id)
    if found is not None:
        return medication_update(actor=actor, medication=found, fields=fields), False
    try:
        with transaction.atomic():
            return (
                medication_create(
                    actor=actor,
                    patient=patient,
                    fields=fields,
                    source=Medication.Source.EHR,
                    external_system=system,
                    external_id=external_id,
                ),
                True,
            )
    except IntegrityError:  # the same identifier sent twice at once: the other request created it
        found = _ehr_medication(patient, system, external_id)
        if found is None:
            raise
        return medication_update(actor=actor, medication=found, fields=fields), False


class IdentifierInUse(ValidationError):
    """The EHR identifier is already another patient's medication (an API answers 409, not 400)."""


def _ehr_medication(patient: Patient, system: str, external_id: str) -> Medication | None:
    found = Medication.objects.filter(external_system=system, external_id=external_id).first()
    if found is not None and found.patient_id != patient.pk:
        raise IdentifierInUse({"identifier": ["This identifier belongs to another patient's medication."]})
    return found


@transaction.atomic
def medication_stop(
    *, actor: ActorLike, medication: Medication, stopped_on: datetime.date, reason: str
) -> Medication:
    medication = Medication.objects.select_for_update().get(pk=medication.pk)
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if medication.status == Medication.Status.STOPPED:
        errors["stopped_on"] = [f"Already stopped on {medication.stopped_on:%Y-%m-%d}."]
    if not reason:
        errors["reason"] = ["Say why it was stopped (e.g. prescriber agreed to consolidate)."]
    if stopped_on is None:
        errors["stopped_on"] = ["Give the day it was stopped."]
    elif stopped_on < medication.start_on or stopped_on > clinic_today():
        errors["stopped_on"] = ["Between the day it started and today."]
    if errors:
        raise ValidationError(errors)
    medication.status = Medication.Status.STOPPED
    medication.stopped_on = stopped_on
    medication.stop_reason = reason[:300]
    if medication.end_on is None or medication.end_on > stopped_on:
        medication.end_on = stopped_on
    medication.save()
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        obj=medication,
        patient=medication.patient_id,
        detail={"stopped_on": stopped_on.isoformat(), "reason": medication.stop_reason},
    )
    changed([medication.patient_id])
    return medication


# --- prescribers of record ------------------------------------------------------------------------------
@transaction.atomic
def prescriber_of_record_set(
    *,
    actor: ActorLike,
    patient: Patient,
    prescriber: Prescriber,
    role: str,
    since: datetime.date | None = None,
    note: str = "",
) -> PatientPrescriber:
    """Name a prescriber of record. A new benzodiazepine prescriber of record ends the previous one, and
    every other prescriber with an active benzodiazepine for this patient gets a coordination task.

    Who prescribes the benzodiazepine is part of the taper plan: only a psychiatrist (Perm.TAPER_APPROVE)
    names or ends the benzodiazepine prescriber of record (a job, actor None, is not asked)."""
    if role not in PatientPrescriber.Role.values:
        raise ValidationError({"role": ["Unknown role."]})
    _require_taper_approver(actor, role, "name")
    if prescriber.clinic_id != require_clinic().pk or not prescriber.is_active:
        raise ValidationError({"prescriber": ["Choose an active prescriber from the registry."]})
    today = clinic_today()
    since = since or today
    if since > today or since < EARLIEST:
        raise ValidationError({"since": ["Today or earlier."]})
    # Lock the patient's current links: two staff setting the prescriber of record at once end up with one.
    current = list(PatientPrescriber.objects.select_for_update().filter(patient=patient, until__isnull=True))
    for link in current:
        same_person = link.prescriber_id == prescriber.pk
        replaced = role == PatientPrescriber.Role.BENZODIAZEPINE and link.role == role
        if same_person or replaced:
            if same_person and link.role == role:
                raise ValidationError(
                    {
                        "prescriber": [
                            f"{prescriber.display_name} is already {link.get_role_display().lower()}."
                        ]
                    }
                )
            link.until = since
            link.save(update_fields=["until", "updated_at"])
    who = as_actor(actor)
    link = PatientPrescriber(
        clinic=require_clinic(),
        patient=patient,
        prescriber=prescriber,
        role=role,
        since=since,
        note=(note or "").strip()[:500],
        set_by=who.user,
    )
    link.save()
    audit(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        obj=link,
        patient=patient,
        detail={"prescriber": str(prescriber.pk), "role": role},
    )
    if role == PatientPrescriber.Role.BENZODIAZEPINE:
        consolidation_tasks_open(actor=actor, patient=patient, today=today)
    return link


@transaction.atomic
def prescriber_of_record_end(
    *, actor: ActorLike, link: PatientPrescriber, until: datetime.date
) -> PatientPrescriber:
    link = PatientPrescriber.objects.select_for_update().get(pk=link.pk)
    _require_taper_approver(actor, link.role, "end")
    if link.until is not None:
        raise ValidationError({"until": ["Already ended."]})
    if until is None or until < link.since or until > clinic_today():
        raise ValidationError({"until": ["Between the day it started and today."]})
    link.until = until
    link.save(update_fields=["until", "updated_at"])
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        obj=link,
        patient=link.patient_id,
        detail={"until": str(until)},
    )
    return link


def _require_taper_approver(actor: ActorLike, role: str, verb: str) -> None:
    if (
        role == PatientPrescriber.Role.BENZODIAZEPINE
        and actor is not None
        and not as_actor(actor).allows(Perm.TAPER_APPROVE)
    ):
        raise ValidationError(
            {"role": [f"Only a psychiatrist may {verb} the benzodiazepine prescriber of record."]}
        )


CONSOLIDATION_DUE_DAYS = (
    3  # a coordination call is due within three days of the prescriber of record being named
)


def consolidation_tasks_open(
    *, actor: ActorLike, patient: Patient, today: datetime.date
) -> list[CoordinationTask]:
    """One open task per other prescriber with an active benzodiazepine: ask them to consolidate under the
    plan. Keyed by (patient, prescriber, prescriber of record), so running this again opens nothing new."""
    from prescribers.selectors import benzodiazepine_prescriber_of_record, benzodiazepine_prescribers

    of_record = benzodiazepine_prescriber_of_record(patient)
    if of_record is None:
        return []
    opened = []
    for prescriber, evidence in benzodiazepine_prescribers(patient, today=today):
        if prescriber.pk == of_record.prescriber_id or prescriber.in_program:
            continue
        key = f"consolidate:{patient.pk}:{prescriber.pk}:{of_record.pk}"
        task = coordination_task_create(
            actor=actor,
            patient=patient,
            prescriber=prescriber,
            title=f"Ask {prescriber.display_name} to consolidate benzodiazepine prescribing under "
            f"{of_record.prescriber.display_name} ({evidence})",
            due_on=today + datetime.timedelta(days=CONSOLIDATION_DUE_DAYS),
            reason_key=key,
        )
        if task is not None:
            opened.append(task)
    return opened


# --- coordination ---------------------------------------------------------------------------------------
@transaction.atomic
def coordination_entry_add(
    *,
    actor: ActorLike,
    patient: Patient,
    kind: str,
    summary: str,
    prescriber: Prescriber | None = None,
    direction: str = "",
    at: datetime.datetime | None = None,
    disclosure=None,
) -> CoordinationEntry:
    who = as_actor(actor)
    at = at or timezone.now()
    entry = CoordinationEntry(
        clinic=require_clinic(),
        patient=patient,
        prescriber=prescriber,
        kind=kind,
        direction=direction or "",
        at=at,
        summary=(summary or "").strip(),
        disclosure=disclosure,
        recorded_by=who.user,
        recorded_by_label=who.label[:254],
    )
    errors: dict[str, list[str]] = {}
    if at > timezone.now() + datetime.timedelta(minutes=5):
        errors["at"] = ["A log entry records something that happened: not in the future."]
    if at.date() < EARLIEST:
        errors["at"] = ["Check the year."]
    if prescriber is not None and prescriber.clinic_id != require_clinic().pk:
        errors["prescriber"] = ["Unknown."]
    _clean(entry, errors, exclude=["patient", "disclosure"])
    entry.save()
    audit(actor=actor, action=AuditEvent.Action.CREATE, obj=entry, patient=patient, detail={"kind": kind})
    return entry


@transaction.atomic
def coordination_task_create(
    *,
    actor: ActorLike,
    patient: Patient,
    title: str,
    due_on: datetime.date,
    prescriber: Prescriber | None = None,
    reason_key: str = "",
) -> CoordinationTask | None:
    """A coordination task. With a reason key, None when that reason already has a task."""
    who = as_actor(actor)
    task = CoordinationTask(
        clinic=require_clinic(),
        patient=patient,
        prescriber=prescriber,
        title=(title or "").strip()[:300],
        due_on=due_on,
        reason_key=reason_key[:200],
        created_by=who.user,
    )
    errors: dict[str, list[str]] = {}
    if due_on is not None and not EARLIEST <= due_on <= clinic_today() + datetime.timedelta(days=366):
        errors["due_on"] = ["Within the next year."]
    _clean(task, errors, exclude=["patient"])
    if reason_key:
        try:
            with transaction.atomic():
                task.save()
        except IntegrityError:
            return None
    else:
        task.save()
    audit(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        obj=task,
        patient=patient,
        detail={"due_on": str(due_on)},
    )
    return task


@transaction.atomic
def coordination_task_close(
    *, actor: ActorLike, task: CoordinationTask, status: str, outcome: str
) -> CoordinationTask:
    task = CoordinationTask.objects.select_for_update().get(pk=task.pk)
    outcome = (outcome or "").strip()
    if task.status != CoordinationTask.Status.OPEN:
        raise ValidationError({"status": [f"Already {task.get_status_display().lower()}."]})
    if status not in (CoordinationTask.Status.DONE, CoordinationTask.Status.CANCELLED):
        raise ValidationError({"status": ["Done or cancelled."]})
    if not outcome:
        raise ValidationError({"outcome": ["Say what happened (e.g. prescriber agreed to stop on 3/12)."]})
    who = as_actor(actor)
    task.status, task.outcome = status, outcome[:1000]
    task.done_by, task.done_at = who.user, timezone.now()
    task.save()
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        obj=task,
        patient=task.patient_id,
        detail={"status": status},
    )
    return task


# --- clinic settings ------------------------------------------------------------------------------------
@transaction.atomic
def state_policy_set(*, actor: ActorLike, state: str, storage: str, note: str = "") -> PdmpStatePolicy:
    state = (state or "").strip().upper()
    if len(state) != 2 or not state.isalpha():
        raise ValidationError({"state": ["Use the two-letter state code, e.g. OR."]})
    if storage not in PdmpStatePolicy.Storage.values:
        raise ValidationError({"storage": ["Choose what may be kept."]})
    who = as_actor(actor)
    policy, _ = PdmpStatePolicy.objects.update_or_create(
        state=state,
        defaults={"storage": storage, "note": (note or "").strip()[:500], "updated_by": who.user},
        create_defaults={
            "clinic": require_clinic(),
            "storage": storage,
            "note": (note or "").strip()[:500],
            "updated_by": who.user,
        },
    )
    audit(
        actor=actor, action=AuditEvent.Action.UPDATE, obj=policy, detail={"state": state, "storage": storage}
    )
    return policy


def prescribing_settings() -> PrescribingSettings:
    found = PrescribingSettings.objects.first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return PrescribingSettings.objects.create(clinic=require_clinic())
    except IntegrityError:
        return PrescribingSettings.objects.get()


@transaction.atomic
def prescribing_settings_update(*, actor: ActorLike, overrides: Mapping[str, Any]) -> PrescribingSettings:
    from prescribers.rules import SettingsError, thresholds_for

    try:
        thresholds_for(overrides)
    except SettingsError as error:  # LooseningRefused included: a clinic may tighten, never loosen
        raise ValidationError({"__all__": [str(error)]}) from error
    settings = PrescribingSettings.objects.select_for_update().get(pk=prescribing_settings().pk)
    settings.overrides = dict(overrides)
    settings.updated_by = as_actor(actor).user
    settings.save()
    audit(
        actor=actor, action=AuditEvent.Action.UPDATE, obj=settings, detail={"overrides": settings.overrides}
    )
    prescribing_settings_changed.send(sender=PrescribingSettings, clinic_id=settings.clinic_id)
    return settings
