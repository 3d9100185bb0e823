"""Taper plan writes: create, edit, propose, approve, activate, hold, slow, resume, stop, complete, doses.

Every schedule comes from the pure engine; this module turns form/API input into a `TaperRequest`, turns
engine errors into field errors, and stores the result as a new immutable version in one transaction.
Only a psychiatrist approves, changes an active plan, or overrides the guideline cap — checked here, not
only in the views, so the API and any future caller get the same rule. Nothing here changes a dose on
its own: every new version is a person's decision with a written reason.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.actors import as_actor
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import require_clinic
from clinic.tenancy.roles import Perm
from patients.models import Patient
from taper import alternatives
from taper.catalogue import EquivalenceTable, FormKind, Split, Status, load_catalogue
from taper.dates import long_date, short_date
from taper.dosing import Form
from taper.engine import (
    Administration,
    CapViolation,
    Hold,
    LiquidUse,
    Phase,
    PriorStep,
    Schedule,
    Step,
    Strategy,
    TaperCapError,
    TaperInputError,
    TaperRequest,
    as_decimal,
    build_schedule,
)
from taper.formulary import clinic_catalogue
from taper.models import DoseRecord, TaperPlan, TaperPlanVersion, TaperSettings, TaperStep
from taper.policy import policy

# Engine field names → the form/API field that shows the error.
_FIELD_FOR = {
    "rate_percent": "rate_percent",
    "interval_days": "interval_days",
    "substitution_interval_days": "substitution_interval_days",
    "slow_rate_percent": "slow_rate_percent",
    "slow_below_de_mg": "slow_below_de_mg",
    "target_de_mg": "target_de_mg",
    "start_date": "start_date",
    "table": "table",
    "strategy": "strategy",
    "available_formulations": "regimen",
    "liquid": "liquid",
    "min_switch_days": "min_switch_days",
    "override_reason": "override_reason",
    "override_steps": "override_steps",
    "tail_floor_de_mg": "regimen",
}


class PlanRefused(ValidationError):
    """The engine refused the schedule because steps break the guideline cap and no override names them.

    Carries what a page or an API client needs to offer a way out: the steps, the alternatives that were
    tried and work (taper/alternatives.py), and the schedule as it would have been."""

    def __init__(self, message: dict, *, violations, options, schedule) -> None:
        super().__init__(message)
        self.violations = tuple(violations)
        self.options = tuple(options)
        self.schedule = schedule

    def problem_members(self) -> dict[str, Any]:
        """For an API problem response: the refused steps and the alternatives, as data."""
        return {
            "violations": [
                {
                    "step": v.step,
                    "start": v.start.isoformat(),
                    "from_de_mg": str(
                        as_decimal(v.previous_de_mg if v.previous_de_mg is not None else v.from_de_mg)
                    ),
                    "to_de_mg": str(as_decimal(v.to_de_mg)),
                    "window_de_mg": str(as_decimal(v.from_de_mg)),
                    "percent": str(as_decimal(v.percent, 1)),
                    "kind": v.kind,
                }
                for v in self.violations
            ],
            "alternatives": option_rows(self.options),
        }


@dataclass(frozen=True)
class PlanInput:
    """What a person chooses when building or changing a plan (strings from forms are fine)."""

    regimen: Sequence[Mapping[str, Any]]  # [{drug, dose_mg, time_of_day "HH:MM" or time}]
    start_date: datetime.date
    rate_percent: Decimal
    interval_days: int
    table: str = EquivalenceTable.ASHTON.value
    strategy: str = Strategy.DIRECT.value
    substitution_interval_days: int | None = None
    slow_rate_percent: Decimal | None = None
    slow_below_de_mg: Decimal | None = None
    target_de_mg: Decimal = Decimal(0)
    holds: Sequence[Mapping[str, Any]] = field(default_factory=tuple)  # [{days, at_step | on_date}]
    override_reason: str = ""
    override_steps: Sequence[int] = ()  # the steps a psychiatrist accepts over the cap
    liquid: str = LiquidUse.CAP.value
    min_switch_days: int | None = None  # None = the policy's
    high_dose_confirmation: str = ""  # the daily DE, typed, for a plan in the high band


# --- who may do what ----------------------------------------------------------------------------------------
def actor_allows(actor: Any, perm: Perm) -> bool:
    """The role table applied to a staff user (their membership here) or an API client (its token's roles)."""
    return as_actor(actor).allows(perm)


def _require_psychiatrist(actor: Any, what: str) -> None:
    if not actor_allows(actor, Perm.TAPER_APPROVE):
        raise ValidationError(f"Only a psychiatrist may {what}.")


# --- engine in and out --------------------------------------------------------------------------------------
def _time(value: Any, index: int) -> datetime.time:
    if isinstance(value, datetime.time):
        return value
    try:
        return datetime.time.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError({"regimen": f"Line {index + 1}: time of day must look like 08:00."}) from None


def _regimen(lines: Sequence[Mapping[str, Any]]) -> tuple[Administration, ...]:
    out = []
    for i, line in enumerate(lines):
        drug = str(line.get("drug") or "").strip().lower()
        raw = line.get("dose_mg")
        if not drug:
            raise ValidationError({"regimen": f"Line {i + 1}: choose a medication."})
        try:
            dose = Decimal(str(raw).strip())
        except (InvalidOperation, ValueError):
            raise ValidationError({"regimen": f"Line {i + 1}: the dose must be a number of mg."}) from None
        if not dose.is_finite() or dose <= 0:
            raise ValidationError({"regimen": f"Line {i + 1}: the dose must be more than 0 mg."})
        form = line.get("form") or None
        if form is not None and form not in Form.__members__.values():
            raise ValidationError({"regimen": f"Line {i + 1}: the form is tablets or oral liquid."})
        out.append(
            Administration(drug=drug, dose_mg=dose, time_of_day=_time(line.get("time_of_day"), i), form=form)
        )
    if not out:
        raise ValidationError({"regimen": "List at least one dose the patient takes now."})
    return tuple(out)


def _holds(raw: Sequence[Mapping[str, Any]]) -> tuple[Hold, ...]:
    holds = []
    for i, h in enumerate(raw):
        try:
            days = int(h["days"])
        except (KeyError, TypeError, ValueError):
            raise ValidationError({"holds": f"Hold {i + 1}: give the number of days."}) from None
        on_date = h.get("on_date")
        if isinstance(on_date, str) and on_date:
            try:
                on_date = datetime.date.fromisoformat(on_date)
            except ValueError:
                raise ValidationError(
                    {"holds": f"Hold {i + 1}: the date must look like 2026-01-31."}
                ) from None
        holds.append(Hold(days=days, at_step=h.get("at_step"), on_date=on_date or None))
    return tuple(holds)


def _hold_json(holds: tuple[Hold, ...]) -> list[dict[str, Any]]:
    return [
        {"days": h.days, "at_step": h.at_step, "on_date": h.on_date.isoformat() if h.on_date else None}
        for h in holds
    ]


def _engine_error(exc: TaperInputError) -> ValidationError:
    name = exc.field.split("[")[0].split(".")[0]
    target = _FIELD_FOR.get(name, "regimen" if name == "regimen" else "holds" if name == "holds" else None)
    message = exc.message[:1].upper() + exc.message[1:]
    if not message.endswith("."):
        message += "."
    if target is None:
        return ValidationError(message)
    return ValidationError({target: message})


def _liquid(value: str) -> LiquidUse:
    try:
        return LiquidUse(value or LiquidUse.CAP.value)
    except ValueError:
        raise ValidationError({"liquid": "Choose when the oral liquid may be used."}) from None


def _request(
    data: PlanInput,
    *,
    formulations: frozenset[str],
    settings: TaperSettings,
    not_before: datetime.date | None,
    prior: tuple[PriorStep, ...] = (),
    first_step_number: int = 1,
) -> TaperRequest:
    try:
        table = EquivalenceTable(data.table)
    except ValueError:
        raise ValidationError({"table": "Choose an equivalence table."}) from None
    try:
        strategy = Strategy(data.strategy)
    except ValueError:
        raise ValidationError({"strategy": "Choose a strategy."}) from None
    try:
        override_steps = frozenset(int(n) for n in data.override_steps or ())
    except (TypeError, ValueError):
        raise ValidationError({"override_steps": "List the step numbers, e.g. 5, 6."}) from None
    return TaperRequest(
        regimen=_regimen(data.regimen),
        start_date=data.start_date,
        rate_percent=data.rate_percent,
        interval_days=data.interval_days,
        table=table,
        strategy=strategy,
        substitution_interval_days=data.substitution_interval_days,
        slow_rate_percent=data.slow_rate_percent,
        slow_below_de_mg=data.slow_below_de_mg,
        target_de_mg=data.target_de_mg or 0,
        holds=_holds(data.holds),
        available_formulations=formulations,
        override_reason=data.override_reason.strip() or None,
        override_steps=override_steps,
        liquid=_liquid(data.liquid),
        min_switch_days=data.min_switch_days,
        tail_floor_de_mg=settings.tail_floor_de_mg,
        tail_floor_confirmed=settings.tail_floor_confirmed,
        not_before=not_before,
        prior=prior,
        first_step_number=first_step_number,
    )


def compute(
    data: PlanInput,
    *,
    actor: Any = None,
    expected_table: str | None = None,
    today: datetime.date | None = None,
    prior: tuple[PriorStep, ...] = (),
    first_step_number: int = 1,
) -> tuple[TaperRequest, Schedule]:
    """Validate and compute without saving (the builder's preview uses this too).

    `expected_table` is the table a non-psychiatrist may use (the clinic default unless the plan already
    has one a psychiatrist chose). The schedule may not start before `today` (the clinic's today unless
    given). Steps over the cap raise `PlanRefused` with the alternatives that would avoid them."""
    from clinic.tenancy.context import clinic_today

    catalogue, formulations = clinic_catalogue()
    settings = taper_settings()
    request = _request(
        data,
        formulations=formulations,
        settings=settings,
        not_before=today or clinic_today(),
        prior=prior,
        first_step_number=first_step_number,
    )
    overriding = request.override_reason or request.override_steps
    if overriding and actor is not None and not actor_allows(actor, Perm.TAPER_APPROVE):
        raise ValidationError({"override_reason": "Only a psychiatrist may override the guideline cap."})
    if (
        actor is not None
        and request.table.value != (expected_table or settings.default_table)
        and not actor_allows(actor, Perm.TAPER_APPROVE)
    ):
        raise ValidationError(
            {"table": "Only a psychiatrist may choose another equivalence table than the clinic's default."}
        )
    try:
        schedule = build_schedule(request, catalogue)
    except TaperInputError as exc:
        raise _engine_error(exc) from None
    except TaperCapError as exc:
        raise _refusal(request, exc, catalogue) from None
    return request, schedule


def _refusal(request: TaperRequest, exc: TaperCapError, catalogue) -> PlanRefused:
    steps = ", ".join(str(v.step) for v in exc.violations)
    rate_kind = any(v.kind == "rate" for v in exc.violations)
    why = (
        "the requested pace is faster than the guideline allows"
        if rate_kind
        else "the stocked formulations cannot make a small enough cut there"
    )
    message = (
        f"Step{'s' if len(exc.violations) > 1 else ''} {steps} would reduce faster than the guideline allows "
        f"({schedule_cap_wording()}): {why}. See the options below."
    )
    return PlanRefused(
        {"rate_percent": message},
        violations=exc.violations,
        options=alternatives.for_refusal(request, catalogue, exc),
        schedule=exc.schedule,
    )


def pace_options(request: TaperRequest, schedule: Schedule) -> tuple[alternatives.Alternative, ...]:
    """What would keep the requested pace where the schedule's cuts exceed it (each option tried)."""
    if not schedule.over_rate_steps:
        return ()
    catalogue, _ = clinic_catalogue()
    return alternatives.for_pace(request, catalogue, schedule)


def schedule_cap_wording() -> str:
    cap = policy().cap
    return f"at most {as_decimal(cap.max_reduction_percent, 0)}% every {cap.per_days} days"


def _s(value: Fraction) -> str:
    return f"{as_decimal(value).normalize():f}"  # "10", not "1E+1"


def _dose_rows(doses) -> list[dict[str, Any]]:
    return [
        {
            "drug": d.drug,
            "time": d.time_of_day.strftime("%H:%M"),
            "mg": _s(d.mg),
            "de_mg": _s(d.de_mg),
            "form": d.form.value,
            "tablets": [[fid, _s(count)] for fid, count in d.preparation.tablets],
            "liquid": [d.preparation.liquid[0], _s(d.preparation.liquid[1])]
            if d.preparation.liquid
            else None,
        }
        for d in doses
    ]


def step_row(step: Step) -> dict[str, Any]:
    """An engine step as the JSON stored on TaperStep (Fractions → decimal strings)."""
    doses = _dose_rows(step.doses)
    dispense = [
        {
            "formulation_id": x.formulation_id,
            "description": x.description,
            "tablets": x.tablets,
            "ml": _s(x.ml) if x.ml is not None else None,
            "unverified": x.unverified,
        }
        for x in step.dispense
    ]
    return {
        "phase": step.phase.value,
        "start": step.start,
        "end": step.end,
        "daily_de_mg": as_decimal(step.daily_de_mg),
        "window_reduction_percent": as_decimal(step.window_reduction_percent, 2),
        "step_percent": as_decimal(step.step_percent, 2),
        "requested_percent": as_decimal(step.requested_percent, 2)
        if step.requested_percent is not None
        else None,
        "other_table_de_mg": as_decimal(step.other_table_de_mg)
        if step.other_table_de_mg is not None
        else None,
        "delayed_days": step.delayed_days,
        "doses": doses,
        "dispense": dispense,
        "flags": list(step.flags),
    }


# --- high doses and warnings --------------------------------------------------------------------------------
def high_dose_confirmation(schedule: Schedule, typed: str) -> str:
    """The confirmation to record for a plan in the guideline's high band, or a field error.

    The person types the daily diazepam-equivalent dose shown to them: a slip of the keyboard in the
    regimen (an extra zero, mg for micrograms) then shows up as a number they did not expect."""
    if not schedule.high_dose:
        return ""
    expected = as_decimal(schedule.baseline_de_mg, 1).normalize()
    match = re.search(r"\d+(?:[.,]\d+)?", typed or "")
    try:
        number = Decimal(match.group().replace(",", ".")) if match else None
    except InvalidOperation:
        number = None
    if number is None or abs(number - Decimal(str(as_decimal(schedule.baseline_de_mg, 3)))) > Decimal("0.05"):
        raise ValidationError(
            {
                "high_dose_confirmation": (
                    f"This is a high dose: {expected:f} mg diazepam-equivalent a day (the guideline's high "
                    f"band is above {as_decimal(policy().plausibility.high_above_de_mg, 0)} mg). Type "
                    f"{expected:f} to confirm it is what the patient takes now."
                )
            }
        )
    return (typed or "").strip()[:40]


def _warning_rows(schedule: Schedule, confirmation: str) -> list[dict[str, Any]]:
    rows = []
    for w in schedule.warnings:
        detail = w.detail
        if w.code == "high_dose" and confirmation:
            detail += f" The dose was confirmed by typing “{confirmation}” when the plan was saved."
        rows.append(
            {
                "code": w.code,
                "rule": w.rule,
                "title": w.title,
                "detail": detail,
                "source": w.source,
                "steps": list(w.steps),
            }
        )
    return rows


def option_rows(options: Sequence[alternatives.Alternative]) -> list[dict[str, Any]]:
    return [
        {
            "code": o.code,
            "label": o.label,
            "outcome": o.outcome,
            "changes": dict(o.changes),
            "fixes": o.fixes,
            "psychiatrist_only": o.psychiatrist_only,
        }
        for o in options
    ]


def warnings_digest(version: TaperPlanVersion) -> str:
    """Identifies the warnings a version carries: the approval form sends it back to prove they were shown."""
    payload = json.dumps([str(version.pk), version.warnings], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


# --- saving versions ----------------------------------------------------------------------------------------
def _regimen_json(request: TaperRequest) -> list[dict[str, str]]:
    out = []
    for a in request.regimen:
        line = {"drug": a.drug, "dose_mg": str(a.dose_mg), "time_of_day": a.time_of_day.strftime("%H:%M")}
        if a.form:
            line["form"] = str(a.form)
        out.append(line)
    return out


def _input_fields(request: TaperRequest, *, confirmation: str = "") -> dict[str, Any]:
    return {
        "table": request.table.value,
        "strategy": request.strategy.value,
        "regimen": _regimen_json(request),
        "rate_percent": Decimal(str(request.rate_percent)),
        "interval_days": request.interval_days,
        "substitution_interval_days": request.substitution_interval_days,
        "slow_rate_percent": request.slow_rate_percent,
        "slow_below_de_mg": request.slow_below_de_mg,
        "target_de_mg": Decimal(str(request.target_de_mg)),
        "holds": _hold_json(request.holds),
        "formulations": sorted(request.available_formulations or ()),
        "override_reason": request.override_reason or "",
        "override_steps": sorted(request.override_steps),
        "liquid": request.liquid.value,
        "min_switch_days": request.min_switch_days,
        "tail_floor_de_mg": Decimal(str(request.tail_floor_de_mg))
        if request.tail_floor_de_mg is not None
        else None,
        "high_dose_confirmation": confirmation,
    }


def _summary_fields(
    schedule: Schedule, *, confirmation: str = "", options: Sequence[alternatives.Alternative] = ()
) -> dict[str, Any]:
    return {
        "baseline_de_mg": as_decimal(schedule.baseline_de_mg),
        "end_date": schedule.end_date,
        "final_de_mg": as_decimal(schedule.final_de_mg),
        "cap_wording": schedule.cap.wording[:300],
        "cap_source": schedule.cap.source[:300],
        "violations": [v.describe() for v in schedule.violations],
        "unverified": list(schedule.unverified),
        "notes": list(schedule.notes),
        "warnings": _warning_rows(schedule, confirmation),
        "alternatives": option_rows(options),
        "other_table": schedule.other_table.value if schedule.other_table else "",
        "baseline_other_de_mg": as_decimal(schedule.baseline_other_de_mg)
        if schedule.baseline_other_de_mg is not None
        else None,
    }


def _store_version(
    *,
    plan: TaperPlan,
    actor: Any,
    change: str,
    reason: str,
    effective_from: datetime.date,
    fields: dict[str, Any],
    rows: Sequence[dict[str, Any]],
) -> TaperPlanVersion:
    """Save a new version with its steps and make it the plan's current one (the caller's transaction)."""
    previous = plan.current_version
    number = (previous.number + 1) if previous else 1
    version = TaperPlanVersion.objects.create(
        plan=plan,
        patient=plan.patient,
        number=number,
        change=change,
        reason=reason,
        created_by=_user(actor),
        effective_from=effective_from,
        **fields,
    )
    TaperStep.objects.bulk_create(
        [
            TaperStep(clinic=plan.clinic, version=version, plan=plan, patient=plan.patient, index=i, **row)
            for i, row in enumerate(rows, start=1)
        ]
    )
    plan.current_version = version
    plan.save(update_fields=["current_version", "updated_at"])
    audit(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        obj=version,
        patient=plan.patient,
        detail={
            "plan": str(plan.pk),
            "version": number,
            "change": change,
            "reason": reason,
            "warnings": [w["code"] for w in fields.get("warnings", ())],
            "override_steps": fields.get("override_steps", []),
        },
    )
    return version


def _save_version(
    *,
    plan: TaperPlan,
    actor: Any,
    change: str,
    reason: str,
    request: TaperRequest,
    schedule: Schedule,
    kept_steps: Sequence[dict[str, Any]] = (),
    effective_from: datetime.date,
    confirmation: str = "",
) -> TaperPlanVersion:
    options = pace_options(request, schedule)
    return _store_version(
        plan=plan,
        actor=actor,
        change=change,
        reason=reason,
        effective_from=effective_from,
        fields={
            **_input_fields(request, confirmation=confirmation),
            **_summary_fields(schedule, confirmation=confirmation, options=options),
        },
        rows=[*kept_steps, *(step_row(s) for s in schedule.steps)],
    )


def _user(actor: Any):
    """The staff user behind `actor`, or None for an API client or a patient's check-in link."""
    return as_actor(actor).user


def _reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": f"Say why you are {what}: it is kept with the new version."})
    return reason


# --- plan lifecycle -----------------------------------------------------------------------------------------
@transaction.atomic
def plan_create(
    *, actor: Any, patient: Patient, data: PlanInput, reason: str = "", today: datetime.date | None = None
) -> TaperPlan:
    """A new draft. `today` (the clinic's today unless given; the synthetic demo backdates it) is the
    earliest allowed start."""
    if not actor_allows(actor, Perm.TAPER_DRAFT):
        raise ValidationError("Your role does not allow drafting taper plans.")
    request, schedule = compute(data, actor=actor, today=today)
    confirmation = high_dose_confirmation(schedule, data.high_dose_confirmation)
    plan = TaperPlan(patient=patient, created_by=_user(actor))
    try:
        with transaction.atomic():
            plan.save()
    except IntegrityError:
        raise ValidationError(
            "This patient already has an open taper plan. Open it to change it, or stop it first."
        ) from None
    _save_version(
        plan=plan,
        actor=actor,
        change=TaperPlanVersion.Change.CREATED,
        reason=(reason or "").strip() or "New plan",
        request=request,
        schedule=schedule,
        effective_from=request.start_date,
        confirmation=confirmation,
    )
    audit(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        obj=plan,
        patient=patient,
        detail={"status": plan.status},
    )
    return plan


@transaction.atomic
def plan_edit(*, actor: Any, plan: TaperPlan, data: PlanInput, reason: str) -> TaperPlan:
    """Change a plan that has not started. An approved plan goes back to draft: the approval was for the
    schedule as it was."""
    plan = _locked(plan)
    if plan.status not in (TaperPlan.Status.DRAFT, TaperPlan.Status.PROPOSED, TaperPlan.Status.APPROVED):
        raise ValidationError("An active plan is changed by holding, slowing or resuming it, not by editing.")
    if not actor_allows(actor, Perm.TAPER_DRAFT):
        raise ValidationError("Your role does not allow changing taper plans.")
    reason = _reason(reason, "changing the plan")
    request, schedule = compute(data, actor=actor, expected_table=plan.current_version.table)
    confirmation = high_dose_confirmation(schedule, data.high_dose_confirmation)
    _save_version(
        plan=plan,
        actor=actor,
        change=TaperPlanVersion.Change.EDITED,
        reason=reason,
        request=request,
        schedule=schedule,
        effective_from=request.start_date,
        confirmation=confirmation,
    )
    previous = plan.status
    if plan.status == TaperPlan.Status.APPROVED:
        plan.status = TaperPlan.Status.DRAFT
        plan.approved_by, plan.approved_at = None, None
        plan.save(update_fields=["status", "approved_by", "approved_at", "updated_at"])
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        obj=plan,
        patient=plan.patient,
        detail={"status": [previous, plan.status]},
    )
    return plan


def _locked(plan: TaperPlan) -> TaperPlan:
    return (
        TaperPlan.objects.select_for_update(of=("self",))
        .select_related("current_version", "patient")
        .get(pk=plan.pk)
    )


def _transition(plan: TaperPlan, actor: Any, to: str, allowed_from: Sequence[str], message: str) -> TaperPlan:
    if plan.status not in allowed_from:
        raise ValidationError(message.format(status=plan.get_status_display().lower()))
    previous = plan.status
    plan.status = to
    return _audit_status(plan, actor, previous)


def _audit_status(plan: TaperPlan, actor: Any, previous: str, **detail: Any) -> TaperPlan:
    plan.save()
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        obj=plan,
        patient=plan.patient,
        detail={"status": [previous, plan.status], **detail},
    )
    return plan


