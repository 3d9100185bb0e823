"""Generated taper requests over every catalogue drug, and the invariants checked on every schedule.

Shared by the Hypothesis properties (tests/taper/test_engine_properties.py) and the census
(benchmarks/taper_census.py), so the numbers in a closing note come from the very checks the suite runs.
The checks recompute everything from the schedule's own steps; they never trust the engine's flags for
the thing being checked.
"""

from __future__ import annotations

import itertools
from datetime import date, time, timedelta
from fractions import Fraction

from hypothesis import strategies as st

from taper.catalogue import DIAZEPAM, EquivalenceTable, load_catalogue
from taper.dosing import DoseGrid, Form
from taper.engine import (
    Administration,
    Hold,
    LiquidUse,
    Phase,
    ReductionOrder,
    Schedule,
    Strategy,
    TaperRequest,
)
from taper.policy import policy

CAT = load_catalogue()
DRUGS = sorted(CAT.drugs)
TIMES = [time(8), time(14), time(22)]
RATES = [1, 2.5, 5, 10, 12, 15, 20, 25, 30, 50]
START = date(2026, 1, 1)


def stocked_tablets(drug: str) -> list:
    return [f for f in CAT.drug(drug).formulations if not f.is_liquid and f.stocked_by_default]


@st.composite
def requests(draw, *, strategy=None, override=None) -> TaperRequest:
    strategy = draw(st.sampled_from(list(Strategy))) if strategy is None else strategy
    drugs = draw(st.lists(st.sampled_from(DRUGS), min_size=1, max_size=2, unique=True))
    times = draw(st.lists(st.sampled_from(TIMES), min_size=1, max_size=3, unique=True))
    available: set[str] = set()
    regimen = []
    for i, t in enumerate(sorted(times)):
        drug = drugs[i % len(drugs)]
        form = draw(st.sampled_from(stocked_tablets(drug)))
        available.add(form.id)
        regimen.append(Administration(drug, form.strength_mg * draw(st.integers(1, 3)), t))
    used = {a.drug for a in regimen} | ({DIAZEPAM} if strategy == Strategy.CROSS_TITRATE else set())
    for drug in sorted(used):
        for form in CAT.drug(drug).formulations:
            if draw(st.booleans()):
                available.add(form.id)
        if not any(fid.startswith(f"{drug}:") for fid in available):
            available.add(stocked_tablets(drug)[0].id)
    # Mostly the intervals clinics use, sometimes any day count (the cap window must hold for every one).
    interval = draw(st.one_of(st.sampled_from([7, 14, 14, 21, 28]), st.integers(1, 28)))
    rate = draw(st.sampled_from(RATES))
    holds = tuple(
        Hold(days=draw(st.integers(1, 21)), at_step=k)
        for k in sorted(draw(st.sets(st.integers(1, 3), max_size=2)))
    )
    slow = draw(st.booleans())
    # No override; one naming random steps (mostly not the ones over the cap); or one accepting every step.
    kind = (
        draw(st.sampled_from(["none", "some", "all"]))
        if override is None
        else ("all" if override else "none")
    )
    return TaperRequest(
        regimen=tuple(regimen),
        start_date=START + timedelta(days=draw(st.integers(0, 365))),
        rate_percent=Fraction(str(rate)),
        interval_days=interval,
        table=draw(st.sampled_from(list(EquivalenceTable))),
        strategy=strategy,
        substitution_interval_days=draw(st.integers(1, 14)),
        slow_rate_percent=5 if slow else None,
        slow_below_de_mg=5 if slow else None,
        holds=holds,
        available_formulations=frozenset(available),
        order=draw(st.sampled_from(list(ReductionOrder))),
        liquid=draw(st.sampled_from(list(LiquidUse))),
        override_reason=None if kind == "none" else "psychiatrist override for the property test",
        override_steps={
            "none": frozenset(),
            "some": frozenset(draw(st.sets(st.integers(1, 40), min_size=1, max_size=6))),
            "all": frozenset(range(1, 401)),
        }[kind],
    )


