"""The taper-safety cases of issue 9, each as a person met it, and what the engine does now."""

import itertools
from datetime import date, time, timedelta
from fractions import Fraction

import pytest

from taper.alternatives import for_pace, for_refusal
from taper.catalogue import EquivalenceTable, load_catalogue
from taper.dosing import Form
from taper.engine import (
    Administration,
    Hold,
    LiquidUse,
    Phase,
    PriorStep,
    Strategy,
    TaperRequest,
    build_schedule,
)
from taper.errors import TaperCapError, TaperInputError
from tests.taper.strategies import cap_breaches

AM, NIGHT = time(8), time(22)
START = date(2026, 1, 5)
CAT = load_catalogue()


def night(drug: str, mg: str, **kw) -> TaperRequest:
    base = dict(
        regimen=(Administration(drug, mg, NIGHT),), start_date=START, rate_percent=10, interval_days=14
    )
    base.update(kw)
    return TaperRequest(**base)


@pytest.mark.parametrize(
    ("drug", "mg", "days"), [("clonazepam", "2", 7), ("clonazepam", "1", 14), ("lorazepam", "4", 14)]
)
def test_coarse_tablets_are_refused_with_the_steps_and_the_ways_out(drug, mg, days):
    """Issue 9 saw these reach zero with 29-100% cuts mid-taper and no override. Now each cut deeper than
    the cap outside the tail is refused and named, and the refusal offers what would avoid it."""
    req = night(drug, mg, interval_days=days)
    with pytest.raises(TaperCapError) as exc:
        build_schedule(req)
    refused = [v.step for v in exc.value.violations]
    assert refused == [b[0] for b in cap_breaches(exc.value.schedule)]
    assert all(v.to_de_mg > 0 or v.previous_de_mg > 5 for v in exc.value.violations)
    options = for_refusal(req, CAT, exc.value)
    codes = [o.code for o in options]
    assert codes[0] == "cross_titrate" and options[0].fixes
    assert codes[-1] == "override" and dict(options[-1].changes) == {
        "override_steps": ",".join(map(str, refused))
    }
    switched = build_schedule(req.__class__(**{**req.__dict__, "strategy": Strategy.CROSS_TITRATE}))
    assert not cap_breaches(switched)


def test_an_unstocked_formulation_is_named_with_what_it_achieves():
    """Diazepam 5 mg with only 5 mg tablets: 5 → 2.5 mg is a 50% cut. Stocking the liquid keeps the cap."""
    req = night("diazepam", "5", available_formulations=frozenset({"diazepam:tablet:5mg"}))
    with pytest.raises(TaperCapError) as exc:
        build_schedule(req)
    options = {o.changes: o for o in for_refusal(req, CAT, exc.value)}
    liquid = options[(("stock", "diazepam:liquid:1mg_per_ml"),)]
    assert liquid.fixes and liquid.outcome == "keeps the guideline cap at every step"
    assert "diazepam oral liquid 1 mg/mL" in liquid.label
    assert options[(("stock", "diazepam:tablet:2mg"),)].fixes  # 2.5 → 2 → 1 → 0: the tail takes the rest
    assert list(options)[-1] == (("override_steps", "1"),)


def test_a_single_night_dose_is_switched_in_portions_over_at_least_a_week():
    """Alprazolam 2 mg at night was diazepam 40 mg on day 1. JGIM-2025 p.18: over 1-2 weeks, not 1-2 days."""
    s = build_schedule(
        night("alprazolam", "2", strategy=Strategy.CROSS_TITRATE, substitution_interval_days=7)
    )
    switch = [st for st in s.steps if st.phase == Phase.SUBSTITUTION]
    assert [st.daily_mg for st in switch] == [
        {"alprazolam": 1, "diazepam": 20},
        {"diazepam": 40},
    ]
    assert (switch[-1].start - switch[0].start).days >= 7
    assert all(st.daily_de_mg == 40 for st in switch)


def test_a_switch_shows_both_tables_and_says_they_disagree():
    s = build_schedule(
        night("alprazolam", "2", strategy=Strategy.CROSS_TITRATE, substitution_interval_days=7)
    )
    assert s.switch is not None and s.switch.other_table == EquivalenceTable.VA_DOD
    assert s.baseline_other_de_mg == 20  # alprazolam 1 mg ≈ diazepam 10 mg on VA/DoD
    assert [st.other_table_de_mg for st in s.steps if st.phase == Phase.SUBSTITUTION] == [30, 40]
    assert (s.switch.ratio_min, s.switch.ratio_max) == (Fraction(3, 2), 2)
    warning = next(w for w in s.warnings if w.code == "tables_disagree")
    assert "1.5–2×" in warning.detail and "alprazolam 0.5 mg" in warning.detail


def test_three_portions_give_the_one_and_a_third_of_issue_9():
    s = build_schedule(
        night("alprazolam", "1.5", strategy=Strategy.CROSS_TITRATE, substitution_interval_days=4)
    )
    ratios = [
        st.other_table_de_mg / s.baseline_other_de_mg for st in s.steps if st.phase == Phase.SUBSTITUTION
    ]
    assert ratios[0] == Fraction(4, 3) and ratios[-1] == 2


