"""Between a person's choices and the pure engine: `PlanInput` in, `TaperRequest` and `Schedule` out.

Turns form/API input into a `TaperRequest` (with the clinic's formulary and settings), calls
`taper.engine.build_schedule`, and turns engine errors into field errors: `TaperInputError` becomes a
`ValidationError` on the field that shows it, `TaperCapError` a `PlanRefused` carrying the alternatives
that were tried. Nothing is saved here; the builder's preview and every write use the same `compute`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

from clinic.actors import ActorLike, as_actor
from clinic.tenancy.context import clinic_today
from clinic.tenancy.roles import Perm
from taper import alternatives
from taper.catalogue import EquivalenceTable
from taper.clinic_settings import taper_settings
from taper.dosing import Form
from taper.engine import (
    Administration,
    Hold,
    LiquidUse,
    PriorStep,
    Schedule,
    Strategy,
    TaperCapError,
    TaperInputError,
    TaperRequest,
    as_decimal,
    build_schedule,
)
from taper.formulary import clinic_catalogue
from taper.models import TaperSettings
from taper.policy import policy
from taper.version_fields import option_rows

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
    actor: ActorLike = None,
    expected_table: str | None = None,
    today: datetime.date | None = None,
    prior: tuple[PriorStep, ...] = (),
    first_step_number: int = 1,
) -> tuple[TaperRequest, Schedule]:
    """Validate and compute without saving (the builder's preview uses this too).

    `expected_table` is the table a non-psychiatrist may use (the clinic default unless the plan already
    has one a psychiatrist chose). The schedule may not start before `today` (the clinic's today unless
    given). Steps over the cap raise `PlanRefused` with the alternatives that would avoid them."""
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
    if overriding and actor is not None and not as_actor(actor).allows(Perm.TAPER_APPROVE):
        raise ValidationError({"override_reason": "Only a psychiatrist may override the guideline cap."})
    if (
        actor is not None
        and request.table.value != (expected_table or settings.default_table)
        and not as_actor(actor).allows(Perm.TAPER_APPROVE)
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


__all__ = [
    "PlanInput",
    "PlanRefused",
    "compute",
    "high_dose_confirmation",
    "pace_options",
    "schedule_cap_wording",
]