@transaction.atomic
def plan_propose(*, actor: Any, plan: TaperPlan) -> TaperPlan:
    plan = _locked(plan)
    return _transition(
        plan,
        actor,
        TaperPlan.Status.PROPOSED,
        [TaperPlan.Status.DRAFT],
        "Only a draft can be sent for approval.",
    )


@transaction.atomic
def plan_approve(*, actor: Any, plan: TaperPlan, note: str = "", warnings_seen: str = "") -> TaperPlan:
    """Approve the current version. If it carries warnings, `warnings_seen` must be their digest
    (`warnings_digest`), which the approval page sends: the approval records that they were shown."""
    _require_psychiatrist(actor, "approve a taper plan")
    plan = _locked(plan)
    if plan.status not in (TaperPlan.Status.DRAFT, TaperPlan.Status.PROPOSED):
        raise ValidationError(
            f"This plan is {plan.get_status_display().lower()}; "
            "only a draft or proposed plan can be approved."
        )
    version = plan.current_version
    if version.warnings and warnings_seen != warnings_digest(version):
        raise ValidationError(
            {
                "warnings_seen": (
                    f"This version carries {len(version.warnings)} warning(s) to review before approving "
                    "(or it changed since you opened it): read them above the approve button and approve "
                    "again."
                )
            }
        )
    now = timezone.now()
    TaperPlanVersion.objects.filter(pk=version.pk).update(
        approved_by=_user(actor), approved_at=now, approval_warnings=version.warnings
    )
    previous = plan.status
    plan.status = TaperPlan.Status.APPROVED
    plan.approved_by, plan.approved_at = _user(actor), now
    return _audit_status(
        plan,
        actor,
        previous,
        version=version.number,
        note=note.strip(),
        warnings_shown=[w["code"] for w in version.warnings],
    )