def test_liquid_and_tablets_do_not_alternate():
    """0.4 mL → 1½ tablets → 0.3 mL → 1 tablet was seen; a dose now changes form once, visibly."""
    for liquid in LiquidUse:
        s = build_schedule(night("lorazepam", "1", liquid=liquid, interval_days=28, rate_percent=10,
                                 override_reason="test", override_steps=frozenset(range(1, 40))))  # fmt: skip
        forms = [d.form for st in s.steps for d in st.doses if d.mg]
        changes = sum(1 for a, b in itertools.pairwise(forms) if a != b)
        assert changes <= 1 and forms == sorted(forms, key=lambda f: f != Form.TABLET)
        if liquid == LiquidUse.NEVER:
            assert set(forms) == {Form.TABLET}


@pytest.mark.parametrize(
    ("kw", "field", "words"),
    [
        (dict(regimen=(Administration("alprazolam", "900", NIGHT),)), "regimen", "above the 200 mg"),
        (dict(regimen=(Administration("diazepam", "10000", NIGHT),)), "regimen", "above the 200 mg"),
        (dict(interval_days=10000), "interval_days", "between 1 and 90 days"),
        (dict(holds=(Hold(days=10000, at_step=1),)), "holds[0].days", "between 1 and 180 days"),
        (dict(start_date=date(2999, 1, 1), not_before=START), "start_date", "within 180 days"),
        (
            dict(start_date=START - timedelta(days=1), not_before=START),
            "start_date",
            "must not be in the past",
        ),
        (
            dict(substitution_interval_days=60, strategy=Strategy.CROSS_TITRATE),
            "substitution_interval_days",
            "28",
        ),
    ],
)
def test_implausible_requests_are_refused_with_a_plain_message(kw, field, words):
    with pytest.raises(TaperInputError) as exc:
        build_schedule(night("diazepam", "10", **kw))
    assert exc.value.field == field and words in exc.value.message


def test_the_ceiling_is_checked_before_the_formulations():
    """900 mg alprazolam cannot be made from 8 tablets either; the person needs to hear about the dose."""
    with pytest.raises(TaperInputError) as exc:
        build_schedule(night("alprazolam", "900"))
    assert "18000 mg diazepam-equivalent" in exc.value.message


def test_a_high_dose_is_marked_and_warned():
    high = build_schedule(night("diazepam", "20"))
    low = build_schedule(night("diazepam", "10"))
    assert high.high_dose and not low.high_dose
    assert "high_dose" in {w.code for w in high.warnings} and "high_dose" not in {
        w.code for w in low.warnings
    }


def test_a_maintenance_target_says_truthfully_where_the_plan_ends():
    exact = build_schedule(night("diazepam", "10", target_de_mg=2))
    assert exact.final_de_mg == 2 and "the stated target" in exact.notes[0]
    near = build_schedule(
        night(
            "lorazepam",
            "1",
            target_de_mg=1,
            override_reason="test",
            override_steps=frozenset(range(1, 30)),
        )
    )
    assert near.final_de_mg > 1 and "at or above the 1 mg target" in near.notes[0]
    assert any(w.code == "above_target" for w in near.warnings)


def test_the_pace_shortfall_comes_with_what_would_keep_it():
    req = TaperRequest(
        regimen=(Administration("diazepam", "10", AM), Administration("diazepam", "10", NIGHT)),
        start_date=START,
        rate_percent=5,
        interval_days=28,
    )
    s = build_schedule(req)
    assert s.over_rate_steps
    for index in s.over_rate_steps:
        step = s.steps[index - 1]
        assert step.step_percent > Fraction(3, 2) * step.requested_percent
    options = for_pace(req, CAT, s)
    assert options[0].code == "liquid_for_pace" and options[0].fixes
    assert options[0].outcome == "keeps the requested pace at every step"


def test_a_revision_keeps_the_cap_across_the_join():
    """A pace change a week after a cut: the recomputed future counts the cut before it (prior steps)."""
    req = TaperRequest(
        regimen=(Administration("diazepam", "18", NIGHT),),
        start_date=START,
        rate_percent=20,
        interval_days=14,
        prior=(
            PriorStep(START - timedelta(days=21), Fraction(20)),
            PriorStep(START - timedelta(days=7), Fraction(18)),
        ),
        first_step_number=3,
    )
    s = build_schedule(req)
    assert s.steps[0].index == 3
    levels = [(p.start, p.daily_de_mg) for p in req.prior] + [(st.start, st.daily_de_mg) for st in s.steps]

    def in_effect(on):
        return next((de for start, de in reversed(levels) if start <= on), Fraction(20))

    for st in s.steps:
        ref = in_effect(st.start - timedelta(days=14))
        assert st.daily_de_mg >= Fraction(3, 4) * ref or "tail" in st.flags or "final_step" in st.flags
    assert "interval_lengthened" in s.steps[0].flags or s.steps[0].daily_de_mg >= 15
