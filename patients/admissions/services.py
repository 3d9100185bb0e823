"""Writes to the admissions pipeline: validated, atomic, audited, one history row per stage change.

Every move goes through `inquiry_advance`, which asks the pure stage machine (`stages.py`) first. An
inquiry becomes a patient through `inquiry_convert_to_patient` (the patient core's own service, so the
record is created exactly as the patient pages create it) and admitting opens the first care episode in
the same transaction, so an admission never exists without its episode. Converting also carries what the
caller reported (benzodiazepines and daily doses, other substances) into the patient's substance-use
history and reported medications, through the record's own services, marked as reported at inquiry.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.actors import ActorLike, as_actor
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import clinic_today, require_clinic
from patients.admissions import stages
from patients.admissions.models import Inquiry, InquiryStageChange, ReportedBenzodiazepine
from patients.admissions.selectors import assignable_staff
from patients.admissions.substances import BENZODIAZEPINE_CODES, OTHER_SUBSTANCES, dose_error
from patients.codes import BENZODIAZEPINES as BENZODIAZEPINE_NAMES
from patients.levels_of_care import BY_CODE as LEVELS_BY_CODE
from patients.models import Patient, RecordSource, ReportedMedication, SubstanceUse
from patients.selectors import patients_named_like
from patients.services import care_episode_start, medication_add, patient_create, substance_use_add

EDITABLE_FIELDS = (
    "referral_source",
    "referral_detail",
    "contact_name",
    "contact_relationship",
    "contact_phone",
    "contact_email",
    "first_name",
    "last_name",
    "date_of_birth",
    "phone",
    "email",
    "reason",
    "other_substances",
    "other_substances_note",
    "assigned_to",
    "intake_at",
    "level_of_care",
)
MAX_BENZODIAZEPINES = 5
SCHEDULE_WINDOW_DAYS = 366  # an intake time more than a year away (or ago) is a typo


class PossibleDuplicate(ValidationError):
    """Converting would create a second record for someone who may already be a patient."""

    def __init__(self, matches: list[Patient]) -> None:
        self.matches = matches
        names = "; ".join(
            f"{p.display_name}, born {p.date_of_birth:%b %-d, %Y}, MRN {p.mrn}" for p in matches
        )
        super().__init__(
            {
                "patient": "Possible duplicate: a patient with the same name and date of birth "
                f"already exists ({names}). Link the inquiry to that patient, "
                "or confirm this is a different person."
            }
        )


# --- field cleaning -----------------------------------------------------------------------------------------
def _strip(values: dict[str, Any]) -> dict[str, Any]:
    for name, value in values.items():
        if isinstance(value, str):
            values[name] = value.strip()
    for name in ("email", "contact_email"):
        if isinstance(values.get(name), str):
            values[name] = values[name].lower()
    return values


def _clean_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Not editable: {', '.join(sorted(unknown))}")
    values = _strip(dict(fields))
    if "other_substances" in values:
        known = {code for code, _ in OTHER_SUBSTANCES}
        chosen = list(values["other_substances"] or [])
        strange = [str(item) for item in chosen if item not in known]
        if strange:
            raise ValidationError({"other_substances": f"Unknown substance: {', '.join(strange)}."})
        values["other_substances"] = sorted(set(chosen))
    return values


def _validate_assignee(inquiry: Inquiry) -> None:
    if inquiry.assigned_to_id and not assignable_staff().filter(pk=inquiry.assigned_to_id).exists():
        raise ValidationError(
            {"assigned_to": "Assign the inquiry to an admissions staff member of this clinic."}
        )


def _validate_intake_at(value: datetime.datetime | None) -> None:
    if value is None:
        return
    if timezone.is_naive(value):
        raise ValidationError({"intake_at": "Give the intake time with its time zone."})
    if abs(value - timezone.now()) > datetime.timedelta(days=SCHEDULE_WINDOW_DAYS):
        raise ValidationError(
            {"intake_at": "The intake time is more than a year away from today; check the year."}
        )


def _validate(inquiry: Inquiry) -> None:
    errors: dict[str, list[str]] = {}
    try:
        inquiry.full_clean(exclude=["clinic"])
    except ValidationError as error:
        errors = error.message_dict
    for check in (_validate_assignee, lambda i: _validate_intake_at(i.intake_at)):
        try:
            check(inquiry)
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                errors.setdefault(field, []).extend(problems)
    if errors:
        raise ValidationError(errors)


def clean_benzodiazepines(rows: Iterable[Mapping[str, Any]]) -> list[tuple[str, Decimal]]:
    """(drug, dose) pairs, checked: known drug, dose > 0 and below the data-entry ceiling, each drug once."""
    cleaned: list[tuple[str, Decimal]] = []
    problems: list[str] = []
    rows = list(rows)
    if len(rows) > MAX_BENZODIAZEPINES:
        raise ValidationError({"benzodiazepines": f"Report at most {MAX_BENZODIAZEPINES} benzodiazepines."})
    for number, row in enumerate(rows, start=1):
        drug = str(row.get("drug") or "").strip()
        if drug not in BENZODIAZEPINE_CODES:
            problems.append(f"Row {number}: choose a benzodiazepine from the list.")
            continue
        raw = row.get("daily_dose_mg")
        try:
            dose = None if raw in (None, "") else Decimal(str(raw))
            if dose is not None and (not dose.is_finite() or dose.as_tuple().exponent < -2):
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            problems.append(f"Row {number}: the daily dose must be a number of mg with at most 2 decimals.")
            continue
        problem = dose_error(drug, dose)
        if problem:
            problems.append(f"Row {number}: {problem}")
            continue
        if any(existing == drug for existing, _ in cleaned):
            problems.append(f"Row {number}: {drug} is listed twice; give its total daily dose once.")
            continue
        cleaned.append((drug, dose))
    if problems:
        raise ValidationError({"benzodiazepines": problems})
    return cleaned


def _replace_benzodiazepines(inquiry: Inquiry, rows: list[tuple[str, Decimal]]) -> None:
    ReportedBenzodiazepine.objects.filter(inquiry=inquiry).delete()
    ReportedBenzodiazepine.objects.bulk_create(
        [
            ReportedBenzodiazepine(clinic=inquiry.clinic, inquiry=inquiry, drug=d, daily_dose_mg=m)
            for d, m in rows
        ]
    )


def _record_change(
    *, actor: ActorLike, inquiry: Inquiry, from_stage: str, note: str = ""
) -> InquiryStageChange:
    change = InquiryStageChange(
        inquiry=inquiry,
        from_stage=from_stage,
        to_stage=inquiry.stage,
        changed_by=as_actor(actor).user,
        changed_at=inquiry.stage_entered_at,
        note=note.strip()[:500],
    )
    change.save()
    return change


# --- services -----------------------------------------------------------------------------------------------
@transaction.atomic
def inquiry_create(
    *, actor: ActorLike, fields: Mapping[str, Any], benzodiazepines: Iterable[Mapping[str, Any]] = ()
) -> Inquiry:
    values = _clean_fields(fields)
    rows = clean_benzodiazepines(benzodiazepines)
    inquiry = Inquiry(
        clinic=require_clinic(), stage=stages.Stage.NEW, stage_entered_at=timezone.now(), **values
    )
    _validate(inquiry)
    inquiry.save()
    _replace_benzodiazepines(inquiry, rows)
    _record_change(actor=actor, inquiry=inquiry, from_stage="")
    audit(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        obj=inquiry,
        detail={"stage": inquiry.stage, "benzodiazepines": len(rows)},
    )
    return inquiry


CLOSED_EDIT_REFUSED = "This inquiry is closed; its record is kept as it was."


@transaction.atomic
def inquiry_update(
    *,
    actor: ActorLike,
    inquiry: Inquiry,
    fields: Mapping[str, Any],
    benzodiazepines: Iterable[Mapping[str, Any]] | None = None,
) -> Inquiry:
    inquiry = Inquiry.objects.select_for_update().get(pk=inquiry.pk)
    if not inquiry.is_open:
        raise ValidationError(CLOSED_EDIT_REFUSED)
    values = _clean_fields(fields)
    rows = clean_benzodiazepines(benzodiazepines) if benzodiazepines is not None else None
    changed = sorted(name for name, value in values.items() if _field_value(inquiry, name) != value)
    for name in changed:
        setattr(inquiry, name, values[name])
    _validate(inquiry)
    if rows is not None:
        before = sorted((b.drug, b.daily_dose_mg) for b in inquiry.benzodiazepines.all())
        if before != sorted(rows):
            _replace_benzodiazepines(inquiry, rows)
            changed.append("benzodiazepines")
    if not changed:
        return inquiry
    inquiry.save()
    # Field names only: the audit trail records what changed, not a second copy of what was said.
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        obj=inquiry,
        patient=inquiry.patient_id,
        detail={"fields": changed},
    )
    return inquiry


def _field_value(inquiry: Inquiry, name: str) -> Any:
    if name == "assigned_to":
        return inquiry.assigned_to
    return getattr(inquiry, name)


def _clean_requirements(given: Mapping[str, Any]) -> dict[str, Any]:
    """The requirement values the move sets on the inquiry, each checked beyond "present"."""
    allowed = {"intake_at", "level_of_care", "admitted_on", "closed_reason", "closed_note"}
    unknown = set(given) - allowed
    if unknown:
        raise TypeError(f"Unknown requirement: {', '.join(sorted(unknown))}")
    values = _strip({name: value for name, value in given.items() if value not in (None, "")})
    errors: dict[str, str] = {}
    if "level_of_care" in values and values["level_of_care"] not in LEVELS_BY_CODE:
        errors["level_of_care"] = f"Unknown level of care {values['level_of_care']!r}."
    if "closed_reason" in values and values["closed_reason"] not in Inquiry.ClosedReason.values:
        errors["closed_reason"] = f"Unknown reason {values['closed_reason']!r}."
    if values.get("closed_reason") == Inquiry.ClosedReason.OTHER and not values.get("closed_note"):
        errors["closed_note"] = "Say what the other reason is."
    if len(values.get("closed_note", "")) > 500:
        errors["closed_note"] = "Keep the note to 500 characters."
    admitted_on = values.get("admitted_on")
    if admitted_on is not None:
        today = clinic_today()
        if not isinstance(admitted_on, datetime.date) or isinstance(admitted_on, datetime.datetime):
            errors["admitted_on"] = "Give the admission date as a date."
        elif admitted_on > today:
            errors["admitted_on"] = "The admission date cannot be in the future."
        elif admitted_on < today - datetime.timedelta(days=SCHEDULE_WINDOW_DAYS):
            errors["admitted_on"] = "The admission date is more than a year ago; check the year."
    if "intake_at" in values:
        if not isinstance(values["intake_at"], datetime.datetime):
            errors["intake_at"] = "Give the intake date and time."
        else:
            try:
                _validate_intake_at(values["intake_at"])
            except ValidationError as error:
                errors.update({k: v[0] for k, v in error.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    return values


@transaction.atomic
def inquiry_advance(
    *, actor: ActorLike, inquiry: Inquiry, to_stage: str, note: str = "", **requirements: Any
) -> Inquiry:
    """Move the inquiry one step (or close it), with what that step requires. One history row, one audit
    event; admitting also opens the patient's first care episode, all or nothing."""
    inquiry = Inquiry.objects.select_for_update(of=("self",)).select_related("patient").get(pk=inquiry.pk)
    # Is the move itself allowed? Only then are its requirement values worth checking.
    move_error = stages.transition_errors(inquiry.stage, to_stage, {}).get("to_stage")
    if move_error:
        raise ValidationError({"to_stage": move_error})
    values = _clean_requirements(requirements)
    errors = stages.transition_errors(inquiry.stage, to_stage, {**values, "patient": inquiry.patient_id})
    if len(note) > 500:
        errors["note"] = "Keep the note to 500 characters."
    if errors:
        raise ValidationError(errors)
    target = stages.Stage(to_stage)
    needed = {req.name for req in stages.requirements(target)} | (
        {"closed_note"} if target in stages.CLOSING_STAGES else set()
    )
    for name in needed & set(values):
        setattr(inquiry, name, values[name])
    from_stage = inquiry.stage
    inquiry.stage = target
    inquiry.stage_entered_at = timezone.now()
    _validate(inquiry)
    inquiry.save()
    _record_change(actor=actor, inquiry=inquiry, from_stage=from_stage, note=note)
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        obj=inquiry,
        patient=inquiry.patient_id,
        detail={"stage": {"from": from_stage, "to": target.value}},
    )
    if target == stages.Stage.ADMITTED:
        care_episode_start(
            actor=actor,
            patient=inquiry.patient,
            level=inquiry.level_of_care,
            started_on=inquiry.admitted_on,
            reason="Admitted from the admissions pipeline",
        )
    return inquiry


