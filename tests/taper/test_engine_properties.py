"""Hypothesis properties of the taper engine over every catalogue drug: random regimens, rates, intervals,
holds, formulations, liquid choices and overrides. The invariants live in tests/taper/strategies.py.

TAPER_HYPOTHESIS_EXAMPLES raises the number of examples (the closing note of issue 9 ran 10,000).
"""

import os
from dataclasses import replace
from datetime import date, time, timedelta
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taper.engine import Administration, Phase, Strategy, TaperRequest, build_schedule
from taper.errors import TaperCapError, TaperInputError
from tests.taper import strategies as gen

PROPS = settings(
    max_examples=int(os.environ.get("TAPER_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
# Refusals the generator can provoke, by the field the engine names.
EXPECTED_FIELDS = ("holds[", "available_formulations", "table", "rate_percent", "regimen")


def built(req: TaperRequest):
    """The schedule, or None for an input refusal the generator can provoke. A cap refusal is checked
    here: each refused step really breaks the cap outside the tail, and no such step goes unlisted."""
    try:
        return build_schedule(req)
    except TaperInputError as exc:
        assert exc.field.startswith(EXPECTED_FIELDS), exc
        return None
    except TaperCapError as exc:
        breaches = {b[0] for b in gen.cap_breaches(exc.schedule)}
        refused = {v.step for v in exc.violations}
        assert refused, "a refusal names its steps"
        assert refused <= breaches, f"refused {refused - breaches} that keep the cap"
        accepted = req.override_steps if req.override_reason else frozenset()
        assert breaches - accepted == refused, "every breach the override does not name is refused"
        return None


@PROPS
@given(gen.requests())
def test_no_cut_breaks_the_cap_outside_the_tail_unless_an_override_names_it(req):
    s = built(req)
    if s is None:
        return
    gen.check_cap(req, s)
    accepted = {v.step for v in s.violations}
    assert accepted == {b[0] for b in gen.cap_breaches(s)}
    assert accepted <= req.override_steps
    assert all("cap_override" in st_.flags for st_ in s.steps if st_.index in accepted)


@PROPS
@given(gen.requests())
def test_pace_is_reported_step_by_step(req):
    s = built(req)
    if s is not None:
        gen.check_pace(req, s)


@PROPS
@given(gen.requests())
def test_each_dose_keeps_its_form_unless_a_visible_step_moves_it_to_liquid(req):
    s = built(req)
    if s is not None:
        gen.check_forms(req, s)


@PROPS
@given(gen.requests(strategy=Strategy.CROSS_TITRATE))
def test_a_switch_to_diazepam_is_gradual_and_conserves_the_equivalent_dose(req):
    s = built(req)
    if s is not None:
        gen.check_switch(req, s)


@PROPS
@given(gen.requests())
def test_every_dose_is_achievable_dispensed_and_dated(req):
    s = built(req)
    if s is not None:
        gen.check_achievable(req, s)
        gen.check_dates(req, s)


@PROPS
@given(gen.requests(), st.integers(1, 2000))
def test_the_ceiling_refuses_an_implausible_daily_dose(req, factor):
    """Scaled up until the daily DE passes the program's ceiling, any regimen is refused as an entry error
    naming the regimen (before anything about formulations); at or below it, never for that reason."""
    first = req.regimen[0]
    bigger = replace(first, dose_mg=Fraction(str(first.dose_mg)) * factor)
    scaled = replace(req, regimen=(bigger, *req.regimen[1:]))
    try:
        de = sum(
            (Fraction(str(a.dose_mg)) * gen.CAT.drug(a.drug).de_per_mg(req.table) for a in scaled.regimen),
            Fraction(0),
        )
    except TaperInputError:
        return  # a drug this table does not list: refused for that reason
    try:
        build_schedule(scaled)
    except TaperInputError as exc:
        if de > gen.RULES.plausibility.max_daily_de_mg:
            assert exc.field == "regimen" and "program accepts" in exc.message
        else:
            assert "program accepts" not in exc.message
        return
    except TaperCapError:
        pass
    assert de <= gen.RULES.plausibility.max_daily_de_mg


@PROPS
@given(gen.requests())
def test_holds_extend_the_schedule_by_exactly_their_length(req):
    held = built(req)
    if held is None:
        return
    # Without holds the steps are numbered differently (and the calendar windows are tighter), so the
    # comparison accepts every step: what matters here is the doses, not the cap (checked elsewhere).
    every = frozenset(range(1, 401))
    plain = build_schedule(
        replace(req, holds=(), override_reason="compare without holds", override_steps=every)
    )
    extra = sum(h.days for h in req.holds)
    assert held.end_date - plain.end_date == timedelta(days=extra)
    assert [st_.daily_de_mg for st_ in held.steps if st_.phase != Phase.HOLD] == [
        st_.daily_de_mg for st_ in plain.steps
    ]


@PROPS
@given(gen.requests(), st.sampled_from([Fraction(1), Fraction(5), Fraction(10)]))
def test_a_maintenance_plan_ends_at_or_just_above_its_target_and_says_which(req, target):
    try:
        s = build_schedule(replace(req, target_de_mg=target))
    except TaperInputError as exc:
        assert exc.field in ("target_de_mg", "table") or exc.field.startswith(EXPECTED_FIELDS)
        return
    except TaperCapError:
        return
    assert s.final_de_mg >= target
    assert all(step.daily_de_mg >= target for step in s.steps if step.phase != Phase.SUBSTITUTION)
    if s.final_de_mg == target:
        assert "the stated target" in s.notes[0]
        assert not any(w.code == "above_target" for w in s.warnings)
    else:
        assert "at or above the" in s.notes[0]
        assert any(w.code == "above_target" for w in s.warnings)


@PROPS
@given(gen.requests(strategy=Strategy.DIRECT, override=False), st.integers(0, 30))
def test_start_dates_before_today_are_refused(req, days_late):
    today = req.start_date + timedelta(days=1 + days_late)
    with pytest.raises(TaperInputError) as exc:
        build_schedule(replace(req, not_before=today))
    assert exc.value.field in ("start_date", "table", "regimen") or exc.value.field.startswith("regimen[")


def test_old_granularity_examples_are_now_refused_or_kept_within_the_cap():
    """The three tapers issue 9 found with cuts of 29-100% mid-taper and no override."""
    night = time(22)
    for drug, mg, rate, days in (
        ("clonazepam", "2", 10, 7),
        ("clonazepam", "1", 10, 14),
        ("lorazepam", "4", 10, 14),
    ):
        req = TaperRequest((Administration(drug, mg, night),), date(2026, 1, 5), rate, days)
        try:
            s = build_schedule(req)
        except TaperCapError as exc:
            assert exc.violations and all(
                v.step in {b[0] for b in gen.cap_breaches(exc.schedule)} for v in exc.violations
            )
        else:
            assert not gen.cap_breaches(s)
