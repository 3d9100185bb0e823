"""The taper engine: a pure, deterministic function from a TaperRequest to a dated Schedule.

How a schedule is built
-----------------------
* The regimen before `start_date` is the baseline. Step 1 starts on `start_date`; each step runs for its
  interval and the next starts the day after it ends (no gaps). The last step is open-ended (`end` None):
  all doses zero, or the maintenance dose at the stated target.
* `cross_titrate` (Ashton-style): first, one administration at a time, latest time of day first (the night
  dose is switched first, as in the NHS Scotland lorazepam example), a non-diazepam dose is replaced by the
  diazepam dose of equal diazepam equivalence, rounded to the nearest achievable diazepam dose. Each
  substitution lasts `substitution_interval_days` (JGIM-2025 p.18: switching over 1-2 weeks rather than
  1-2 days). The daily equivalent dose is conserved within that rounding. Then diazepam is tapered.
* Each reduction step aims at `current x (1 - rate)` of the daily diazepam-equivalent (DE) dose (`slow_rate`
  once the daily DE is at or below `slow_below_de_mg`), or at `current - reduction_de_mg` if a fixed step is
  given. The engine lowers one administration at a time to its next lower achievable dose (order:
  `one_at_a_time` = earliest administration first down to zero, keeping the night dose longest;
  `largest_first` = whichever administration has the largest DE) and takes the achievable total nearest
  the aim, never at or above the current dose and never below the target. If rounding to the nearest would
  break the cap although the requested rate respects it, the gentler neighbour is taken. If the aim rounds
  to no change, the smallest achievable reduction is taken so the taper always progresses; near the end
  that gives the small steps of the smallest split or liquid instead of one large jump.
* The guideline cap (taper/data/taper_rules.json, JGIM-2025 rec. 6, status V: "typically do not exceed 25%
  every 2 weeks") is a rolling window: a step may not bring the daily DE more than 25% below the DE in
  effect 14 days before it starts. The last reductions of any taper to zero exceed 25% of a tiny dose
  (e.g. 0.5 → 0 mg); such a step is allowed without override only if it removes a single smallest
  achievable unit and that unit is no more than the cap's share of the baseline daily DE (otherwise the
  formulations are too coarse and it is a violation). It is flagged `granularity` so reviewers see it.
  Any other step over the cap raises TaperCapError listing every offending step, unless `override_reason`
  is given, in which case the steps are flagged `cap_override`.
* Holds repeat the current dose: a hold `at_step=k` delays step k by `days`; a hold `on_date=d` delays the
  first step starting on or after d. Either way the schedule gets exactly `days` longer.

All quantities are Fractions (exact); `as_decimal` formats them for display.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from fractions import Fraction
from functools import cache

from taper.catalogue import (
    DIAZEPAM,
    Catalogue,
    EquivalenceTable,
    Formulation,
    Status,
    load_catalogue,
)
from taper.dosing import MAX_WHOLE_UNITS, DoseGrid, Preparation
from taper.errors import TaperCapError, TaperInputError

__all__ = [
    "Administration",
    "CapViolation",
    "Dispense",
    "GuidelineCap",
    "Hold",
    "Phase",
    "ReductionOrder",
    "Schedule",
    "Step",
    "StepDose",
    "Strategy",
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


class Phase(StrEnum):
    SUBSTITUTION = "substitution"
    REDUCTION = "reduction"
    HOLD = "hold"


@dataclass(frozen=True)
class GuidelineCap:
    max_reduction_percent: Fraction
    per_days: int
    source: str
    status: Status
    wording: str


@cache
def guideline_cap() -> GuidelineCap:
    """The JGIM-2025 cap, read from taper/data/taper_rules.json (data, with its source)."""
    import json
    from pathlib import Path

    raw = json.loads((Path(__file__).parent / "data" / "taper_rules.json").read_text())["guideline_cap"]
    return GuidelineCap(
        max_reduction_percent=Fraction(raw["max_reduction_percent"]),
        per_days=int(raw["per_days"]),
        source=raw["source"],
        status=Status(raw["status"]),
        wording=raw["wording"],
    )


@dataclass(frozen=True)
class Administration:
    drug: str
    dose_mg: Fraction | Decimal | int | str
    time_of_day: time


@dataclass(frozen=True)
class Hold:
    days: int
    at_step: int | None = None
    on_date: date | None = None


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
    available_formulations: frozenset[str] | None = None  # formulation ids; None = the whole catalogue
    target_de_mg: Fraction | Decimal | int | str = 0
    order: ReductionOrder = ReductionOrder.ONE_AT_A_TIME
    cap: GuidelineCap | None = None  # None = guideline_cap()
    override_reason: str | None = None


@dataclass(frozen=True)
class StepDose:
    drug: str
    time_of_day: time
    mg: Fraction
    de_mg: Fraction
    preparation: Preparation


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
class Schedule:
    table: EquivalenceTable
    cap: GuidelineCap
    baseline: tuple[StepDose, ...]
    baseline_de_mg: Fraction
    steps: tuple[Step, ...]
    override_reason: str | None
    violations: tuple[CapViolation, ...]  # non-empty only with an override
    unverified: tuple[str, ...]  # U facts the schedule relies on, for the page to mark
    notes: tuple[str, ...] = field(default=())

    @property
    def end_date(self) -> date:
        """The date the final (open-ended) dose starts: the stop date when tapering to zero."""
        return self.steps[-1].start

    @property
    def final_de_mg(self) -> Fraction:
        return self.steps[-1].daily_de_mg


def as_decimal(value: Fraction, places: int = 3) -> Decimal:
    quantum = Decimal(1).scaleb(-places)
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(quantum, rounding=ROUND_HALF_EVEN)


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


def _days(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TaperInputError(name, f"must be a whole number of days ≥ 1, got {value!r}")
    return value


@dataclass
class _Slot:
    drug: str
    time_of_day: time
    mg: Fraction


class _Plan:
    """Validated inputs plus the lookups the builder needs."""

    def __init__(self, req: TaperRequest, catalogue: Catalogue):
        self.req = req
        self.catalogue = catalogue
        if not isinstance(req.table, EquivalenceTable):
            raise TaperInputError("table", f"unknown equivalence table {req.table!r}")
        self.table = req.table
        if not isinstance(req.strategy, Strategy):
            raise TaperInputError("strategy", f"unknown strategy {req.strategy!r}")
        if not isinstance(req.order, ReductionOrder):
            raise TaperInputError("order", f"unknown reduction order {req.order!r}")
        if not isinstance(req.start_date, date):
            raise TaperInputError("start_date", "must be a date")
        if not req.regimen:
            raise TaperInputError("regimen", "must list at least one administration")
        self.rate = _rate(req.rate_percent, "rate_percent")
        self.interval = _days(req.interval_days, "interval_days")
        self.sub_interval = (
            self.interval
            if req.substitution_interval_days is None
            else _days(req.substitution_interval_days, "substitution_interval_days")
        )
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
        self.cap = req.cap or guideline_cap()
        self.override_reason = (req.override_reason or "").strip() or None

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
            slots.append(_Slot(drug, adm.time_of_day, mg))
        self.baseline = sorted(slots, key=lambda s: (s.time_of_day, s.drug))
        self.baseline_de = sum((self.de(s.drug, s.mg) for s in self.baseline), Fraction(0))

        self.target = _fraction(req.target_de_mg, "target_de_mg")
        if self.target < 0:
            raise TaperInputError("target_de_mg", "must not be negative")
        if self.target >= self.baseline_de:
            raise TaperInputError("target_de_mg", "must be below the current daily diazepam-equivalent dose")

        drugs = {s.drug for s in self.baseline}
        if req.strategy == Strategy.CROSS_TITRATE:
            drugs.add(DIAZEPAM)
        self.formulations = self._formulations(drugs)
        self.grids: dict[str, DoseGrid] = {}
        for drug in drugs:
            limit = max([s.mg for s in self.baseline if s.drug == drug], default=Fraction(0))
            if drug == DIAZEPAM and req.strategy == Strategy.CROSS_TITRATE:
                limit = max(limit, self.baseline_de + 10)
            self.grids[drug] = DoseGrid(self.formulations[drug], limit, catalogue.liquid_measure_step_ml)
        for i, adm in enumerate(req.regimen):
            slot_mg = _fraction(adm.dose_mg, "dose_mg")
            drug = self._drug(adm.drug, "drug")
            if slot_mg not in self.grids[drug]:
                stocked = ", ".join(f.describe() for f in self.formulations[drug])
                raise TaperInputError(
                    f"regimen[{i}].dose_mg",
                    f"{as_decimal(slot_mg)} mg {drug} cannot be made from the stocked formulations "
                    f"({stocked})",
                )
        self.holds = self._holds(req.holds)

    def _drug(self, name, fieldname: str) -> str:
        try:
            return self.catalogue.drug(name).name
        except TaperInputError as exc:
            raise TaperInputError(fieldname, exc.message) from None

    def _formulations(self, drugs: set[str]) -> dict[str, list[Formulation]]:
        if self.req.available_formulations is None:
            chosen = [f for d in drugs for f in self.catalogue.drug(d).formulations]
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
            _days(hold.days, f"{name}.days")
            if (hold.at_step is None) == (hold.on_date is None):
                raise TaperInputError(name, "give exactly one of at_step or on_date")
            if hold.at_step is not None and (isinstance(hold.at_step, bool) or hold.at_step < 1):
                raise TaperInputError(f"{name}.at_step", "must be a step number ≥ 1")
            if hold.on_date is not None and hold.on_date < self.req.start_date:
                raise TaperInputError(f"{name}.on_date", "must not be before the start date")
        return tuple(holds)

    def de(self, drug: str, mg: Fraction) -> Fraction:
        return mg * self.catalogue.drug(drug).de_per_mg(self.table)


# ----------------------------------------------------------------------------------------------- building


def _total(plan: _Plan, slots: list[_Slot]) -> Fraction:
    return sum((plan.de(s.drug, s.mg) for s in slots), Fraction(0))


def _decrement(plan: _Plan, slots: list[_Slot]) -> list[_Slot] | None:
    """Lower one administration to its next lower achievable dose, or None if all are zero."""
    live = [i for i, s in enumerate(slots) if s.mg > 0]
    if not live:
        return None
    if plan.req.order == ReductionOrder.ONE_AT_A_TIME:
        i = live[0]
    else:
        i = max(live, key=lambda j: (plan.de(slots[j].drug, slots[j].mg), -j))
    lower = plan.grids[slots[i].drug].next_lower(slots[i].mg)
    new = [_Slot(s.drug, s.time_of_day, s.mg) for s in slots]
    new[i].mg = lower
    return new


def _reduction(plan: _Plan, slots: list[_Slot], floor: Fraction) -> tuple[list[_Slot], bool] | None:
    """The next reduction step, and whether it is a single smallest decrement; None when at target."""
    current = _total(plan, slots)
    if plan.fixed is not None:
        aim = current - plan.fixed
    else:
        rate = plan.slow_rate if plan.slow_rate is not None and current <= plan.slow_below else plan.rate
        aim = current * (1 - rate / 100)
    chain: list[list[_Slot]] = []
    state = slots
    while True:
        state = _decrement(plan, state)
        if state is None:
            break
        total = _total(plan, state)
        if total < plan.target:
            break
        chain.append(state)
        if total <= aim:
            break
    if not chain:
        return None
    best = min(chain, key=lambda c: (abs(_total(plan, c) - aim), -_total(plan, c)))
    if aim >= floor and _total(plan, best) < floor:
        within = [c for c in chain if _total(plan, c) >= floor]
        best = within[-1] if within else chain[0]
    return best, best is chain[0]


def _substitution(plan: _Plan, slots: list[_Slot]) -> list[_Slot] | None:
    """Switch the latest non-diazepam administration to diazepam of equal DE (nearest achievable)."""
    others = [i for i, s in enumerate(slots) if s.drug != DIAZEPAM and s.mg > 0]
    if not others:
        return None
    i = max(others, key=lambda j: (slots[j].time_of_day, slots[j].drug))
    moving = slots[i]
    grid = plan.grids[DIAZEPAM]
    rest = [_Slot(s.drug, s.time_of_day, s.mg) for j, s in enumerate(slots) if j != i]
    existing = next((s for s in rest if s.drug == DIAZEPAM and s.time_of_day == moving.time_of_day), None)
    wanted = plan.de(moving.drug, moving.mg) + (existing.mg if existing else 0)
    if wanted > grid.doses[-1]:
        raise TaperInputError(
            "available_formulations",
            f"{as_decimal(wanted)} mg diazepam per dose cannot be made with the stocked diazepam "
            f"formulations (at most {MAX_WHOLE_UNITS} tablets per dose); stock a larger strength",
        )
    if existing:
        existing.mg = grid.nearest(wanted)
    else:
        rest.append(_Slot(DIAZEPAM, moving.time_of_day, grid.nearest(wanted)))
    return sorted(rest, key=lambda s: (s.time_of_day, s.drug))


def _doses(plan: _Plan, slots: list[_Slot], on_liquid: set | None = None) -> tuple[StepDose, ...]:
    """The step's doses; `on_liquid` holds (drug, time) already moved to liquid and is updated in place."""
    on_liquid = set() if on_liquid is None else on_liquid
    doses = []
    for s in slots:
        key = (s.drug, s.time_of_day)
        prep = plan.grids[s.drug].preparation(s.mg, prefer_liquid=key in on_liquid)
        if prep.liquid:
            on_liquid.add(key)
        doses.append(StepDose(s.drug, s.time_of_day, s.mg, plan.de(s.drug, s.mg), prep))
    return tuple(doses)


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


