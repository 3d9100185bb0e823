"""The taper engine: a pure, deterministic function from a TaperRequest to a dated Schedule.

The rules it applies are data (taper/data/taper_rules.json via taper.policy), each with its source; the
engine never decides a dose on its own: it computes a proposal that a psychiatrist approves.

How a schedule is built
-----------------------
* The regimen before `start_date` is the baseline. Step 1 starts on `start_date`; each step runs for its
  interval and the next starts the day after it ends (no gaps). The last step is open-ended (`end` None):
  all doses zero, or the maintenance dose at (or just above) the stated target.
* Plausibility: a baseline above the program's ceiling (200 mg diazepam-equivalent a day) is refused as an
  entry error; intervals, holds and the start date are bounded (`limits`). A baseline in the guideline's
  "high" band (> 15 mg DE, JGIM-2025 Table 2) is marked `high_dose`; the services require a typed
  confirmation before such a plan is saved.
* One form per administration: each dose is given as tablets/capsules or as liquid and is reduced along
  that form's achievable doses only. A move to the liquid is a deliberate step, flagged `to_liquid`: the
  engine makes it only where tablets cannot keep the guideline cap (`liquid=cap`, the default), also where
  they cannot keep the requested pace (`liquid=pace`), or never (`liquid=never`).
* `cross_titrate` (Ashton-style): the non-diazepam doses are replaced by diazepam of equal diazepam
  equivalence, latest time of day first (the night dose first, as in the NHS Scotland example), each switch
  step lasting `substitution_interval_days`. The whole switch is spread over at least `min_switch_days`
  (JGIM-2025 p.18: "over 1-2 weeks rather than 1-2 days"): when there are too few administrations for
  that, each is replaced in portions. Diazepam doses are the nearest achievable to the exact equivalent of
  what has been replaced so far, so the daily equivalent is conserved within that rounding.
* Each reduction aims at `current x (1 - rate)` of the daily DE (`slow_rate` at or below `slow_below_de_mg`),
  or `current - reduction_de_mg` for a fixed step, never below the target. The candidates are the states
  reached by lowering one administration at a time in the chosen order (`one_at_a_time`: earliest
  administration first down to zero, keeping the night dose longest; `largest_first`); the nearest to the
  aim is taken, the gentler one on a tie.
* The guideline cap (JGIM-2025 rec. 6, V: "typically do not exceed 25% every 2 weeks") is an invariant on a
  rolling window: no step may bring the daily DE more than 25% below the DE in effect 14 days before it
  starts (steps before `start_date`, given as `prior`, count too). When the nearest candidate would break
  it although the requested pace respects it, the engine searches, in order: the other candidates (another
  administration, another stocked strength or split); a longer interval before the step, only where that
  alone keeps the cap (flagged `interval_lengthened`); the stocked liquid (`to_liquid`). Exempt, and
  flagged, are only the tail: steps starting at or below the end-of-taper floor (`tail`, default 2 mg DE,
  at most 5 mg, a clinic setting) and the single final step to zero from at most 5 mg DE (`final_step`).
  Any other step over the cap is a violation: the engine raises TaperCapError naming it, unless a
  psychiatrist's override (`override_reason` and `override_steps`) names that very step (`cap_override`).
* Pace: every reduction step carries its actual cut against the requested one; a cut more than half again
  the requested rate is flagged `over_rate` and reported (taper.alternatives says what would keep it).
* Holds repeat the current dose: a hold `at_step=k` delays the k-th step of this request by `days`; a hold
  `on_date=d` delays the first step starting on or after d. Either way the schedule gets exactly `days`
  longer: reductions are chosen on a clock without holds, so a hold never changes what is reduced.

All quantities are Fractions (exact); `as_decimal` formats them for display.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from fractions import Fraction

from clinic import date_bounds
from taper.catalogue import (
    DIAZEPAM,
    Catalogue,
    EquivalenceTable,
    Formulation,
    Status,
    load_catalogue,
)
from taper.dosing import MAX_WHOLE_UNITS, DoseGrid, Form, Preparation
from taper.errors import TaperCapError, TaperInputError
from taper.policy import GuidelineCap, Policy, guideline_cap, policy

__all__ = [
    "Administration",
    "CapViolation",
    "Dispense",
    "Form",
    "GuidelineCap",
    "Hold",
    "LiquidUse",
    "Phase",
    "PlanWarning",
    "PriorStep",
    "ReductionOrder",
    "Schedule",
    "Step",
    "StepDose",
    "Strategy",
    "SwitchComparison",
    "TaperCapError",
    "TaperInputError",
    "TaperRequest",
    "as_decimal",
    "build_schedule",
    "guideline_cap",
]


class Strategy(StrEnum):
    DIRECT = "direct"
    CROSS_TITRATE = "cross_titrate"


class ReductionOrder(StrEnum):
    ONE_AT_A_TIME = "one_at_a_time"
    LARGEST_FIRST = "largest_first"


class LiquidUse(StrEnum):
    CAP = "cap"  # move a dose to the stocked liquid only where tablets cannot keep the guideline cap
    PACE = "pace"  # ... and where tablets cannot keep the requested pace
    NEVER = "never"


class Phase(StrEnum):
    SUBSTITUTION = "substitution"
    REDUCTION = "reduction"
    HOLD = "hold"


@dataclass(frozen=True)
class Administration:
    drug: str
    dose_mg: Fraction | Decimal | int | str
    time_of_day: time
    form: Form | str | None = None  # None: tablets if they make the dose, else the liquid


@dataclass(frozen=True)
class Hold:
    days: int
    at_step: int | None = None
    on_date: date | None = None


@dataclass(frozen=True)
class PriorStep:
    """A dose level in effect before `start_date` (the kept steps of a revised plan), for the cap window."""

    start: date
    daily_de_mg: Fraction


@dataclass(frozen=True)
class TaperRequest:
    regimen: tuple[Administration, ...]
    start_date: date
    rate_percent: Fraction | Decimal | int | str
    interval_days: int
    table: EquivalenceTable = EquivalenceTable.ASHTON
    strategy: Strategy = Strategy.DIRECT
    substitution_interval_days: int | None = None  # defaults to interval_days
    slow_rate_percent: Fraction | Decimal | int | str | None = None
    slow_below_de_mg: Fraction | Decimal | int | str | None = None
    reduction_de_mg: Fraction | Decimal | int | str | None = None  # fixed step instead of a percentage
    holds: tuple[Hold, ...] = ()
    available_formulations: frozenset[str] | None = (
        None  # formulation ids; None = the catalogue's default stock
    )
    target_de_mg: Fraction | Decimal | int | str = 0
    order: ReductionOrder = ReductionOrder.ONE_AT_A_TIME
    cap: GuidelineCap | None = None  # None = the policy's cap
    override_reason: str | None = None
    override_steps: frozenset[int] = frozenset()  # the steps the override accepts over the cap
    liquid: LiquidUse = LiquidUse.CAP
    min_switch_days: int | None = None  # None = the policy's (7)
    tail_floor_de_mg: Fraction | Decimal | int | str | None = None  # None = the policy's default
    tail_floor_confirmed: bool = False  # a clinician of the clinic confirmed the floor
    not_before: date | None = None  # the earliest allowed start (the clinic's today); None = unchecked
    prior: tuple[PriorStep, ...] = ()
    first_step_number: int = 1  # numbering continues the kept steps of a revised plan


@dataclass(frozen=True)
class StepDose:
    drug: str
    time_of_day: time
    mg: Fraction
    de_mg: Fraction
    preparation: Preparation
    form: Form = Form.TABLET


@dataclass(frozen=True)
class Dispense:
    formulation_id: str
    description: str
    tablets: int | None  # whole tablets/capsules to dispense (split pieces rounded up)
    ml: Fraction | None
    unverified: bool


@dataclass(frozen=True)
class CapViolation:
    step: int
    start: date
    from_de_mg: Fraction  # DE in effect cap.per_days before the step
    to_de_mg: Fraction
    max_percent: Fraction
    previous_de_mg: Fraction | None = None  # the dose just before the step
    kind: str = "formulation"  # rate: the requested pace itself | formulation: the doses cannot be cut finer

    @property
    def percent(self) -> Fraction:
        return (self.from_de_mg - self.to_de_mg) / self.from_de_mg * 100

    def describe(self) -> str:
        return (
            f"step {self.step} ({self.start.isoformat()}): {as_decimal(self.from_de_mg)} → "
            f"{as_decimal(self.to_de_mg)} mg DE = {as_decimal(self.percent, 1)}% "
            f"(cap {as_decimal(self.max_percent)}%)"
        )


@dataclass(frozen=True)
class Step:
    index: int
    phase: Phase
    start: date
    end: date | None  # inclusive; None for the open-ended last step
    doses: tuple[StepDose, ...]
    daily_de_mg: Fraction
    window_reduction_percent: Fraction  # vs. the DE in effect cap.per_days before start
    dispense: tuple[Dispense, ...]
    flags: tuple[str, ...] = ()
    step_percent: Fraction = Fraction(0)  # cut vs. the dose just before (negative: a switch rounded up)
    requested_percent: Fraction | None = None  # the cut asked for (reductions only)
    other_table_de_mg: Fraction | None = None  # the same doses on the other equivalence table
    delayed_days: int = 0  # days added before this step to keep the cap (interval_lengthened)

    @property
    def days(self) -> int | None:
        return None if self.end is None else (self.end - self.start).days + 1

    @property
    def daily_mg(self) -> dict[str, Fraction]:
        totals: dict[str, Fraction] = {}
        for d in self.doses:
            totals[d.drug] = totals.get(d.drug, Fraction(0)) + d.mg
        return totals


@dataclass(frozen=True)
class SwitchComparison:
    """A switch to diazepam seen on both equivalence tables (JGIM-2025 prints both and does not choose)."""

    table: EquivalenceTable
    other_table: EquivalenceTable
    baseline_de_mg: Fraction
    baseline_other_de_mg: Fraction
    switched_de_mg: Fraction  # at the end of the switch, on the table used
    other_min_de_mg: Fraction  # on the other table, over the switch steps
    other_max_de_mg: Fraction
    disagreements: tuple[tuple[str, Fraction, Fraction], ...]  # (drug, mg ≈ diazepam 10 on table, on other)

    @property
    def ratio_min(self) -> Fraction:
        return self.other_min_de_mg / self.baseline_other_de_mg

    @property
    def ratio_max(self) -> Fraction:
        return self.other_max_de_mg / self.baseline_other_de_mg


@dataclass(frozen=True)
class PlanWarning:
    """Something a psychiatrist must see before approving. `title`/`detail` are plain language for pages;
    `code`, `rule` and `source` are for the audit trail and the API."""

    code: str
    rule: str
    title: str
    detail: str
    source: str
    steps: tuple[int, ...] = ()


@dataclass(frozen=True)
class Schedule:
    table: EquivalenceTable
    cap: GuidelineCap
    baseline: tuple[StepDose, ...]
    baseline_de_mg: Fraction
    steps: tuple[Step, ...]
    override_reason: str | None
    violations: tuple[CapViolation, ...]  # accepted by the override (or, on a TaperCapError, refused)
    unverified: tuple[str, ...]  # U facts the schedule relies on, for the page to mark
    notes: tuple[str, ...] = field(default=())
    warnings: tuple[PlanWarning, ...] = ()
    high_dose: bool = False
    other_table: EquivalenceTable | None = None
    baseline_other_de_mg: Fraction | None = None
    switch: SwitchComparison | None = None
    tail_floor_de_mg: Fraction = Fraction(2)
    target_de_mg: Fraction = Fraction(0)

    @property
    def end_date(self) -> date:
        """The date the final (open-ended) dose starts: the stop date when tapering to zero."""
        return self.steps[-1].start

    @property
    def final_de_mg(self) -> Fraction:
        return self.steps[-1].daily_de_mg

    @property
    def over_rate_steps(self) -> tuple[int, ...]:
        return tuple(s.index for s in self.steps if "over_rate" in s.flags)


def as_decimal(value: Fraction, places: int = 3) -> Decimal:
    quantum = Decimal(1).scaleb(-places)
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(quantum, rounding=ROUND_HALF_EVEN)


def _mg(value: Fraction) -> str:
    """A dose for a sentence: 2.5, 10, 0.125."""
    return f"{as_decimal(value).normalize():f}"


def _pct(value: Fraction) -> str:
    return f"{as_decimal(value, 1).normalize():f}%"


def _steps_text(steps: list[int] | tuple[int, ...]) -> str:
    numbers = [str(s) for s in steps]
    if len(numbers) == 1:
        return f"Step {numbers[0]}"
    if len(numbers) > 8:
        return f"Steps {', '.join(numbers[:7])} and {len(numbers) - 7} more"
    return f"Steps {', '.join(numbers[:-1])} and {numbers[-1]}"


# --------------------------------------------------------------------------------------------- validation


def _fraction(value, name: str) -> Fraction:
    if isinstance(value, bool):
        raise TaperInputError(name, f"not a number: {value!r}")
    try:
        result = Fraction(str(value)) if not isinstance(value, Fraction) else value
    except (ValueError, ZeroDivisionError):
        raise TaperInputError(name, f"not a number: {value!r}") from None
    return result


def _rate(value, name: str) -> Fraction:
    rate = _fraction(value, name)
    if rate <= 0 or rate > 100:
        raise TaperInputError(name, f"must be more than 0% and at most 100%, got {value}%")
    return rate


def _days(value, name: str, bounds: tuple[int, int] | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TaperInputError(name, f"must be a whole number of days ≥ 1, got {value!r}")
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise TaperInputError(name, f"must be between {bounds[0]} and {bounds[1]} days, got {value}")
    return value


@dataclass
class _Slot:
    drug: str
    time_of_day: time
    mg: Fraction
    form: Form


def _copy(slots: list[_Slot]) -> list[_Slot]:
    return [_Slot(s.drug, s.time_of_day, s.mg, s.form) for s in slots]


class _Plan:
    """Validated inputs plus the lookups the builder needs."""

    def __init__(self, req: TaperRequest, catalogue: Catalogue, rules: Policy):
        self.req = req
        self.catalogue = catalogue
        self.rules = rules
        limits = rules.limits
        if not isinstance(req.table, EquivalenceTable):
            raise TaperInputError("table", f"unknown equivalence table {req.table!r}")
        self.table = req.table
        self.other_table = next(t for t in EquivalenceTable if t != req.table)
        if not isinstance(req.strategy, Strategy):
            raise TaperInputError("strategy", f"unknown strategy {req.strategy!r}")
        if not isinstance(req.order, ReductionOrder):
            raise TaperInputError("order", f"unknown reduction order {req.order!r}")
        if not isinstance(req.liquid, LiquidUse):
            raise TaperInputError("liquid", f"unknown choice for the oral liquid {req.liquid!r}")
        if not isinstance(req.start_date, date):
            raise TaperInputError("start_date", "must be a date")
        if req.not_before is not None:
            if req.start_date < req.not_before:
                raise TaperInputError(
                    "start_date", f"must not be in the past (today is {req.not_before:%a %d %b %Y})"
                )
            latest = req.not_before + timedelta(days=limits.start_within_days)
            if req.start_date > latest:
                raise TaperInputError(
                    "start_date",
                    f"must be within {limits.start_within_days} days from today (by {latest:%d %b %Y}); "
                    "a schedule built further ahead is out of date before it starts",
                )
        # The plausible range (clinic.date_bounds), also without `not_before` (a revision re-read): year 1 or
        # 9999 overflowed the date arithmetic below (OverflowError, a 500 from the API).
        out_of_range = date_bounds.CLINICAL.refusal(req.start_date, req.not_before or date.today())
        if out_of_range:
            raise TaperInputError("start_date", out_of_range)
        if not req.regimen:
            raise TaperInputError("regimen", "must list at least one administration")
        self.rate = _rate(req.rate_percent, "rate_percent")
        self.interval = _days(req.interval_days, "interval_days", limits.interval_days)
        self.sub_interval = (
            self.interval
            if req.substitution_interval_days is None
            else _days(
                req.substitution_interval_days,
                "substitution_interval_days",
                limits.substitution_interval_days,
            )
        )
        self.min_switch_days = (
            rules.switch.min_switch_days if req.min_switch_days is None else req.min_switch_days
        )
        if isinstance(self.min_switch_days, bool) or not isinstance(self.min_switch_days, int):
            raise TaperInputError("min_switch_days", "must be a whole number of days")
        if not 0 <= self.min_switch_days <= 56:
            raise TaperInputError("min_switch_days", "must be between 0 and 56 days")
        self.slow_rate = None
        self.slow_below = None
        if (req.slow_rate_percent is None) != (req.slow_below_de_mg is None):
            raise TaperInputError(
                "slow_rate_percent", "give both the slower rate and the dose below which it applies"
            )
        if req.slow_rate_percent is not None:
            self.slow_rate = _rate(req.slow_rate_percent, "slow_rate_percent")
            self.slow_below = _fraction(req.slow_below_de_mg, "slow_below_de_mg")
            if self.slow_below <= 0:
                raise TaperInputError("slow_below_de_mg", "must be more than 0 mg")
        self.fixed = None
        if req.reduction_de_mg is not None:
            self.fixed = _fraction(req.reduction_de_mg, "reduction_de_mg")
            if self.fixed <= 0:
                raise TaperInputError("reduction_de_mg", "must be more than 0 mg")
        self.cap = req.cap or rules.cap
        self.cap_fraction = self.cap.max_reduction_percent / 100
        self.override_reason = (req.override_reason or "").strip() or None
        self.override_steps = frozenset(req.override_steps or ())
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in self.override_steps):
            raise TaperInputError("override_steps", "must be step numbers ≥ 1")
        if self.override_steps and not self.override_reason:
            raise TaperInputError("override_reason", "give the reason for accepting these steps over the cap")
        tail = rules.tail
        self.tail_floor = (
            tail.floor_de_mg
            if req.tail_floor_de_mg is None
            else _fraction(req.tail_floor_de_mg, "tail_floor_de_mg")
        )
        if not 0 <= self.tail_floor <= tail.max_floor_de_mg:
            raise TaperInputError(
                "tail_floor_de_mg",
                f"must be between 0 and {_mg(tail.max_floor_de_mg)} mg diazepam-equivalent",
            )
        self.final_step_max = tail.final_step_max_de_mg

        slots: list[_Slot] = []
        seen = set()
        for i, adm in enumerate(req.regimen):
            drug = self._drug(adm.drug, f"regimen[{i}].drug")
            mg = _fraction(adm.dose_mg, f"regimen[{i}].dose_mg")
            if mg <= 0:
                raise TaperInputError(f"regimen[{i}].dose_mg", f"must be more than 0 mg, got {adm.dose_mg}")
            if not isinstance(adm.time_of_day, time):
                raise TaperInputError(f"regimen[{i}].time_of_day", "must be a time of day")
            if (drug, adm.time_of_day) in seen:
                raise TaperInputError(f"regimen[{i}]", f"{drug} at {adm.time_of_day} is listed twice")
            seen.add((drug, adm.time_of_day))
            self.catalogue.drug(drug).de_per_mg(self.table)  # raises if the table lacks the drug
            slots.append(_Slot(drug, adm.time_of_day, mg, Form.TABLET))
        self.baseline_de = sum((self.de(s.drug, s.mg) for s in slots), Fraction(0))
        ceiling = rules.plausibility.max_daily_de_mg
        if self.baseline_de > ceiling:
            raise TaperInputError(
                "regimen",
                f"{_mg(self.baseline_de)} mg diazepam-equivalent a day is above the {_mg(ceiling)} mg this "
                "program accepts: check the dose and units (mg, not micrograms) and the number of zeros. "
                "A patient who truly takes more needs medically managed (inpatient) withdrawal",
            )

        self.target = _fraction(req.target_de_mg, "target_de_mg")
        if self.target < 0:
            raise TaperInputError("target_de_mg", "must not be negative")
        if self.target >= self.baseline_de:
            raise TaperInputError("target_de_mg", "must be below the current daily diazepam-equivalent dose")

        drugs = {s.drug for s in slots}
        if req.strategy == Strategy.CROSS_TITRATE:
            drugs.add(DIAZEPAM)
        self.formulations = self._formulations(drugs)
        self.grids: dict[str, DoseGrid] = {}
        for drug in drugs:
            limit = max([s.mg for s in slots if s.drug == drug], default=Fraction(0))
            if drug == DIAZEPAM and req.strategy == Strategy.CROSS_TITRATE:
                limit = max(limit, self.baseline_de + 10)
            self.grids[drug] = DoseGrid(self.formulations[drug], limit, catalogue.liquid_measure_step_ml)
        for i, (adm, slot) in enumerate(zip(req.regimen, slots, strict=True)):
            grid = self.grids[slot.drug]
            if adm.form is not None:
                try:
                    form = Form(adm.form)
                except ValueError:
                    raise TaperInputError(f"regimen[{i}].form", f"unknown form {adm.form!r}") from None
                if not grid.contains(slot.mg, form):
                    raise TaperInputError(
                        f"regimen[{i}].dose_mg",
                        f"{_mg(slot.mg)} mg {slot.drug} cannot be given as {form.value} with the stocked "
                        f"formulations ({self._stocked(slot.drug)})",
                    )
            else:
                form = grid.natural_form(slot.mg)
                if form is None:
                    raise TaperInputError(
                        f"regimen[{i}].dose_mg",
                        f"{_mg(slot.mg)} mg {slot.drug} cannot be made from the stocked formulations "
                        f"({self._stocked(slot.drug)})",
                    )
            slot.form = form
        self.baseline = sorted(slots, key=lambda s: (s.time_of_day, s.drug))
        self.holds = self._holds(req.holds)
        self.prior = tuple(sorted(req.prior, key=lambda p: p.start))
        if any(p.start >= req.start_date for p in self.prior):
            raise TaperInputError("prior", "earlier steps must start before the start date")
        if req.first_step_number < 1:
            raise TaperInputError("first_step_number", "must be ≥ 1")

    def _stocked(self, drug: str) -> str:
        return ", ".join(f.describe() for f in self.formulations[drug])

    def _drug(self, name, fieldname: str) -> str:
        try:
            return self.catalogue.drug(name).name
        except TaperInputError as exc:
            raise TaperInputError(fieldname, exc.message) from None

    def _formulations(self, drugs: set[str]) -> dict[str, list[Formulation]]:
        if self.req.available_formulations is None:
            stock = self.catalogue.default_stock()
            chosen = [f for d in drugs for f in self.catalogue.drug(d).formulations if f.id in stock]
        else:
            chosen = [self.catalogue.formulation(fid) for fid in sorted(self.req.available_formulations)]
        by_drug: dict[str, list[Formulation]] = {d: [] for d in drugs}
        for form in chosen:
            if form.drug in by_drug:
                by_drug[form.drug].append(form)
        for drug, forms in sorted(by_drug.items()):
            if not forms:
                raise TaperInputError("available_formulations", f"no stocked formulation of {drug}")
        return by_drug

    def _holds(self, holds) -> tuple[Hold, ...]:
        for i, hold in enumerate(holds):
            name = f"holds[{i}]"
            _days(hold.days, f"{name}.days", self.rules.limits.hold_days)
            if (hold.at_step is None) == (hold.on_date is None):
                raise TaperInputError(name, "give exactly one of at_step or on_date")
            if hold.at_step is not None and (isinstance(hold.at_step, bool) or hold.at_step < 1):
                raise TaperInputError(f"{name}.at_step", "must be a step number ≥ 1")
            if hold.on_date is not None and hold.on_date < self.req.start_date:
                raise TaperInputError(f"{name}.on_date", "must not be before the start date")
        return tuple(holds)

    def de(self, drug: str, mg: Fraction) -> Fraction:
        return mg * self.catalogue.drug(drug).de_per_mg(self.table)

    def other_de(self, drug: str, mg: Fraction) -> Fraction | None:
        if self.catalogue.drug(drug).equivalence(self.other_table).mg is None:
            return None
        return mg * self.catalogue.drug(drug).de_per_mg(self.other_table)

    def total(self, slots: list[_Slot]) -> Fraction:
        return sum((self.de(s.drug, s.mg) for s in slots), Fraction(0))

    def liquid_allowed(self, drug: str) -> bool:
        return self.req.liquid != LiquidUse.NEVER and self.grids[drug].has(Form.LIQUID)


# ----------------------------------------------------------------------------------------------- building


@dataclass
class _Draft:
    phase: Phase
    start: date
    days: int
    slots: list[_Slot]
    base_start: date  # the start without holds: reductions are chosen on this clock so holds only delay
    flags: set[str] = field(default_factory=set)
    requested: Fraction | None = None
    violation: str | None = None  # rate | formulation
    delayed: int = 0


@dataclass
class _Choice:
    slots: list[_Slot]
    total: Fraction
    flags: set[str]
    requested: Fraction
    violation: str | None = None
    delay: int = 0


def _nearest(cands: list[tuple[list[_Slot], Fraction]], aim: Fraction) -> tuple[list[_Slot], Fraction] | None:
    if not cands:
        return None
    return min(cands, key=lambda c: (abs(c[1] - aim), -c[1]))


class _Builder:
    def __init__(self, plan: _Plan):
        self.plan = plan
        self.slots = _copy(plan.baseline)
        self.drafts: list[_Draft] = []
        self.day = plan.req.start_date
        self.base_day = plan.req.start_date
        # Dose levels on the clock without holds: (start, daily DE), for the cap window.
        self.levels: list[tuple[date, Fraction]] = [(p.start, p.daily_de_mg) for p in plan.prior]

    # --- the cap window ------------------------------------------------------------------------------
    def de_at(self, on: date) -> Fraction:
        """The daily DE in effect on `on` (clock without holds); the baseline before the first level."""
        for start, de in reversed(self.levels):
            if start <= on:
                return de
        return self.plan.baseline_de

    def floor_at(self, start: date) -> Fraction:
        return (1 - self.plan.cap_fraction) * self.de_at(start - timedelta(days=self.plan.cap.per_days))

    # --- candidate states ------------------------------------------------------------------------------
    def _decrement(self, slots: list[_Slot]) -> list[_Slot] | None:
        """Lower one administration (chosen by the order) to its next lower dose in its form."""
        plan = self.plan
        live = [i for i, s in enumerate(slots) if s.mg > 0]
        if not live:
            return None
        if plan.req.order == ReductionOrder.ONE_AT_A_TIME:
            i = live[0]
        else:
            i = max(live, key=lambda j: (plan.de(slots[j].drug, slots[j].mg), -j))
        lower = plan.grids[slots[i].drug].next_lower(slots[i].mg, slots[i].form)
        if lower is None:  # cannot happen: 0 is on every stocked form's grid
            return None
        new = _copy(slots)
        new[i].mg = lower
        return new

    def _chain(self, slots: list[_Slot], aim: Fraction) -> list[tuple[list[_Slot], Fraction]]:
        """States reached by repeated decrements, down to the first at or below the aim (not below target)."""
        plan = self.plan
        chain = []
        state = slots
        while True:
            state = self._decrement(state)
            if state is None:
                break
            total = plan.total(state)
            if total < plan.target:
                break
            chain.append((state, total))
            if total <= aim:
                break
        return chain

    def _moves(self, slots: list[_Slot]) -> list[tuple[list[_Slot], Fraction]]:
        """Every single-administration move: each dose lowered by one grid step, and, for a maintenance
        target, each dose lowered to exactly the value that reaches the target."""
        plan = self.plan
        out = []
        current = plan.total(slots)
        for i, slot in enumerate(slots):
            if slot.mg <= 0:
                continue
            grid = plan.grids[slot.drug]
            values = [grid.next_lower(slot.mg, slot.form)]
            if plan.target > 0:
                per_mg = plan.catalogue.drug(slot.drug).de_per_mg(plan.table)
                exact = slot.mg - (current - plan.target) / per_mg
                if 0 <= exact < slot.mg and grid.contains(exact, slot.form):
                    values.append(exact)
            for value in values:
                if value is None:
                    continue
                new = _copy(slots)
                new[i].mg = value
                total = plan.total(new)
                if total >= plan.target:
                    out.append((new, total))
        return out

    def _liquid_moves(self, slots: list[_Slot]) -> list[tuple[list[_Slot], Fraction]]:
        """Each tablet dose moved to the stocked liquid at every lower liquid dose (a change of form)."""
        plan = self.plan
        out = []
        for i, slot in enumerate(slots):
            if slot.mg <= 0 or slot.form != Form.TABLET or not plan.liquid_allowed(slot.drug):
                continue
            for value in plan.grids[slot.drug].below(slot.mg, Form.LIQUID):
                if value == 0:  # stopping a dose is not a change of form
                    break
                new = _copy(slots)
                new[i].mg, new[i].form = value, Form.LIQUID
                total = plan.total(new)
                if total < plan.target:
                    break
                out.append((new, total))
        return out

    # --- one reduction ------------------------------------------------------------------------------
    def next_reduction(self) -> _Choice | None:
        plan = self.plan
        slots = self.slots
        cur = plan.total(slots)
        if cur <= plan.target:
            return None
        if plan.fixed is not None:
            aim = cur - plan.fixed
            requested = min(Fraction(100), plan.fixed / cur * 100)
        else:
            rate = plan.slow_rate if plan.slow_rate is not None and cur <= plan.slow_below else plan.rate
            aim = cur * (1 - rate / 100)
            requested = rate
        aim = max(aim, plan.target)
        chain = self._chain(slots, aim)
        moves = self._moves(slots)
        if not chain and not moves:
            return None
        floor = self.floor_at(self.base_day)
        tail = cur <= plan.tail_floor

        def exempt(total: Fraction) -> set[str] | None:
            """The flags under which `total` may go below the floor, or None if it may not."""
            if tail:
                return {"tail"}
            if total == 0 and cur <= plan.final_step_max:
                return {"final_step"}
            return None

        def valid(cands, at_floor: Fraction):
            return [c for c in cands if c[1] >= at_floor or exempt(c[1]) is not None]

        def choice(cand, flags=(), violation=None, delay=0) -> _Choice:
            state, total = cand
            extra = set(flags)
            if total < self.floor_at(self.base_day + timedelta(days=delay)):
                extra |= exempt(total) or set()
            return _Choice(state, total, extra, requested, violation, delay)

        if self._pace_breaks_cap(cur, requested) and not tail:
            # The requested pace itself breaks the cap: a psychiatrist's override, or a slower pace.
            pick = _nearest(chain or moves, aim)
            return choice(pick, violation=None if pick[1] >= floor or exempt(pick[1]) else "rate")

        pick = _nearest(valid(chain, floor), aim) or _nearest(valid(moves, floor), aim)
        if pick is not None:
            made = choice(pick)
            if plan.req.liquid == LiquidUse.PACE and self._over_rate(cur, made.total, requested):
                kept = [c for c in valid(self._liquid_moves(slots), floor)
                        if not self._over_rate(cur, c[1], requested)]  # fmt: skip
                if kept:
                    return choice(_nearest(kept, aim), flags={"to_liquid"})
            return made
        delayed = self._delayed(chain + moves, aim, requested)
        if delayed is not None:
            return delayed
        liquid = _nearest(valid(self._liquid_moves(slots), floor), aim)
        if liquid is not None:
            return choice(liquid, flags={"to_liquid"})
        # Nothing keeps the cap: the gentlest cut, refused unless a psychiatrist accepts this step; it
        # waits until the window holds only this cut, so no earlier cut adds to it.
        gentlest = max(chain or moves, key=lambda c: c[1])
        made = choice(gentlest, violation="formulation")
        since = next((start for start, _ in reversed(self.levels)), None)
        if since is not None and self.drafts:
            wait = self.plan.cap.per_days - (self.base_day - since).days
            if wait > 0:
                made.delay, made.flags = wait, made.flags | {"interval_lengthened"}
        return made

    def _pace_breaks_cap(self, cur: Fraction, requested: Fraction) -> bool:
        """Whether the requested pace, exactly as asked (no rounding), cuts more than the cap in a window:
        with steps every `interval` days, ceil(per_days / interval) cuts fall in one window."""
        plan = self.plan
        cuts = max(1, math.ceil(Fraction(plan.cap.per_days, plan.interval)))
        if plan.fixed is not None:
            remaining = cur - cuts * plan.fixed
            before = cur
        else:
            remaining = (1 - requested / 100) ** cuts
            before = Fraction(1)
        return remaining < (1 - plan.cap_fraction) * before

    def _over_rate(self, cur: Fraction, total: Fraction, requested: Fraction) -> bool:
        if total == 0 or cur <= self.plan.tail_floor:
            # The stop and the tail are the end-of-taper exemption's business, reported as such.
            return False
        return (cur - total) / cur * 100 > requested * self.plan.rules.pace.over_rate_factor

    def _delayed(self, cands, aim: Fraction, requested: Fraction) -> _Choice | None:
        """The shortest lengthening of the previous step after which a candidate keeps the cap."""
        if not self.drafts:
            return None
        per_days = self.plan.cap.per_days
        window_start = self.base_day - timedelta(days=per_days)
        for start, _ in self.levels:
            if not window_start < start <= self.base_day:
                continue
            delay = (start - window_start).days
            floor = self.floor_at(self.base_day + timedelta(days=delay))
            ok = [c for c in cands if c[1] >= floor]
            if ok:
                state, total = _nearest(ok, aim)
                return _Choice(state, total, {"interval_lengthened"}, requested, None, delay)
        return None

    # --- the switch to diazepam --------------------------------------------------------------------
    def switch_stages(self) -> list[tuple[list[_Slot], set[str]]]:
        """The regimens of the switch steps: the latest non-diazepam dose first, in portions when the
        administrations alone would not spread the switch over `min_switch_days`."""
        plan = self.plan
        if plan.req.strategy != Strategy.CROSS_TITRATE:
            return []
        slots = _copy(self.slots)
        movers = sorted(
            (s for s in slots if s.drug != DIAZEPAM and s.mg > 0),
            key=lambda s: (s.time_of_day, s.drug),
            reverse=True,
        )
        if not movers:
            return []
        # (n·k - 1) switch steps lie between the first and the last change: at least min_switch_days.
        portions = max(1, math.ceil((Fraction(plan.min_switch_days, plan.sub_interval) + 1) / len(movers)))
        diazepam = plan.grids[DIAZEPAM]
        diazepam_form = Form.TABLET if diazepam.has(Form.TABLET) else Form.LIQUID
        stages: list[tuple[list[_Slot], set[str]]] = []
        for mover in movers:
            start_mg = mover.mg
            grid = plan.grids[mover.drug]
            existing = next(
                (s for s in slots if s.drug == DIAZEPAM and s.time_of_day == mover.time_of_day), None
            )
            existing_mg = existing.mg if existing else Fraction(0)
            remaining: list[Fraction] = []
            previous = start_mg
            for j in range(1, portions):
                options = [v for v in grid.below(previous, mover.form) if v > 0]
                if not options:
                    break
                value = min(options, key=lambda v: (abs(v - start_mg * (portions - j) / portions), v))
                remaining.append(value)
                previous = value
            remaining.append(Fraction(0))
            flags = {"switch_undivided"} if len(remaining) < portions else set()
            for value in remaining:
                wanted = existing_mg + plan.de(mover.drug, start_mg - value)
                form = existing.form if existing else diazepam_form
                if wanted > diazepam.largest(form):
                    raise TaperInputError(
                        "available_formulations",
                        f"{_mg(wanted)} mg diazepam per dose cannot be made with the stocked diazepam "
                        f"formulations (at most {MAX_WHOLE_UNITS} tablets per dose); stock a larger strength",
                    )
                mg = diazepam.nearest(wanted, form)
                mover.mg = value
                if existing is None:
                    existing = _Slot(DIAZEPAM, mover.time_of_day, mg, diazepam_form)
                    slots.append(existing)
                else:
                    existing.mg = mg
                current = sorted(
                    (s for s in slots if s.mg > 0 or s.drug == DIAZEPAM),
                    key=lambda s: (s.time_of_day, s.drug),
                )
                # A switch conserves the daily dose: off by more than the cap is no longer a switch.
                drift = abs(plan.total(current) - plan.baseline_de)
                if drift > plan.cap_fraction * plan.baseline_de:
                    raise TaperInputError(
                        "available_formulations",
                        f"the stocked diazepam formulations cannot make a dose close to {_mg(wanted)} mg "
                        f"(nearest {_mg(mg)} mg) for the switch; stock a smaller diazepam strength or the "
                        "oral liquid, or taper directly",
                    )
                stages.append((_copy(current), set(flags)))
            slots = [s for s in slots if s is not mover]
        return stages

    # --- the loop ----------------------------------------------------------------------------------
    def run(self) -> None:
        plan = self.plan
        limits = plan.rules.limits
        stages = self.switch_stages()
        applied: set[int] = set()
        transition = 0
        latest = plan.req.start_date + timedelta(days=365 * limits.max_years)
        while True:
            choice = None
            if transition < len(stages):
                slots, flags = stages[transition]
            else:
                choice = self.next_reduction()
                if choice is None:
                    break
            transition += 1
            if len(self.drafts) >= limits.max_steps or self.day > latest:
                raise TaperInputError(
                    "rate_percent",
                    f"this taper would need more than {limits.max_steps} steps or {limits.max_years} years; "
                    "check the rate and the interval",
                )
            if choice is not None and choice.delay:
                self.drafts[-1].days += choice.delay
                self.day += timedelta(days=choice.delay)
                self.base_day += timedelta(days=choice.delay)
            for i, hold in enumerate(plan.holds):
                due = hold.at_step == transition or (hold.on_date is not None and hold.on_date <= self.day)
                if i not in applied and due:
                    applied.add(i)
                    self.drafts.append(
                        _Draft(Phase.HOLD, self.day, hold.days, _copy(self.slots), self.base_day)
                    )
                    self.day += timedelta(days=hold.days)
            if choice is None:
                self.slots = _copy(slots)
                draft = _Draft(
                    Phase.SUBSTITUTION, self.day, plan.sub_interval, _copy(slots), self.base_day, flags
                )
            else:
                self.slots = choice.slots
                draft = _Draft(
                    Phase.REDUCTION,
                    self.day,
                    plan.interval,
                    _copy(choice.slots),
                    self.base_day,
                    set(choice.flags),
                    choice.requested,
                    choice.violation,
                    choice.delay,
                )
            self.drafts.append(draft)
            self.levels.append((self.base_day, plan.total(draft.slots)))
            self.day += timedelta(days=draft.days)
            self.base_day += timedelta(days=draft.days)
        missed = [i for i in range(len(plan.holds)) if i not in applied]
        if missed:
            raise TaperInputError(f"holds[{missed[0]}]", "falls after the last step of the taper")
        if not self.drafts:
            # Only reachable with a target above zero: every achievable lower dose is below the target.
            raise TaperInputError(
                "target_de_mg",
                f"no achievable dose between the current {_mg(plan.baseline_de)} mg and the target "
                f"{_mg(plan.target)} mg diazepam-equivalent with the stocked formulations",
            )


# ------------------------------------------------------------------------------------------------ output


def _doses(plan: _Plan, slots: list[_Slot]) -> tuple[StepDose, ...]:
    return tuple(
        StepDose(
            s.drug,
            s.time_of_day,
            s.mg,
            plan.de(s.drug, s.mg),
            plan.grids[s.drug].preparation(s.mg, s.form),
            s.form,
        )
        for s in slots
    )


def _dispense(plan: _Plan, doses: tuple[StepDose, ...], days: int) -> tuple[Dispense, ...]:
    tablets: dict[str, Fraction] = {}
    ml: dict[str, Fraction] = {}
    for dose in doses:
        for fid, count in dose.preparation.tablets:
            tablets[fid] = tablets.get(fid, Fraction(0)) + count * days
        if dose.preparation.liquid:
            fid, vol = dose.preparation.liquid
            ml[fid] = ml.get(fid, Fraction(0)) + vol * days
    lines = []
    for fid in sorted(tablets):
        form = plan.catalogue.formulation(fid)
        lines.append(Dispense(fid, form.describe(), math.ceil(tablets[fid]), None, form.unverified))
    for fid in sorted(ml):
        form = plan.catalogue.formulation(fid)
        lines.append(Dispense(fid, form.describe(), None, ml[fid], form.unverified))
    return tuple(lines)


def _other_total(plan: _Plan, slots: list[_Slot]) -> Fraction | None:
    values = [plan.other_de(s.drug, s.mg) for s in slots]
    return None if any(v is None for v in values) else sum(values, Fraction(0))


def build_schedule(req: TaperRequest, catalogue: Catalogue | None = None) -> Schedule:
    """Build the dated schedule for `req`.

    Raises TaperInputError for bad input and TaperCapError for steps over the cap that no override names
    (the error carries the schedule as it would be, with those steps flagged `over_cap`).
    """
    rules = policy()
    plan = _Plan(req, catalogue or load_catalogue(), rules)
    builder = _Builder(plan)
    builder.run()
    drafts = builder.drafts
    first = req.first_step_number
    cap_fraction = plan.cap_fraction

    steps: list[Step] = []
    accepted: list[CapViolation] = []
    refused: list[CapViolation] = []
    previous_de = plan.baseline_de
    unverified: set[str] = set()
    totals = [plan.total(d.slots) for d in drafts]
    # The cap window on the real calendar (with holds): the DE in effect cap.per_days before each start.
    levels = [(p.start, p.daily_de_mg) for p in plan.prior]

    def in_effect(on: date) -> Fraction:
        for start, de in reversed(levels):
            if start <= on:
                return de
        return plan.baseline_de

    for n, d in enumerate(drafts):
        number = first + n
        last = n == len(drafts) - 1
        total = totals[n]
        ref = in_effect(d.start - timedelta(days=plan.cap.per_days))
        window_pct = (ref - total) / ref * 100 if ref else Fraction(0)
        step_pct = (previous_de - total) / previous_de * 100 if previous_de else Fraction(0)
        flags = set(d.flags)
        if total > previous_de:
            flags.add("substitution_rounded_up")
        paced = d.phase == Phase.REDUCTION and total > 0 and d.requested is not None
        if paced and previous_de > plan.tail_floor and step_pct > d.requested * rules.pace.over_rate_factor:
            flags.add("over_rate")
        over = total < previous_de and total < (1 - cap_fraction) * ref
        violation = (d.violation or "window") if over and not flags & {"tail", "final_step"} else None
        if violation:
            record = CapViolation(
                number, d.start, ref, total, plan.cap.max_reduction_percent, previous_de, violation
            )
            if plan.override_reason and number in plan.override_steps:
                accepted.append(record)
                flags.add("cap_override")
            else:
                refused.append(record)
                flags.add("over_cap")
        if not over:
            flags -= {"tail", "final_step"}  # the exemption was not needed on the real calendar
        doses = _doses(plan, d.slots)
        for dose in doses:
            unverified.update(_unverified_facts(plan, dose.preparation))
        days = plan.interval if last else d.days
        steps.append(
            Step(
                index=number,
                phase=d.phase,
                start=d.start,
                end=None if last else d.start + timedelta(days=d.days - 1),
                doses=doses,
                daily_de_mg=total,
                window_reduction_percent=window_pct,
                dispense=_dispense(plan, doses, days),
                flags=tuple(sorted(flags)),
                step_percent=step_pct,
                requested_percent=d.requested,
                other_table_de_mg=_other_total(plan, d.slots),
                delayed_days=d.delayed,
            )
        )
        if d.phase != Phase.HOLD:
            levels.append((d.start, total))
        previous_de = total

    drugs = {s.drug for s in plan.baseline} | (
        {DIAZEPAM} if req.strategy == Strategy.CROSS_TITRATE else set()
    )
    for drug in drugs:
        eq = plan.catalogue.drug(drug).equivalence(plan.table)
        if eq.status == Status.UNVERIFIED:
            unverified.add(f"{drug} equivalence in {plan.table.label} (U)")
    if plan.catalogue.liquid_measure_step_status == Status.UNVERIFIED and any(
        dose.preparation.liquid for s in steps for dose in s.doses
    ):
        unverified.add(f"liquid measuring step {as_decimal(plan.catalogue.liquid_measure_step_ml, 2)} mL (U)")
    exempted = [s.index for s in steps if {"tail", "final_step"} & set(s.flags)]
    if exempted and not req.tail_floor_confirmed:
        unverified.add(
            f"end-of-taper floor of {_mg(plan.tail_floor)} mg diazepam-equivalent: program policy, "
            "not yet confirmed by a clinician of this clinic (U)"
        )
    baseline = _doses(plan, plan.baseline)
    baseline_other = _other_total(plan, plan.baseline)
    switch = _switch_comparison(plan, steps, baseline_other)
    notes = []
    final = steps[-1].daily_de_mg
    if final > 0:
        if final == plan.target:
            notes.append(
                f"The last step is a maintenance dose of {_mg(final)} mg diazepam-equivalent a day, the "
                "stated target; dispense shown per interval."
            )
        else:
            notes.append(
                f"The last step is a maintenance dose of {_mg(final)} mg diazepam-equivalent a day: the "
                f"nearest the stocked formulations make at or above the {_mg(plan.target)} mg target; "
                "dispense shown per interval."
            )
    schedule = Schedule(
        table=plan.table,
        cap=plan.cap,
        baseline=baseline,
        baseline_de_mg=plan.baseline_de,
        steps=tuple(steps),
        override_reason=plan.override_reason,
        violations=tuple(refused or accepted),
        unverified=tuple(sorted(unverified)),
        notes=tuple(notes),
        high_dose=plan.baseline_de > rules.plausibility.high_above_de_mg,
        other_table=plan.other_table if baseline_other is not None else None,
        baseline_other_de_mg=baseline_other,
        switch=switch,
        tail_floor_de_mg=plan.tail_floor,
        target_de_mg=plan.target,
    )
    schedule = _with_warnings(plan, schedule, accepted, refused)
    if refused:
        raise TaperCapError(refused, schedule=schedule)
    return schedule


def _switch_comparison(
    plan: _Plan, steps: list[Step], baseline_other: Fraction | None
) -> SwitchComparison | None:
    switch_steps = [s for s in steps if s.phase == Phase.SUBSTITUTION]
    if not switch_steps or baseline_other is None or not baseline_other:
        return None
    others = [s.other_table_de_mg for s in switch_steps if s.other_table_de_mg is not None]
    if len(others) != len(switch_steps):
        return None
    disagreements = []
    for drug in sorted({s.drug for s in plan.baseline} | {DIAZEPAM}):
        mine = plan.catalogue.drug(drug).equivalence(plan.table).mg
        theirs = plan.catalogue.drug(drug).equivalence(plan.other_table).mg
        if mine is not None and theirs is not None and mine != theirs:
            disagreements.append((drug, mine, theirs))
    return SwitchComparison(
        table=plan.table,
        other_table=plan.other_table,
        baseline_de_mg=plan.baseline_de,
        baseline_other_de_mg=baseline_other,
        switched_de_mg=switch_steps[-1].daily_de_mg,
        other_min_de_mg=min(others),
        other_max_de_mg=max(others),
        disagreements=tuple(disagreements),
    )


def _with_warnings(
    plan: _Plan, schedule: Schedule, accepted: list[CapViolation], refused: list[CapViolation]
) -> Schedule:
    """The plain-language warnings a psychiatrist sees above the approve button, each with rule and source."""
    rules = plan.rules
    cap_words = f"at most {_pct(plan.cap.max_reduction_percent)} every {plan.cap.per_days} days"
    out: list[PlanWarning] = []
    if schedule.high_dose:
        out.append(
            PlanWarning(
                "high_dose",
                rules.plausibility.high_rule,
                "High dose",
                f"The starting dose is {_mg(schedule.baseline_de_mg)} mg diazepam-equivalent a day on "
                f"{schedule.table.label}, in the guideline's high band (more than "
                f"{_mg(rules.plausibility.high_above_de_mg)} mg). Withdrawal risk rises with dose.",
                rules.plausibility.high_source,
            )
        )
    for label, records, title in (
        ("cap_override", accepted, "Steps over the guideline cap, accepted by a psychiatrist"),
        ("over_cap", refused, "Steps over the guideline cap"),
    ):
        if records:
            detail = "; ".join(
                f"step {v.step}: {_mg(v.from_de_mg)} → {_mg(v.to_de_mg)} mg ({_pct(v.percent)} in "
                f"{plan.cap.per_days} days)"
                for v in records
            )
            reason = f" Reason given: {plan.override_reason}" if label == "cap_override" else ""
            out.append(
                PlanWarning(
                    label,
                    plan.cap.rule,
                    title,
                    f"The guideline allows {cap_words}. {detail}.{reason}",
                    plan.cap.source,
                    tuple(v.step for v in records),
                )
            )
    over_rate = [s for s in schedule.steps if "over_rate" in s.flags]
    if over_rate:
        cuts = [s.step_percent for s in over_rate]
        requested = {s.requested_percent for s in over_rate}
        asked = _pct(next(iter(requested))) if len(requested) == 1 else "the requested rate"
        out.append(
            PlanWarning(
                "over_rate",
                rules.pace.rule,
                "Cuts larger than the requested pace",
                f"{_steps_text([s.index for s in over_rate])} cut {_pct(min(cuts))}–{_pct(max(cuts))} where "
                f"{asked} was asked: the stocked formulations cannot make smaller cuts at those doses.",
                rules.pace.source,
                tuple(s.index for s in over_rate),
            )
        )
    tail = [s for s in schedule.steps if {"tail", "final_step"} & set(s.flags)]
    if tail:
        confirmed = (
            "" if plan.req.tail_floor_confirmed else " (program policy, not yet confirmed by a clinician)"
        )
        out.append(
            PlanWarning(
                "tail",
                rules.tail.rule,
                "Larger cuts at the very end",
                f"{_steps_text([s.index for s in tail])} cut more than the guideline cap because the "
                f"smallest doses cannot be cut by less: they start at or below the end-of-taper floor of "
                f"{_mg(plan.tail_floor)} mg diazepam-equivalent a day, or are the final step to zero from at "
                f"most {_mg(plan.final_step_max)} mg{confirmed}.",
                rules.tail.source,
                tuple(s.index for s in tail),
            )
        )
    lengthened = [s for s in schedule.steps if "interval_lengthened" in s.flags]
    if lengthened:
        out.append(
            PlanWarning(
                "interval_lengthened",
                plan.cap.rule,
                "Some steps start later than the requested interval",
                f"{_steps_text([s.index for s in lengthened])} {_later(lengthened)} so that two cuts "
                f"together stay within the guideline cap ({cap_words}).",
                plan.cap.source,
                tuple(s.index for s in lengthened),
            )
        )
    to_liquid = [s for s in schedule.steps if "to_liquid" in s.flags]
    if to_liquid:
        out.append(
            PlanWarning(
                "to_liquid",
                plan.cap.rule if plan.req.liquid == LiquidUse.CAP else rules.pace.rule,
                "A dose moves to the oral liquid",
                f"From {_steps_text([s.index for s in to_liquid]).lower()} a dose is given as oral liquid: "
                "tablets cannot make a small enough cut there. It stays liquid from then on.",
                plan.cap.source,
                tuple(s.index for s in to_liquid),
            )
        )
    undivided = [s for s in schedule.steps if "switch_undivided" in s.flags]
    if undivided:
        out.append(
            PlanWarning(
                "switch_undivided",
                rules.switch.rule,
                "A dose is switched in fewer portions than asked",
                f"{_steps_text([s.index for s in undivided])}: the stocked formulations cannot divide the "
                f"dose finely enough to spread the switch over {plan.min_switch_days} days.",
                rules.switch.source,
                tuple(s.index for s in undivided),
            )
        )
    if schedule.switch is not None and schedule.switch.disagreements:
        sw = schedule.switch
        drugs = "; ".join(
            f"{drug} {_mg(a)} mg on {sw.table.label}, {_mg(b)} mg on {sw.other_table.label}"
            for drug, a, b in sw.disagreements
        )
        low, high = sw.ratio_min, sw.ratio_max
        ratio = (
            f"{as_decimal(low, 2).normalize():f}×"
            if low == high
            else (f"{as_decimal(low, 2).normalize():f}–{as_decimal(high, 2).normalize():f}×")
        )
        out.append(
            PlanWarning(
                "tables_disagree",
                rules.switch.rule,
                "The equivalence tables disagree about this switch",
                f"On {sw.other_table.label} the starting dose is {_mg(sw.baseline_other_de_mg)} mg "
                f"diazepam-equivalent, and during the switch "
                f"{_mg(sw.other_min_de_mg)}–{_mg(sw.other_max_de_mg)} mg ({ratio} the start); on "
                f"{sw.table.label}, used here, it stays {_mg(sw.baseline_de_mg)} mg. "
                f"Each drug ≈ diazepam 10 mg: {drugs}.",
                rules.switch.source,
                tuple(s.index for s in schedule.steps if s.phase == Phase.SUBSTITUTION),
            )
        )
    final = schedule.final_de_mg
    if final > 0 and final != plan.target:
        out.append(
            PlanWarning(
                "above_target",
                "taper.maintenance_target",
                "Maintenance dose above the target",
                f"The plan ends on {_mg(final)} mg diazepam-equivalent a day, the nearest the stocked "
                f"formulations make at or above the {_mg(plan.target)} mg target.",
                "",
            )
        )
    if schedule.unverified:
        out.append(
            PlanWarning(
                "unverified",
                "taper.unverified_facts",
                "Facts to check",
                "This schedule relies on values not verified in a primary source: "
                + "; ".join(schedule.unverified)
                + ".",
                "",
            )
        )
    return replace(schedule, warnings=tuple(out))


def _later(steps: list[Step]) -> str:
    days = {s.delayed_days for s in steps}
    if len(days) == 1:
        n = days.pop()
        later = f"{n} day{'s' if n != 1 else ''} later"
        return f"each start {later}" if len(steps) > 1 else f"starts {later}"
    return "start " + ", ".join(str(s.delayed_days) for s in steps) + " days later respectively"


def _unverified_facts(plan: _Plan, prep: Preparation) -> set[str]:
    """U formulation facts this preparation relies on: the strength, and the split only if a piece is used."""
    facts = set()
    for fid, count in prep.tablets:
        form = plan.catalogue.formulation(fid)
        if form.status == Status.UNVERIFIED:
            facts.add(f"{form.describe()}: strength (U)")
        if count.denominator != 1 and form.split_status == Status.UNVERIFIED:
            facts.add(f"{form.describe()}: splitting (U)")
    if prep.liquid:
        form = plan.catalogue.formulation(prep.liquid[0])
        if form.status == Status.UNVERIFIED:
            facts.add(f"{form.describe()}: concentration (U)")
    return facts