@transaction.atomic
def plan_activate(*, actor: Any, plan: TaperPlan) -> TaperPlan:
    plan = _locked(plan)
    if not actor_allows(actor, Perm.TAPER_DRAFT):
        raise ValidationError("Your role does not allow starting taper plans.")
    plan.activated_at = timezone.now()
    return _transition(
        plan,
        actor,
        TaperPlan.Status.ACTIVE,
        [TaperPlan.Status.APPROVED],
        "This plan is {status}; a psychiatrist must approve it before it starts.",
    )


@transaction.atomic
def plan_close(*, actor: Any, plan: TaperPlan, outcome: str, reason: str) -> TaperPlan:
    """Stop (any open plan) or complete (an active plan) — psychiatrist only, with a reason."""
    _require_psychiatrist(actor, "stop or complete a taper plan")
    reason = _reason(reason, "closing the plan")
    plan = _locked(plan)
    if outcome == TaperPlan.Status.COMPLETED:
        allowed = [TaperPlan.Status.ACTIVE]
    elif outcome == TaperPlan.Status.STOPPED:
        allowed = list(TaperPlan.OPEN_STATUSES)
    else:
        raise ValidationError("Choose completed or stopped.")
    plan.closed_at, plan.closed_reason, plan.held_since = timezone.now(), reason, None
    return _transition(plan, actor, outcome, allowed, "This plan is {status}; it cannot be closed that way.")