@dataclass
class _Draft:
    phase: Phase
    start: date
    days: int
    slots: list[_Slot]
    base_start: date  # the start without holds: reductions are chosen on this clock so holds only delay
    single_decrement: bool = False


def build_schedule(req: TaperRequest, catalogue: Catalogue | None = None) -> Schedule:
    """Build the dated schedule for `req`.

    Raises TaperInputError for bad input and TaperCapError for steps over the cap (without override).
    """
    plan = _Plan(req, catalogue or load_catalogue())
    cap_fraction = plan.cap.max_reduction_percent / 100
    drafts: list[_Draft] = []
    slots = [_Slot(s.drug, s.time_of_day, s.mg) for s in plan.baseline]
    day = req.start_date
    base_day = req.start_date
    applied: set[int] = set()
    transition = 0

    def de_in_effect(on: date) -> Fraction:
        for d in reversed(drafts):
            if d.phase != Phase.HOLD and d.base_start <= on:
                return _total(plan, d.slots)
        return plan.baseline_de

    while True:
        substituting = req.strategy == Strategy.CROSS_TITRATE and any(s.drug != DIAZEPAM for s in slots)
        if not substituting and _reduction(plan, slots, Fraction(0)) is None:
            break
        transition += 1
        for i, hold in enumerate(plan.holds):
            due = hold.at_step == transition or (hold.on_date is not None and hold.on_date <= day)
            if i not in applied and due:
                applied.add(i)
                drafts.append(
                    _Draft(
                        Phase.HOLD,
                        day,
                        hold.days,
                        [_Slot(s.drug, s.time_of_day, s.mg) for s in slots],
                        base_day,
                    )
                )
                day += timedelta(days=hold.days)
        if substituting:
            slots = _substitution(plan, slots)
            drafts.append(_Draft(Phase.SUBSTITUTION, day, plan.sub_interval, slots, base_day))
            day += timedelta(days=plan.sub_interval)
            base_day += timedelta(days=plan.sub_interval)
            continue
        floor = (1 - cap_fraction) * de_in_effect(base_day - timedelta(days=plan.cap.per_days))
        slots, single = _reduction(plan, slots, floor)
        drafts.append(_Draft(Phase.REDUCTION, day, plan.interval, slots, base_day, single))
        day += timedelta(days=plan.interval)
        base_day += timedelta(days=plan.interval)

    missed = [i for i in range(len(plan.holds)) if i not in applied]
    if missed:
        raise TaperInputError(f"holds[{missed[0]}]", "falls after the last step of the taper")
    if not drafts:
        # Only reachable with a target above zero: every achievable lower dose is below the target.
        raise TaperInputError(
            "target_de_mg",
            f"no achievable dose between the current {as_decimal(plan.baseline_de)} mg and the target "
            f"{as_decimal(plan.target)} mg diazepam-equivalent with the stocked formulations",
        )

    steps: list[Step] = []
    violations: list[CapViolation] = []
    previous_de = plan.baseline_de
    unverified: set[str] = set()
    on_liquid: set = set()
    totals = [_total(plan, d.slots) for d in drafts]
    ref, seen = plan.baseline_de, 0  # DE in effect cap.per_days before the step (starts only increase)
    for n, d in enumerate(drafts, start=1):
        last = n == len(drafts)
        total = totals[n - 1]
        window_start = d.start - timedelta(days=plan.cap.per_days)
        while seen < n - 1 and drafts[seen].start <= window_start:
            ref = totals[seen]
            seen += 1
        window_pct = (ref - total) / ref * 100 if ref else Fraction(0)
        flags: list[str] = []
        if total > previous_de:
            flags.append("substitution_rounded_up")
        if total < previous_de and total < (1 - cap_fraction) * ref:
            removed = previous_de - total
            if d.single_decrement and removed <= cap_fraction * plan.baseline_de:
                flags.append("granularity")
            else:
                violations.append(CapViolation(n, d.start, ref, total, plan.cap.max_reduction_percent))
                flags.append("cap_override")
        doses = _doses(plan, d.slots, on_liquid)
        for dose in doses:
            unverified.update(_unverified_facts(plan, dose.preparation))
        days = plan.interval if last else d.days
        steps.append(
            Step(
                index=n,
                phase=d.phase,
                start=d.start,
                end=None if last else d.start + timedelta(days=d.days - 1),
                doses=doses,
                daily_de_mg=total,
                window_reduction_percent=window_pct,
                dispense=_dispense(plan, doses, days),
                flags=tuple(flags),
            )
        )
        previous_de = total

    if violations and not plan.override_reason:
        raise TaperCapError(violations)
    for drug in {s.drug for s in plan.baseline} | (
        {DIAZEPAM} if req.strategy == Strategy.CROSS_TITRATE else set()
    ):
        eq = plan.catalogue.drug(drug).equivalence(plan.table)
        if eq.status == Status.UNVERIFIED:
            unverified.add(f"{drug} equivalence in {plan.table.label} (U)")
    if plan.catalogue.liquid_measure_step_status == Status.UNVERIFIED and any(
        dose.preparation.liquid for s in steps for dose in s.doses
    ):
        unverified.add(f"liquid measuring step {as_decimal(plan.catalogue.liquid_measure_step_ml, 2)} mL (U)")
    notes = []
    if steps[-1].doses and steps[-1].daily_de_mg > 0:
        notes.append("The last step is a maintenance dose at the stated target; dispense shown per interval.")
    return Schedule(
        table=plan.table,
        cap=plan.cap,
        baseline=_doses(plan, plan.baseline),
        baseline_de_mg=plan.baseline_de,
        steps=tuple(steps),
        override_reason=plan.override_reason,
        violations=tuple(violations),
        unverified=tuple(sorted(unverified)),
        notes=tuple(notes),
    )


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