def inquiry_close(
    *, actor: ActorLike, inquiry: Inquiry, to_stage: str, reason: str, note: str = ""
) -> Inquiry:
    """Refer out or decline, with the reason (and a note, required when the reason is "other")."""
    if to_stage not in stages.CLOSING_STAGES:
        raise ValidationError({"to_stage": "Close an inquiry as referred out or declined."})
    return inquiry_advance(
        actor=actor, inquiry=inquiry, to_stage=to_stage, closed_reason=reason, closed_note=note, note=note
    )


def _require_convertible(inquiry: Inquiry) -> None:
    if inquiry.patient_id:
        raise ValidationError({"patient": "This inquiry is already linked to a patient."})
    if not inquiry.is_open:
        raise ValidationError({"patient": "Only an open inquiry can become a patient."})


@transaction.atomic
def inquiry_convert_to_patient(
    *, actor: ActorLike, inquiry: Inquiry, confirm_duplicate: bool = False
) -> Patient:
    """Create the patient from what the inquiry already holds (nothing typed twice) and link it.

    Refuses with `PossibleDuplicate` when a patient has the same name and date of birth, unless the
    person converting confirmed it is someone else (or they link the existing patient instead).
    """
    inquiry = Inquiry.objects.select_for_update().get(pk=inquiry.pk)
    _require_convertible(inquiry)
    if inquiry.date_of_birth is None:
        raise ValidationError(
            {"date_of_birth": "Add the date of birth to the inquiry before creating the patient."}
        )
    if not confirm_duplicate:
        matches = list(
            patients_named_like(
                first_name=inquiry.first_name,
                last_name=inquiry.last_name,
                date_of_birth=inquiry.date_of_birth,
            )[:5]
        )
        if matches:
            raise PossibleDuplicate(matches)
    patient = patient_create(
        actor=actor,
        fields={
            "first_name": inquiry.first_name,
            "last_name": inquiry.last_name,
            "date_of_birth": inquiry.date_of_birth,
            "phone": inquiry.phone,
            "email": inquiry.email,
            "status": Patient.Status.INTAKE,
        },
    )
    _link(
        actor=actor,
        inquiry=inquiry,
        patient=patient,
        detail={"converted": True, "confirmed_duplicate": confirm_duplicate},
    )
    _carry_reports_over(actor=actor, inquiry=inquiry, patient=patient)
    return patient


