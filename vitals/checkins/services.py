"""Writes for daily check-ins: links (create, revoke), the patient's submission, the clinic's settings.

Every write is atomic and audited in the same transaction. A submission saves the check-in, records the
day's taper dose (source "checkin") when the patient has an active plan, audits with the link as the
actor, and sends `vitals.signals.clinical_fact_recorded` so the safety rules run after commit.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.actors import ActorLike, as_actor
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import require_clinic
from patients.models import Patient
from taper.services import dose_record
from vitals.checkins import rules
from vitals.checkins.models import CheckIn, CheckInLink, CheckInSettings
from vitals.checkins.selectors import DayPlan, checkin_on, day_plan, local_day
from vitals.signals import clinical_fact_recorded

# Link lifetimes, in days. Program policy: long enough for a taper step or two, short enough that a lost
# phone's link dies on its own; staff revoke earlier when needed.
LINK_DEFAULT_DAYS = 30
LINK_MAX_DAYS = 90


class AlreadyCheckedIn(Exception):
    """The patient already checked in on this clinic day; nothing new was recorded."""

    def __init__(self, checkin: CheckIn) -> None:
        super().__init__("Already checked in today")
        self.checkin = checkin


def clock() -> datetime.datetime:
    return timezone.now()


def _require_own(obj) -> None:
    if obj.clinic_id != require_clinic().pk:
        raise PermissionError("Not this clinic's record")


# --- links -----------------------------------------------------------------------------------------------
@transaction.atomic
def checkin_link_create(*, actor: ActorLike, patient: Patient, days: int = LINK_DEFAULT_DAYS) -> CheckInLink:
    _require_own(patient)
    try:
        days = int(days)
    except (TypeError, ValueError) as error:
        raise ValidationError({"days": "Enter a whole number of days."}) from error
    if not 1 <= days <= LINK_MAX_DAYS:
        raise ValidationError({"days": f"A link can last from 1 to {LINK_MAX_DAYS} days."})
    if patient.status == Patient.Status.DISCHARGED:
        raise ValidationError(
            {"__all__": "This patient has been discharged: daily check-ins are for patients in the program."}
        )
    user = as_actor(actor).user
    link = CheckInLink.objects.create(
        clinic=require_clinic(),
        patient=patient,
        created_by=user,
        expires_at=clock() + datetime.timedelta(days=days),
    )
    audit(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        obj=link,
        patient=patient,
        detail={"event": "checkin_link_created", "days": days, "expires_at": link.expires_at},
    )
    return link


@transaction.atomic
def checkin_link_revoke(*, actor: ActorLike, link: CheckInLink, reason: str = "") -> CheckInLink:
    _require_own(link)
    link = CheckInLink.objects.select_for_update().get(pk=link.pk)
    if link.revoked_at is None:
        link.revoked_at = clock()
        link.revoked_by = as_actor(actor).user
        link.revoke_reason = (reason or "").strip()[:300]
        link.save(update_fields=["revoked_at", "revoked_by", "revoke_reason", "updated_at"])
        audit(
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            obj=link,
            patient=link.patient_id,
            detail={"event": "checkin_link_revoked", "reason": link.revoke_reason},
        )
    return link


def checkin_page_viewed(*, link: CheckInLink, request=None) -> None:
    """The patient opened the check-in page: audited (it shows their name and plan), link marked used."""
    _require_own(link)
    now = clock()
    CheckInLink.objects.filter(pk=link.pk).update(last_used_at=now)
    audit(
        actor=link,
        action=AuditEvent.Action.VIEW,
        obj=link,
        patient=link.patient_id,
        detail={"page": "patient_checkin"},
        request=request,
    )


# --- settings --------------------------------------------------------------------------------------------
@transaction.atomic
def checkin_settings_save(*, actor: ActorLike, fields: Mapping[str, Any]) -> CheckInSettings:
    clinic = require_clinic()
    found = CheckInSettings.objects.select_for_update().first() or CheckInSettings(clinic=clinic)
    for name in ("care_team_phone", "care_team_hours"):
        if name in fields:
            setattr(found, name, (fields[name] or "").strip())
    found.full_clean(exclude=["clinic"], validate_constraints=False)
    found.save()
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        obj=found,
        detail={"event": "checkin_settings", "care_team_phone": found.care_team_phone},
    )
    return found


# --- the patient's submission ----------------------------------------------------------------------------
def _decimal(value: Any, name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as error:
        raise ValidationError({name: "Enter a number."}) from error
    if not number.is_finite():
        raise ValidationError({name: "Enter a number."})
    return number


def _clean_doses(
    status: str, plan: DayPlan | None, reported: Mapping[str, Any]
) -> tuple[str, dict[str, Decimal]]:
    """Validate the dose answer against the day's plan; returns (status, mg by drug for less/more)."""
    if plan is None:
        return CheckIn.DoseStatus.NO_PLAN, {}
    allowed = set(CheckIn.DoseStatus.values) - {CheckIn.DoseStatus.NO_PLAN}
    if status not in allowed:
        raise ValidationError({"dose_status": "Tell us whether you took today's dose."})
    if status not in (CheckIn.DoseStatus.LESS, CheckIn.DoseStatus.MORE):
        return status, {}
    amounts: dict[str, Decimal] = {}
    for drug in plan.mg_by_drug:
        raw = reported.get(drug)
        if raw in (None, ""):
            raise ValidationError({f"dose_{drug}": f"How much {drug} did you take today, in mg?"})
        mg = _decimal(raw, f"dose_{drug}")
        if mg < 0 or mg > 1000:
            raise ValidationError({f"dose_{drug}": "Enter the total mg you took today (0 to 1000)."})
        amounts[drug] = mg
    planned = plan.mg_by_drug
    if status == CheckIn.DoseStatus.LESS:
        if any(amounts[d] > planned[d] for d in amounts) or all(amounts[d] == planned[d] for d in amounts):
            raise ValidationError(
                {
                    "dose_status": "Those amounts are not less than the plan. Check the amounts, or choose "
                    "“Took more” or “As planned”."
                }
            )
    elif not any(amounts[d] > planned[d] for d in amounts):
        raise ValidationError(
            {
                "dose_status": "Those amounts are not more than the plan. Check the amounts, or choose "
                "“Took less” or “As planned”."
            }
        )
    return status, amounts


