"""Saving a new version of a plan: its fields, its steps, and the plan pointing at it, audited.

Versions are immutable: every change to a plan (an edit, a hold, a new pace) is a new version with the
person's written reason, in the caller's transaction.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError

from clinic.actors import ActorLike, as_actor
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from taper.engine import Schedule, TaperRequest
from taper.engine_adapter import pace_options
from taper.models import TaperPlan, TaperPlanVersion, TaperStep
from taper.version_fields import input_fields, step_row, summary_fields


def require_reason(reason: str, what: str) -> str:
    """The person's reason, stripped; a field error when there is none."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": f"Say why you are {what}: it is kept with the new version."})
    return reason


def store_version(
    *,
    plan: TaperPlan,
    actor: ActorLike,
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
        created_by=as_actor(actor).user,
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


def save_version(
    *,
    plan: TaperPlan,
    actor: ActorLike,
    change: str,
    reason: str,
    request: TaperRequest,
    schedule: Schedule,
    kept_steps: Sequence[dict[str, Any]] = (),
    effective_from: datetime.date,
    confirmation: str = "",
) -> TaperPlanVersion:
    """A version computed by the engine: `kept_steps` (past steps, copied) followed by the schedule's steps,
    with the pace alternatives stored for the plan page."""
    options = pace_options(request, schedule)
    return store_version(
        plan=plan,
        actor=actor,
        change=change,
        reason=reason,
        effective_from=effective_from,
        fields={
            **input_fields(request, confirmation=confirmation),
            **summary_fields(schedule, confirmation=confirmation, options=options),
        },
        rows=[*kept_steps, *(step_row(s) for s in schedule.steps)],
    )


__all__ = ["require_reason", "save_version", "store_version"]
