"""Taper plan writes: create, edit, propose, approve, activate, hold, slow, resume, stop, complete.

The public write API of the taper app (`<entity>_<action>`, keyword-only). Every schedule comes from the
pure engine through `taper.engine_adapter`; each change is stored as a new immutable version
(`taper.versions`, and `taper.revisions` for an active plan) in one transaction. Only a psychiatrist
approves, changes an active plan, or overrides the guideline cap (`taper.permissions`). Nothing here
changes a dose on its own: every new version is a person's decision with a written reason.

Dose records (`taper.doses`) and the clinic's settings (`taper.clinic_settings`) have their own modules;
their writes, and the names other apps and tests use, are importable from here too (see `__all__`).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.actors import ActorLike, as_actor
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import clinic_today
from clinic.tenancy.roles import Perm
from patients.models import Patient
from taper.catalogue import FormKind, Split, Status
from taper.clinic_settings import taper_settings, taper_settings_confirm_tail_floor, taper_settings_update
from taper.dates import long_date, short_date
from taper.doses import dose_record
from taper.engine_adapter import PlanInput, PlanRefused, compute, high_dose_confirmation, pace_options
from taper.models import TaperPlan, TaperPlanVersion
from taper.permissions import require_psychiatrist
from taper.policy import policy
from taper.revisions import revise
from taper.selectors import change_defaults, step_in
from taper.version_fields import option_rows, step_row, warnings_digest
from taper.versions import require_reason, save_version


# --- plan lifecycle -----------------------------------------------------------------------------------------
@transaction.atomic
def plan_create(
    *,
    actor: ActorLike,
    patient: Patient,
    data: PlanInput,
    reason: str = "",
    today: datetime.date | None = None,
) -> TaperPlan:
    """A new draft. `today` (the clinic's today unless given; the synthetic demo backdates it) is the
    earliest allowed start."""
    if not as_actor(actor).allows(Perm.TAPER_DRAFT):
        raise ValidationError("Your role does not allow drafting taper plans.")
    request, schedule = compute(data, actor=actor, today=today)
    confirmation = high_dose_confirmation(schedule, data.high_dose_confirmation)
    plan = TaperPlan(patient=patient, created_by=as_actor(actor).user)
    try:
        with transaction.atomic():
            plan.save()
    except IntegrityError:
        raise ValidationError(
            "This patient already has an open taper plan. Open it to change it, or stop it first."
        ) from None
    save_version(
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
def plan_edit(*, actor: ActorLike, plan: TaperPlan, data: PlanInput, reason: str) -> TaperPlan:
    """Change a plan that has not started. An approved plan goes back to draft: the approval was for the
    schedule as it was."""
    plan = _locked(plan)
    if plan.status not in (TaperPlan.Status.DRAFT, TaperPlan.Status.PROPOSED, TaperPlan.Status.APPROVED):
        raise ValidationError("An active plan is changed by holding, slowing or resuming it, not by editing.")
    if not as_actor(actor).allows(Perm.TAPER_DRAFT):
        raise ValidationError("Your role does not allow changing taper plans.")
    reason = require_reason(reason, "changing the plan")
    request, schedule = compute(data, actor=actor, expected_table=plan.current_version.table)
    confirmation = high_dose_confirmation(schedule, data.high_dose_confirmation)
    save_version(
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


def _transition(
    plan: TaperPlan, actor: ActorLike, to: str, allowed_from: Sequence[str], message: str
) -> TaperPlan:
    if plan.status not in allowed_from:
        raise ValidationError(message.format(status=plan.get_status_display().lower()))
    previous = plan.status
    plan.status = to
    return _audit_status(plan, actor, previous)


def _audit_status(plan: TaperPlan, actor: ActorLike, previous: str, **detail: Any) -> TaperPlan:
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
def plan_propose(*, actor: ActorLike, plan: TaperPlan) -> TaperPlan:
    plan = _locked(plan)
    return _transition(
        plan,
        actor,
        TaperPlan.Status.PROPOSED,
        [TaperPlan.Status.DRAFT],
        "Only a draft can be sent for approval.",
    )


@transaction.atomic
def plan_approve(*, actor: ActorLike, plan: TaperPlan, note: str = "", warnings_seen: str = "") -> TaperPlan:
    """Approve the current version. If it carries warnings, `warnings_seen` must be their digest
    (`warnings_digest`), which the approval page sends: the approval records that they were shown."""
    require_psychiatrist(actor, "approve a taper plan")
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
        approved_by=as_actor(actor).user, approved_at=now, approval_warnings=version.warnings
    )
    previous = plan.status
    plan.status = TaperPlan.Status.APPROVED
    plan.approved_by, plan.approved_at = as_actor(actor).user, now
    return _audit_status(
        plan,
        actor,
        previous,
        version=version.number,
        note=note.strip(),
        warnings_shown=[w["code"] for w in version.warnings],
    )


@transaction.atomic
def plan_activate(*, actor: ActorLike, plan: TaperPlan) -> TaperPlan:
    plan = _locked(plan)
    if not as_actor(actor).allows(Perm.TAPER_DRAFT):
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
def plan_close(*, actor: ActorLike, plan: TaperPlan, outcome: str, reason: str) -> TaperPlan:
    """Stop (any open plan) or complete (an active plan) — psychiatrist only, with a reason."""
    require_psychiatrist(actor, "stop or complete a taper plan")
    reason = require_reason(reason, "closing the plan")
    plan = _locked(plan)
    if outcome == TaperPlan.Status.COMPLETED:
        allowed = [TaperPlan.Status.ACTIVE]
    elif outcome == TaperPlan.Status.STOPPED:
        allowed = list(TaperPlan.OPEN_STATUSES)
    else:
        raise ValidationError("Choose completed or stopped.")
    plan.closed_at, plan.closed_reason, plan.held_since = timezone.now(), reason, None
    return _transition(plan, actor, outcome, allowed, "This plan is {status}; it cannot be closed that way.")


# --- changing an active plan: past steps stay, the future is recomputed (taper.revisions) ----------------
def _active_for_change(plan: TaperPlan, actor: ActorLike, what: str) -> TaperPlan:
    require_psychiatrist(actor, what)
    plan = _locked(plan)
    if plan.status != TaperPlan.Status.ACTIVE:
        raise ValidationError(
            f"This plan is {plan.get_status_display().lower()}; only an active plan can be changed this way."
        )
    return plan


def _today(today: datetime.date | None) -> datetime.date:
    return today or clinic_today()


@transaction.atomic
def plan_hold(
    *,
    actor: ActorLike,
    plan: TaperPlan,
    from_date: datetime.date,
    days: int | None,
    reason: str,
    today: datetime.date | None = None,
) -> TaperPlan:
    """Pause the taper from `from_date`: for `days` (the schedule moves later by exactly that much) or,
    with no days, until a psychiatrist resumes it."""
    plan = _active_for_change(plan, actor, "hold a taper")
    reason = require_reason(reason, "holding the taper")
    today = _today(today)
    if plan.held_since:
        raise ValidationError(f"The taper is already held since {short_date(plan.held_since)}.")
    low, high = policy().limits.hold_days
    if days is not None and not low <= days <= high:
        raise ValidationError(
            {"days": f"A hold lasts between {low} and {high} days (leave it empty to hold until resumed)."}
        )
    if days is None:
        revise(
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
        running = step_in(plan.current_version, from_date)
        rest = (
            (running.end - from_date).days + 1 if running and running.end and running.start < from_date else 0
        )
        revise(
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
    actor: ActorLike,
    plan: TaperPlan,
    from_date: datetime.date,
    reason: str,
    rate_percent: Decimal | None = None,
    interval_days: int | None = None,
    today: datetime.date | None = None,
) -> TaperPlan:
    """End an open hold: the next reduction starts on `from_date`, from the dose the patient is on."""
    plan = _active_for_change(plan, actor, "resume a taper")
    reason = require_reason(reason, "resuming the taper")
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
    revise(
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
    actor: ActorLike,
    plan: TaperPlan,
    from_date: datetime.date,
    reason: str,
    rate_percent: Decimal,
    interval_days: int,
    today: datetime.date | None = None,
) -> TaperPlan:
    """Change the pace from `from_date` on (slower, usually); earlier steps stay as they were."""
    plan = _active_for_change(plan, actor, "change the pace of a taper")
    reason = require_reason(reason, "changing the pace")
    if plan.held_since:
        raise ValidationError("The taper is held: resume it (you can choose the new pace there).")
    revise(
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


# The plan writes defined here, and names other apps and tests import from here (defined where they belong).
__all__ = [
    "FormKind",
    "PlanInput",
    "PlanRefused",
    "Split",
    "Status",
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