# What the caller reported becomes the start of the patient's record, marked as reported at inquiry. The
# note says when and by whom; the caller's own words are copied only where they name the substance.
UNKNOWN_BENZODIAZEPINE = "unknown benzodiazepine (reported at inquiry)"
SUBSTANCE_CATEGORIES = {
    "alcohol": SubstanceUse.Category.ALCOHOL,
    "opioids": SubstanceUse.Category.OPIOID,
    "stimulants": SubstanceUse.Category.STIMULANT,
    "cannabis": SubstanceUse.Category.CANNABIS,
    "other": SubstanceUse.Category.OTHER,
}
REPORTED_BY = {  # who called, in words for the note: the relationship only, never the caller's name
    Inquiry.Relationship.SELF: "the patient",
    Inquiry.Relationship.SPOUSE: "the patient's spouse or partner",
    Inquiry.Relationship.PARENT: "the patient's parent",
    Inquiry.Relationship.CHILD: "the patient's adult child",
    Inquiry.Relationship.SIBLING: "the patient's sibling",
    Inquiry.Relationship.OTHER_FAMILY: "a family member",
    Inquiry.Relationship.OTHER: "another contact",
}
DRUG_NAME_MAX = SubstanceUse._meta.get_field("drug_name").max_length


def _reported_on(inquiry: Inquiry) -> datetime.date:
    """The inquiry's day in the clinic's time zone, capped at `timezone.localdate()`: the record's
    not-in-the-future validator checks against that day, and a clinic east of it can be a day ahead."""
    day = timezone.localtime(inquiry.created_at, zoneinfo.ZoneInfo(require_clinic().timezone)).date()
    return min(day, timezone.localdate())