# --- the invariants -----------------------------------------------------------------------------------------
RULES = policy()
CAP = RULES.cap.max_reduction_percent / 100
TAIL_FLOOR = RULES.tail.floor_de_mg
FINAL_MAX = RULES.tail.final_step_max_de_mg


def de_in_effect(schedule: Schedule, on: date) -> Fraction:
    """The daily DE in effect on a day, read off the steps (the baseline before the first)."""
    de = schedule.baseline_de_mg
    for step in schedule.steps:
        if step.start <= on:
            de = step.daily_de_mg
    return de


def cap_breaches(schedule: Schedule) -> list[tuple[int, Fraction, Fraction, Fraction]]:
    """(step, dose before, dose after, DE cap.per_days before) for every cut deeper than the cap allows
    against the dose in effect `per_days` days before the step starts, the tail excluded: cuts starting at
    or below the end-of-taper floor and the final step to zero from at most its maximum."""
    out = []
    previous = schedule.baseline_de_mg
    for step in schedule.steps:
        ref = de_in_effect(schedule, step.start - timedelta(days=RULES.cap.per_days))
        total = step.daily_de_mg
        if total < previous and total < (1 - CAP) * ref:
            reduction = step.phase == Phase.REDUCTION
            tail = reduction and (previous <= TAIL_FLOOR or (total == 0 and previous <= FINAL_MAX))
            if not tail:
                out.append((step.index, previous, total, ref))
        previous = total
    return out


def check_cap(req: TaperRequest, schedule: Schedule) -> None:
    """Outside the tail, a cut deeper than the cap exists only where the override names that very step."""
    for index, before, after, ref in cap_breaches(schedule):
        assert req.override_reason, f"step {index}: {before} → {after} (ref {ref}) over the cap, no override"
        assert index in req.override_steps, f"step {index} over the cap is not one the override names"


def check_pace(req: TaperRequest, schedule: Schedule) -> None:
    """Each reduction says its actual cut and the requested one; cuts more than half again as deep are
    flagged and reported (the tail and the stop excepted)."""
    factor = RULES.pace.over_rate_factor
    previous = schedule.baseline_de_mg
    flagged = []
    for step in schedule.steps:
        total = step.daily_de_mg
        assert step.step_percent == ((previous - total) / previous * 100 if previous else 0)
        if step.phase == Phase.REDUCTION:
            rate = Fraction(str(req.rate_percent))
            if req.slow_rate_percent is not None and previous <= Fraction(str(req.slow_below_de_mg)):
                rate = Fraction(str(req.slow_rate_percent))
            if req.reduction_de_mg is not None:
                rate = min(Fraction(100), Fraction(str(req.reduction_de_mg)) / previous * 100)
            assert step.requested_percent == rate
            over = total > 0 and previous > TAIL_FLOOR and step.step_percent > factor * rate
            assert ("over_rate" in step.flags) == over, f"step {step.index}: {step.step_percent}% vs {rate}%"
            if over:
                flagged.append(step.index)
        else:
            assert step.requested_percent is None and "over_rate" not in step.flags
        previous = total
    reported = [w for w in schedule.warnings if w.code == "over_rate"]
    assert (reported[0].steps if reported else ()) == tuple(flagged)


def check_forms(req: TaperRequest, schedule: Schedule) -> None:
    """Each administration keeps its form; the only change is tablets → liquid, once, on a step that says
    so, and never when the request forbids the liquid."""
    form_of: dict = {}
    for dose in schedule.baseline:
        form_of[(dose.drug, dose.time_of_day)] = dose.form
    for step in schedule.steps:
        changed = False
        for dose in step.doses:
            if dose.mg and dose.form == Form.LIQUID:
                assert dose.preparation.liquid and not dose.preparation.tablets
            if dose.mg and dose.form == Form.TABLET:
                assert dose.preparation.tablets and not dose.preparation.liquid
            key = (dose.drug, dose.time_of_day)
            before = form_of.get(key)
            if dose.mg and before is not None and before != dose.form:
                assert (before, dose.form) == (Form.TABLET, Form.LIQUID), f"step {step.index} back to tablets"
                assert "to_liquid" in step.flags and step.phase == Phase.REDUCTION
                assert req.liquid != LiquidUse.NEVER
                changed = True
            if dose.mg:
                form_of[key] = dose.form
        assert changed == ("to_liquid" in step.flags), f"step {step.index}"