# --- changing an active plan: past steps stay, the future is recomputed -------------------------------------
def _kept_steps(
    version: TaperPlanVersion, before: datetime.date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Steps of `version` before `before` (the one running then truncated), and the doses in effect the day
    before `before` as a regimen. Past steps are copied verbatim."""
    kept: list[dict[str, Any]] = []
    in_effect: list[dict[str, Any]] | None = None
    last_day = before - datetime.timedelta(days=1)
    for step in version.steps.order_by("index"):
        if step.start > last_day:
            break
        row = {
            "phase": step.phase,
            "start": step.start,
            "end": step.end if step.end is not None and step.end <= last_day else last_day,
            "daily_de_mg": step.daily_de_mg,
            "window_reduction_percent": step.window_reduction_percent,
            "step_percent": step.step_percent,
            "requested_percent": step.requested_percent,
            "other_table_de_mg": step.other_table_de_mg,
            "delayed_days": step.delayed_days,
            "doses": step.doses,
            "dispense": step.dispense,
            "flags": step.flags,
        }
        kept.append(row)
        in_effect = step.doses
    if in_effect is None:
        regimen = list(version.regimen)
    else:
        regimen = [
            {"drug": d["drug"], "dose_mg": d["mg"], "time_of_day": d["time"], "form": d.get("form")}
            for d in in_effect
            if Decimal(d["mg"]) > 0
        ]
    return kept, regimen


def _prior(version: TaperPlanVersion, kept: Sequence[dict[str, Any]]) -> tuple[PriorStep, ...]:
    """The dose levels before a revision, so the recomputed future keeps the cap across the join."""
    if not kept:
        return ()
    # Before the first kept step the patient took the plan's original baseline (version 1's).
    original = version.baseline_de_mg
    if version.number > 1:
        original = version.plan.versions.order_by("number").values_list("baseline_de_mg", flat=True).first()
    before = PriorStep(kept[0]["start"] - datetime.timedelta(days=3650), Fraction(str(original)))
    return (before, *(PriorStep(row["start"], Fraction(str(row["daily_de_mg"]))) for row in kept))


def _accepted_cuts(version: TaperPlanVersion) -> set[tuple[Decimal, Decimal]]:
    """The cuts (dose before → after) a psychiatrist accepted over the cap in `version`."""
    accepted = set()
    previous = version.baseline_de_mg
    for step in version.steps.order_by("index"):
        if "cap_override" in step.flags:
            accepted.add((Decimal(previous), Decimal(step.daily_de_mg)))
        previous = step.daily_de_mg
    return accepted


def _cut(v: CapViolation) -> tuple[Decimal, Decimal]:
    return (
        as_decimal(v.previous_de_mg if v.previous_de_mg is not None else v.from_de_mg),
        as_decimal(v.to_de_mg),
    )


def _data_from(version: TaperPlanVersion, **changes: Any) -> PlanInput:
    values = {
        "regimen": version.regimen,
        "start_date": version.effective_from,
        "rate_percent": version.rate_percent,
        "interval_days": version.interval_days,
        "table": version.table,
        "strategy": version.strategy,
        "substitution_interval_days": version.substitution_interval_days,
        "slow_rate_percent": version.slow_rate_percent,
        "slow_below_de_mg": version.slow_below_de_mg,
        "target_de_mg": version.target_de_mg,
        "holds": (),
        "override_reason": version.override_reason,
        "liquid": version.liquid,
        "min_switch_days": version.min_switch_days,
        "high_dose_confirmation": version.high_dose_confirmation,
    }
    values.update(changes)
    return PlanInput(**values)


def _check_from_date(version: TaperPlanVersion, effective_from: datetime.date, today: datetime.date) -> None:
    """A change starts today or later (what was planned for past days stays as it was) and before the end."""
    steps = list(version.steps.order_by("index").values_list("start", flat=True))
    first, last = (steps[0], steps[-1]) if steps else (None, None)
    if effective_from < today:
        raise ValidationError(
            {
                "effective_from": (
                    f"Choose today ({long_date(today)}) or a later date: past days stay as planned."
                )
            }
        )
    if first is not None and effective_from < first:
        raise ValidationError(
            {"effective_from": f"Choose a date on or after the plan's start ({long_date(first)})."}
        )
    latest = today + datetime.timedelta(days=policy().limits.start_within_days)
    if effective_from > latest:
        raise ValidationError({"effective_from": f"Choose a date before {short_date(latest)}."})
    if last is not None and effective_from >= last and Decimal(version.final_de_mg) == 0:
        raise ValidationError(
            {
                "effective_from": f"The taper reaches zero on {long_date(last)}: choose a date before then "
                "(after it there is nothing left to change)."
            }
        )


def _compute_revision(
    version: TaperPlanVersion, data: PlanInput, *, actor: Any, today: datetime.date, kept: list
) -> tuple[TaperRequest, Schedule]:
    """The recomputed future. Steps over the cap that repeat a cut the psychiatrist already accepted in the
    earlier version (same dose before and after) stay accepted under the same reason; any other is refused."""
    prior = _prior(version, kept)
    number = len(kept) + 1
    try:
        return compute(
            data,
            actor=actor,
            expected_table=version.table,
            today=today,
            prior=prior,
            first_step_number=number,
        )
    except PlanRefused as refusal:
        accepted = _accepted_cuts(version)
        if not version.override_reason or not all(_cut(v) in accepted for v in refusal.violations):
            raise
        again = dataclasses.replace(data, override_steps=[v.step for v in refusal.violations])
        return compute(
            again,
            actor=actor,
            expected_table=version.table,
            today=today,
            prior=prior,
            first_step_number=number,
        )


def _revise(
    *,
    actor: Any,
    plan: TaperPlan,
    change: str,
    reason: str,
    effective_from: datetime.date,
    today: datetime.date,
    open_hold: bool = False,
    **changes: Any,
) -> TaperPlan:
    version = plan.current_version
    _check_from_date(version, effective_from, today)
    kept, regimen = _kept_steps(version, effective_from)
    if not regimen:
        raise ValidationError(
            "The patient is already at the end of this taper: there is nothing left to change."
        )
    if open_hold:
        # Paused until a psychiatrist resumes: one open-ended step repeating the dose in effect.
        request, schedule = _compute_revision(
            version,
            _data_from(version, regimen=regimen, start_date=effective_from),
            actor=actor,
            today=today,
            kept=kept,
        )
        hold_row = _hold_row(kept, effective_from, schedule)
        _save_hold_version(plan, actor, reason, request, kept, hold_row, effective_from)
        return plan
    data = _data_from(version, regimen=regimen, start_date=effective_from, **changes)
    try:
        request, schedule = _compute_revision(version, data, actor=actor, today=today, kept=kept)
    except ValidationError as exc:
        if "target_de_mg" in getattr(exc, "error_dict", {}):
            raise ValidationError(
                "The patient is already at the target dose: there is nothing left to reduce."
            ) from None
        raise
    _save_version(
        plan=plan,
        actor=actor,
        change=change,
        reason=reason,
        request=request,
        schedule=schedule,
        kept_steps=kept,
        effective_from=effective_from,
        confirmation=version.high_dose_confirmation,
    )
    return plan


def _hold_row(kept: list[dict[str, Any]], start: datetime.date, schedule: Schedule) -> dict[str, Any]:
    """The open-ended hold step: the doses in effect (the baseline when held from the very first step)."""
    current = kept[-1] if kept else None
    if current is None:
        current = {
            "daily_de_mg": as_decimal(schedule.baseline_de_mg),
            "other_table_de_mg": as_decimal(schedule.baseline_other_de_mg)
            if schedule.baseline_other_de_mg is not None
            else None,
            "doses": _dose_rows(schedule.baseline),
            "dispense": [],
        }
    return {
        "phase": Phase.HOLD.value,
        "start": start,
        "end": None,
        "daily_de_mg": current["daily_de_mg"],
        "window_reduction_percent": Decimal(0),
        "step_percent": Decimal(0),
        "requested_percent": None,
        "other_table_de_mg": current.get("other_table_de_mg"),
        "delayed_days": 0,
        "doses": current["doses"],
        "dispense": current["dispense"],
        "flags": ["open_hold"],
    }


def _save_hold_version(plan, actor, reason, request, kept, hold_row, effective_from) -> None:
    previous = plan.current_version
    fields = {
        **_input_fields(request, confirmation=previous.high_dose_confirmation),
        "holds": [{"days": None, "on_date": effective_from.isoformat(), "at_step": None}],
        "formulations": previous.formulations,
        "baseline_de_mg": previous.baseline_de_mg,
        "end_date": effective_from,
        "final_de_mg": hold_row["daily_de_mg"],
        "cap_wording": previous.cap_wording,
        "cap_source": previous.cap_source,
        "violations": previous.violations,
        "unverified": previous.unverified,
        "notes": ["Held until a psychiatrist resumes the taper."],
        "warnings": previous.warnings,
        "other_table": previous.other_table,
        "baseline_other_de_mg": previous.baseline_other_de_mg,
    }
    _store_version(
        plan=plan,
        actor=actor,
        change=TaperPlanVersion.Change.HELD,
        reason=reason,
        effective_from=effective_from,
        fields=fields,
        rows=[*kept, hold_row],
    )


def _active_for_change(plan: TaperPlan, actor: Any, what: str) -> TaperPlan:
    _require_psychiatrist(actor, what)
    plan = _locked(plan)
    if plan.status != TaperPlan.Status.ACTIVE:
        raise ValidationError(
            f"This plan is {plan.get_status_display().lower()}; only an active plan can be changed this way."
        )
    return plan


def _today(today: datetime.date | None) -> datetime.date:
    from clinic.tenancy.context import clinic_today

    return today or clinic_today()


@transaction.atomic
def plan_hold(
    *,
    actor: Any,
    plan: TaperPlan,
    from_date: datetime.date,
    days: int | None,
    reason: str,
    today: datetime.date | None = None,
) -> TaperPlan:
    """Pause the taper from `from_date`: for `days` (the schedule moves later by exactly that much) or,
    with no days, until a psychiatrist resumes it."""
    plan = _active_for_change(plan, actor, "hold a taper")
    reason = _reason(reason, "holding the taper")
    today = _today(today)
    if plan.held_since:
        raise ValidationError(f"The taper is already held since {short_date(plan.held_since)}.")
    low, high = policy().limits.hold_days
    if days is not None and not low <= days <= high:
        raise ValidationError(
            {"days": f"A hold lasts between {low} and {high} days (leave it empty to hold until resumed)."}
        )
    if days is None:
        _revise(
            actor=actor,
            plan=plan,
            change=TaperPlanVersion.Change.HELD,
            reason=reason,
            effective_from=from_date,
            today=today,
            open_hold=True,
        )
        plan.held_since = from_date
        plan.save(update_fields=["held_since", "updated_at"])
    else:
        # Held mid-step, the patient stays on the current dose for the rest of that step too, so the next
        # reduction (and everything after it) moves exactly `days` later than planned.
        from taper.selectors import step_in

        running = step_in(plan.current_version, from_date)
        rest = (
            (running.end - from_date).days + 1 if running and running.end and running.start < from_date else 0
        )
        _revise(
            actor=actor,
            plan=plan,
            change=TaperPlanVersion.Change.HELD,
            reason=reason,
            effective_from=from_date,
            today=today,
            holds=({"days": days + rest, "at_step": 1},),
        )
    return plan


@transaction.atomic
def plan_resume(
    *,
    actor: Any,
    plan: TaperPlan,
    from_date: datetime.date,
    reason: str,
    rate_percent: Decimal | None = None,
    interval_days: int | None = None,
    today: datetime.date | None = None,
) -> TaperPlan:
    """End an open hold: the next reduction starts on `from_date`, from the dose the patient is on."""
    plan = _active_for_change(plan, actor, "resume a taper")
    reason = _reason(reason, "resuming the taper")
    if not plan.held_since:
        raise ValidationError("The taper is not held.")
    if from_date <= plan.held_since:
        raise ValidationError(
            {"effective_from": f"Resume after the day the hold began ({long_date(plan.held_since)})."}
        )
    changes: dict[str, Any] = {}
    if rate_percent is not None:
        changes["rate_percent"] = rate_percent
    if interval_days is not None:
        changes["interval_days"] = interval_days
    _revise(
        actor=actor,
        plan=plan,
        change=TaperPlanVersion.Change.RESUMED,
        reason=reason,
        effective_from=from_date,
        today=_today(today),
        **changes,
    )
    plan.held_since = None
    plan.save(update_fields=["held_since", "updated_at"])
    return plan


@transaction.atomic
def plan_slow(
    *,
    actor: Any,
    plan: TaperPlan,
    from_date: datetime.date,
    reason: str,
    rate_percent: Decimal,
    interval_days: int,
    today: datetime.date | None = None,
) -> TaperPlan:
    """Change the pace from `from_date` on (slower, usually); earlier steps stay as they were."""
    plan = _active_for_change(plan, actor, "change the pace of a taper")
    reason = _reason(reason, "changing the pace")
    if plan.held_since:
        raise ValidationError("The taper is held: resume it (you can choose the new pace there).")
    _revise(
        actor=actor,
        plan=plan,
        change=TaperPlanVersion.Change.SLOWED,
        reason=reason,
        effective_from=from_date,
        today=_today(today),
        rate_percent=rate_percent,
        interval_days=interval_days,
        slow_rate_percent=None,
        slow_below_de_mg=None,
    )
    return plan


def change_defaults(plan: TaperPlan, today: datetime.date) -> dict[str, datetime.date]:
    """The dates a hold, pace change or resume form starts with: dates the services accept."""
    version = plan.current_version
    first = version.steps.order_by("index").values_list("start", flat=True).first() if version else None
    earliest = max(today, first) if first else today
    resume = max(today, plan.held_since + datetime.timedelta(days=1)) if plan.held_since else earliest
    return {"hold": earliest, "pace": earliest, "resume": resume}


# --- doses actually taken -----------------------------------------------------------------------------------
# An entry guard against typos (e.g. 500 for 5.00), not a clinical limit: far above any oral daily dose.
MAX_DAILY_MG_ENTRY = Decimal(1000)


def _mg(value: Any, drug: str) -> Decimal:
    try:
        mg = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({"mg_by_drug": f"{drug}: the amount must be a number of mg."}) from None
    if not mg.is_finite() or mg < 0:
        raise ValidationError({"mg_by_drug": f"{drug}: the amount cannot be negative."})
    if mg > MAX_DAILY_MG_ENTRY:
        raise ValidationError(
            {"mg_by_drug": f"{drug}: {mg} mg in one day is not plausible; check the entry."}
        )
    return mg


def dose_record(
    *,
    actor: Any,
    plan: TaperPlan,
    day: datetime.date,
    source: str,
    as_planned: bool | None = None,
    mg_by_drug: Mapping[str, Any] | None = None,
    note: str = "",
    today: datetime.date | None = None,
) -> DoseRecord:
    """Record what the patient took on `day` (one record per plan and day; a later entry replaces an
    earlier one, except that a patient's check-in never replaces what staff recorded)."""
    from clinic.tenancy.context import clinic_today
    from taper.selectors import step_in

    with transaction.atomic():
        if source not in DoseRecord.Source.values:
            raise ValidationError({"source": "Unknown source."})
        if source != DoseRecord.Source.CHECKIN and not actor_allows(actor, Perm.TAPER_RECORD_DOSE):
            raise ValidationError("Your role does not allow recording doses.")
        plan = TaperPlan.objects.select_related("current_version", "patient").get(pk=plan.pk)
        if plan.status != TaperPlan.Status.ACTIVE:
            raise ValidationError("Doses are recorded against an active plan.")
        if day > (today or clinic_today()):
            raise ValidationError({"day": "You cannot record a dose for a day that has not happened yet."})
        step = step_in(plan.current_version, day)
        if step is None:
            raise ValidationError({"day": "That day is before the plan started."})
        table = EquivalenceTable(plan.current_version.table)
        catalogue = load_catalogue()
        if as_planned:
            amounts = {d: Decimal(v) for d, v in step.daily_mg_by_drug.items()}
        else:
            if not mg_by_drug:
                raise ValidationError(
                    {"mg_by_drug": "Enter how much the patient took, or mark it as planned."}
                )
            amounts = {}
            for drug, value in mg_by_drug.items():
                try:
                    name = catalogue.drug(str(drug)).name
                except TaperInputError:
                    raise ValidationError({"mg_by_drug": f"Unknown medication {drug!r}."}) from None
                amounts[name] = _mg(value, name)
        de = sum(
            (Fraction(str(mg)) * catalogue.drug(drug).de_per_mg(table) for drug, mg in amounts.items()),
            Fraction(0),
        )
        existing = DoseRecord.objects.select_for_update().filter(plan=plan, day=day).first()
        if existing and source == DoseRecord.Source.CHECKIN and existing.source != DoseRecord.Source.CHECKIN:
            return existing
        values = {
            "patient": plan.patient,
            "mg_by_drug": {d: f"{mg.normalize():f}" for d, mg in amounts.items()},
            "de_mg": as_decimal(de),
            "planned_de_mg": step.daily_de_mg,
            "as_planned": bool(as_planned) if as_planned is not None else None,
            "source": source,
            "recorded_by": _user(actor),
            "note": (note or "").strip()[:500],
        }
        if existing:
            before = {"mg_by_drug": existing.mg_by_drug, "source": existing.source}
            for key, value in values.items():
                setattr(existing, key, value)
            existing.save()
            record, action, detail = existing, AuditEvent.Action.UPDATE, {"before": before}
        else:
            record = DoseRecord.objects.create(plan=plan, day=day, **values)
            action, detail = AuditEvent.Action.CREATE, {}
        audit(
            actor=actor,
            action=action,
            obj=record,
            patient=plan.patient,
            detail={"day": day.isoformat(), "mg_by_drug": values["mg_by_drug"], "source": source, **detail},
        )
        return record


# --- clinic settings ----------------------------------------------------------------------------------------
def taper_settings() -> TaperSettings:
    settings, _ = TaperSettings.objects.get_or_create(clinic=require_clinic())
    return settings


@transaction.atomic
def taper_settings_update(
    *,
    actor: Any,
    default_table: str,
    default_interval_days: int,
    default_rate_percent: Decimal,
    tail_floor_de_mg: Decimal | None = None,
) -> TaperSettings:
    """The clinic's defaults. Changing the end-of-taper floor clears its confirmation: a psychiatrist
    confirms the new value (`taper_settings_confirm_tail_floor`)."""
    try:
        EquivalenceTable(default_table)
    except ValueError:
        raise ValidationError({"default_table": "Choose an equivalence table."}) from None
    tail = policy().tail
    settings = taper_settings()
    before = {"default_table": settings.default_table, "tail_floor_de_mg": str(settings.tail_floor_de_mg)}
    if tail_floor_de_mg is not None:
        if not 0 <= Fraction(str(tail_floor_de_mg)) <= tail.max_floor_de_mg:
            raise ValidationError(
                {
                    "tail_floor_de_mg": (
                        f"The end-of-taper floor is between 0 and {as_decimal(tail.max_floor_de_mg, 0)} mg "
                        "diazepam-equivalent a day."
                    )
                }
            )
        if Decimal(tail_floor_de_mg) != settings.tail_floor_de_mg:
            settings.tail_floor_de_mg = tail_floor_de_mg
            settings.tail_floor_confirmed_by, settings.tail_floor_confirmed_at = None, None
    settings.default_table = default_table
    settings.default_interval_days = default_interval_days
    settings.default_rate_percent = default_rate_percent
    settings.full_clean()
    settings.save()
    audit(
        actor=actor,
        action=AuditEvent.Action.ADMIN,
        obj=settings,
        detail={
            "before": before,
            "after": {"default_table": default_table, "tail_floor_de_mg": str(settings.tail_floor_de_mg)},
        },
    )
    return settings


@transaction.atomic
def taper_settings_confirm_tail_floor(*, actor: Any) -> TaperSettings:
    """A psychiatrist confirms the clinic's end-of-taper floor: schedules stop marking it unverified."""
    _require_psychiatrist(actor, "confirm the end-of-taper floor")
    settings = taper_settings()
    settings.tail_floor_confirmed_by, settings.tail_floor_confirmed_at = _user(actor), timezone.now()
    settings.save(update_fields=["tail_floor_confirmed_by", "tail_floor_confirmed_at", "updated_at"])
    audit(
        actor=actor,
        action=AuditEvent.Action.ADMIN,
        obj=settings,
        detail={"confirmed_tail_floor_de_mg": str(settings.tail_floor_de_mg)},
    )
    return settings


__all__ = [
    "FormKind",
    "PlanInput",
    "PlanRefused",
    "Split",
    "Status",
    "actor_allows",
    "change_defaults",
    "compute",
    "dose_record",
    "high_dose_confirmation",
    "option_rows",
    "pace_options",
    "plan_activate",
    "plan_approve",
    "plan_close",
    "plan_create",
    "plan_edit",
    "plan_hold",
    "plan_propose",
    "plan_resume",
    "plan_slow",
    "step_row",
    "taper_settings",
    "taper_settings_confirm_tail_floor",
    "taper_settings_update",
    "warnings_digest",
]
