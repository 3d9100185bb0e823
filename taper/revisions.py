"""Changing an active plan: past steps stay exactly as they were, the future is recomputed.

`revise` copies the steps before the change date (the one running then cut short), restarts the engine
from the doses in effect that day with the cap carried across the join (`PriorStep`s), and saves the
result as a new version. A cut over the cap that a psychiatrist accepted in the earlier version stays
accepted under the same written reason; any other is refused. An open hold is one open-ended step.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.core.exceptions import ValidationError

from clinic.actors import ActorLike
from taper.dates import long_date, short_date
from taper.engine import CapViolation, Phase, PriorStep, Schedule, TaperRequest, as_decimal
from taper.engine_adapter import PlanInput, PlanRefused, compute
from taper.models import TaperPlan, TaperPlanVersion
from taper.policy import policy
from taper.version_fields import dose_rows, input_fields
from taper.versions import save_version, store_version


def revise(
    *,
    actor: ActorLike,
    plan: TaperPlan,
    change: str,
    reason: str,
    effective_from: datetime.date,
    today: datetime.date,
    open_hold: bool = False,
    **changes: Any,
) -> TaperPlan:
    """Save the plan's new future from `effective_from` (`changes` are `PlanInput` fields, e.g. a new pace);
    with `open_hold`, the dose in effect repeats until a psychiatrist resumes the taper."""
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
    save_version(
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


def _compute_revision(
    version: TaperPlanVersion, data: PlanInput, *, actor: ActorLike, today: datetime.date, kept: list
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


def _hold_row(kept: list[dict[str, Any]], start: datetime.date, schedule: Schedule) -> dict[str, Any]:
    """The open-ended hold step: the doses in effect (the baseline when held from the very first step)."""
    current = kept[-1] if kept else None
    if current is None:
        current = {
            "daily_de_mg": as_decimal(schedule.baseline_de_mg),
            "other_table_de_mg": as_decimal(schedule.baseline_other_de_mg)
            if schedule.baseline_other_de_mg is not None
            else None,
            "doses": dose_rows(schedule.baseline),
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
        **input_fields(request, confirmation=previous.high_dose_confirmation),
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
    store_version(
        plan=plan,
        actor=actor,
        change=TaperPlanVersion.Change.HELD,
        reason=reason,
        effective_from=effective_from,
        fields=fields,
        rows=[*kept, hold_row],
    )


__all__ = ["revise"]