def check_switch(req: TaperRequest, schedule: Schedule) -> None:
    """A switch to diazepam spans at least the policy's days unless a dose cannot be divided (flagged),
    comes before any reduction, conserves the daily DE within the diazepam rounding, and ends on diazepam."""
    switch = [s for s in schedule.steps if s.phase == Phase.SUBSTITUTION]
    if req.strategy != Strategy.CROSS_TITRATE:
        assert not switch
        return
    movers = [d for d in schedule.baseline if d.drug != DIAZEPAM]
    if not movers:
        assert not switch
        return
    assert switch, "a cross-titration switches before it reduces"
    phases = [s.phase for s in schedule.steps if s.phase != Phase.HOLD]
    assert phases[: len(switch)] == [Phase.SUBSTITUTION] * len(switch)
    undivided = any("switch_undivided" in s.flags for s in switch)
    span = (switch[-1].start - switch[0].start).days
    if not undivided:
        assert span >= RULES.switch.min_switch_days, f"switch over {span} days"
    # Each switched dose is the nearest achievable diazepam dose: off by at most half a gap of the grid.
    stocked = [f for f in CAT.drug(DIAZEPAM).formulations if f.id in req.available_formulations]
    grid = DoseGrid(stocked, schedule.baseline_de_mg + 10, CAT.liquid_measure_step_ml)
    doses = grid.doses(Form.TABLET) or grid.doses(Form.LIQUID)
    gap = max(b - a for a, b in itertools.pairwise(doses))
    tolerance = gap / 2 * len(movers)
    for step in switch:
        assert abs(step.daily_de_mg - schedule.baseline_de_mg) <= tolerance
    assert {d.drug for d in switch[-1].doses if d.mg} <= {DIAZEPAM}


def check_schedule(req: TaperRequest, schedule: Schedule) -> None:
    """Every invariant the suite holds a built schedule to."""
    check_cap(req, schedule)
    check_pace(req, schedule)
    check_forms(req, schedule)
    check_switch(req, schedule)
    check_achievable(req, schedule)
    check_dates(req, schedule)


def check_achievable(req: TaperRequest, schedule: Schedule) -> None:
    for step in schedule.steps:
        for dose in step.doses:
            prep = dose.preparation
            made = sum((CAT.formulation(fid).strength_mg * n for fid, n in prep.tablets), Fraction(0))
            if prep.liquid:
                made += CAT.formulation(prep.liquid[0]).mg_per_ml * prep.liquid[1]
            assert made == dose.mg
            for fid, n in prep.tablets:
                assert fid in req.available_formulations
                split = CAT.formulation(fid).split
                assert (n % 1) == 0 or (n % 1) % split.smallest_fraction == 0
            if prep.liquid:
                assert prep.liquid[0] in req.available_formulations
        if step.end is not None and any(d.mg for d in step.doses):
            assert step.dispense


def check_dates(req: TaperRequest, schedule: Schedule) -> None:
    assert schedule.steps[0].start == req.start_date
    for a, b in zip(schedule.steps, schedule.steps[1:], strict=False):
        assert a.end is not None and b.start == a.end + timedelta(days=1)
    assert schedule.steps[-1].end is None
    target = Fraction(str(req.target_de_mg))
    assert schedule.final_de_mg >= target
    if target == 0:
        assert schedule.final_de_mg == 0 and all(d.mg == 0 for d in schedule.steps[-1].doses)