def _provenance(inquiry: Inquiry, reported_on: datetime.date) -> str:
    by = REPORTED_BY.get(inquiry.contact_relationship, "the caller")
    return f"Reported at first contact (inquiry of {reported_on:%b %-d, %Y}) by {by}; not yet verified."


def _mg(dose: Decimal) -> str:
    return f"{dose.normalize():f}"


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _carry_reports_over(*, actor: ActorLike, inquiry: Inquiry, patient: Patient) -> None:
    reported_on = _reported_on(inquiry)
    note = _provenance(inquiry, reported_on)
    inquiry_source = RecordSource.INQUIRY
    for reported in ReportedBenzodiazepine.objects.filter(inquiry=inquiry).order_by("created_at", "drug"):
        known = reported.drug in BENZODIAZEPINE_NAMES
        substance_use_add(
            actor=actor,
            patient=patient,
            source=inquiry_source,
            fields={
                "category": SubstanceUse.Category.BENZODIAZEPINE,
                "benzodiazepine": reported.drug if known else "other",
                "drug_name": "" if known else UNKNOWN_BENZODIAZEPINE,
                "daily_amount": reported.daily_dose_mg,
                "unit": SubstanceUse.Unit.MG,
                "notes": note,
            },
        )
        if known:  # an unknown benzodiazepine has no name to list as a medication
            medication_add(
                actor=actor,
                patient=patient,
                source=inquiry_source,
                fields={
                    "name": BENZODIAZEPINE_NAMES[reported.drug],
                    "strength": f"{_mg(reported.daily_dose_mg)} mg a day",
                    "reported_on": reported_on,
                    "status": ReportedMedication.Status.CURRENT,
                },
            )
    for code in inquiry.other_substances:
        category = SUBSTANCE_CATEGORIES[code]
        fields: dict[str, Any] = {"category": category, "notes": note}
        said = inquiry.other_substances_note.strip()
        if category == SubstanceUse.Category.OTHER and said:
            fields["drug_name"] = _short(said, DRUG_NAME_MAX)
            if fields["drug_name"] != " ".join(said.split()):
                fields["notes"] = f"{note}\nAs reported: {said}"
        substance_use_add(actor=actor, patient=patient, source=inquiry_source, fields=fields)


@transaction.atomic
def inquiry_link_patient(*, actor: ActorLike, inquiry: Inquiry, patient: Patient) -> Inquiry:
    """The caller is already a patient (a returning patient, or the duplicate warning was right)."""
    inquiry = Inquiry.objects.select_for_update().get(pk=inquiry.pk)
    _require_convertible(inquiry)
    patient = Patient.objects.get(pk=patient.pk)  # scoped: a patient of another clinic is not found
    _link(actor=actor, inquiry=inquiry, patient=patient, detail={"linked_existing": True})
    return inquiry


def _link(*, actor: ActorLike, inquiry: Inquiry, patient: Patient, detail: dict) -> None:
    inquiry.patient = patient
    inquiry.save(update_fields=["patient", "updated_at"])
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        obj=inquiry,
        patient=patient,
        detail={"fields": ["patient"], **detail},
    )