def _record_dose(*, link: CheckInLink, plan: DayPlan, day: datetime.date, status: str, mg: dict) -> None:
    if status == CheckIn.DoseStatus.AS_PLANNED:
        dose_record(actor=link, plan=plan.step.plan, day=day, source="checkin", as_planned=True)
    elif status == CheckIn.DoseStatus.MISSED:
        dose_record(
            actor=link,
            plan=plan.step.plan,
            day=day,
            source="checkin",
            as_planned=False,
            mg_by_drug={drug: Decimal(0) for drug in plan.mg_by_drug},
            note="Patient check-in: missed the dose",
        )
    else:
        dose_record(
            actor=link,
            plan=plan.step.plan,
            day=day,
            source="checkin",
            as_planned=False,
            mg_by_drug=mg,
            note=f"Patient check-in: {CheckIn.DoseStatus(status).label.lower()} than planned",
        )


@transaction.atomic
def checkin_submit(
    *, link: CheckInLink, answers: Mapping[str, Any], request=None, now: datetime.datetime | None = None
) -> CheckIn:
    """Save the patient's check-in for today (clinic time). Raises AlreadyCheckedIn (nothing written) when
    there is one for the day already, ValidationError (nothing written) on bad answers.

    `answers`: dose_status, doses {drug: mg} (less/more), symptoms {item: 0-3}, red_flags {id: bool},
    sleep_hours, sleep_quality, anxiety, cravings, alcohol, other_drugs, other_drugs_text, free_text.
    """
    _require_own(link)
    now = now or clock()
    link = CheckInLink.objects.select_for_update().select_related("patient").get(pk=link.pk)
    if link.status_at(now) != "active":
        raise ValidationError("This check-in link no longer works.")
    patient = link.patient
    day = local_day(now)
    existing = checkin_on(patient=patient, day=day)
    if existing is not None:
        raise AlreadyCheckedIn(existing)

    form = rules.symptom_form()
    plan = day_plan(patient=patient, day=day)
    status, amounts = _clean_doses(answers.get("dose_status", ""), plan, answers.get("doses") or {})
    ratings = {item.id: int((answers.get("symptoms") or {}).get(item.id, 0) or 0) for item in form.items}
    if any(not 0 <= value <= form.max_rating for value in ratings.values()):
        raise ValidationError({"symptoms": "Rate each symptom from none to severe."})
    flags_answered = answers.get("red_flags") or {}
    red_flags = {flag.id: bool(flags_answered.get(flag.id, False)) for flag in form.red_flags}
    other_drugs = bool(answers.get("other_drugs"))
    checkin = CheckIn(
        clinic=require_clinic(),
        patient=patient,
        link=link,
        local_date=day,
        submitted_at=now,
        dose_status=status,
        planned_mg_by_drug={drug: str(mg) for drug, mg in (plan.mg_by_drug if plan else {}).items()},
        dose_mg_by_drug={drug: str(mg) for drug, mg in amounts.items()},
        symptoms=ratings,
        red_flags=red_flags,
        symptom_form_version=form.version,
        symptom_score=rules.symptom_score(ratings, form),
        sleep_hours=_decimal(answers.get("sleep_hours"), "sleep_hours"),
        sleep_quality=answers.get("sleep_quality") or "",
        anxiety=answers.get("anxiety"),
        cravings=answers.get("cravings"),
        alcohol=bool(answers.get("alcohol")),
        other_drugs=other_drugs,
        other_drugs_text=(answers.get("other_drugs_text") or "").strip() if other_drugs else "",
        free_text=(answers.get("free_text") or "").strip(),
    )
    guidance = rules.evaluate(
        rules.Answers(
            dose_status=status,
            symptoms=ratings,
            red_flags=red_flags,
            sleep_hours=checkin.sleep_hours,
            anxiety=checkin.anxiety,
            cravings=checkin.cravings,
            alcohol=checkin.alcohol,
            other_drugs=checkin.other_drugs,
        )
    )
    checkin.guidance = guidance.level
    checkin.guidance_version = rules.guidance_rules().version
    checkin.flags = list(guidance.flags)
    checkin.full_clean(
        exclude=["clinic", "patient", "link"], validate_unique=False, validate_constraints=False
    )
    try:
        with transaction.atomic():
            checkin.save(force_insert=True)
    except IntegrityError:
        # A second submission of the same day raced this one past the check above.
        raise AlreadyCheckedIn(checkin_on(patient=patient, day=day)) from None

    if plan is not None:
        _record_dose(link=link, plan=plan, day=day, status=status, mg=amounts)
    link.last_used_at = now
    link.save(update_fields=["last_used_at", "updated_at"])
    audit(
        actor=link,
        action=AuditEvent.Action.CREATE,
        obj=checkin,
        patient=patient,
        detail={
            "event": "patient_checkin",
            "local_date": day,
            "dose_status": status,
            "guidance": guidance.level,
            "flags": list(guidance.flags),
        },
        request=request,
    )
    clinical_fact_recorded.send(
        sender=CheckIn,
        clinic_id=checkin.clinic_id,
        patient_id=patient.pk,
        kind="checkin",
        object_id=checkin.pk,
    )
    return checkin
