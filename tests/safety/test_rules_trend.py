"""Pure rising-withdrawal-trend rule (no database): worked examples and Hypothesis properties."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from hypothesis import assume, given
from hypothesis import strategies as st

from safety.rules.facts import ScorePoint
from safety.rules.policy import policy
from safety.rules.trend import trend_key, withdrawal_trend_finding

PATIENT = uuid.UUID(int=1)
STEP = date(2026, 11, 10)
N = policy().trend.window_days
CIWA = next(s for s in policy().trend.series if s.id == "ciwa_b")
CHECKIN = next(s for s in policy().trend.series if s.id == "checkin_symptoms")


def point(day: date, value, n: int = 0) -> ScorePoint:
    return ScorePoint(
        day,
        Decimal(str(value)),
        uuid.UUID(int=day.toordinal() * 10 + n),
        datetime.combine(day, time(12), UTC),
    )


def run(ciwa=(), checkins=(), as_of=None, step_start=STEP):
    return withdrawal_trend_finding(
        patient_id=PATIENT,
        step_start=step_start,
        as_of=as_of or step_start + timedelta(days=N - 1),
        series={"ciwa_b": list(ciwa), "checkin_symptoms": list(checkins)},
        step={"daily_de_mg": "18"},
    )


def daily(values, start: date):
    return [point(start + timedelta(days=i), v) for i, v in enumerate(values)]


def test_policy_is_program_policy_marked_unverified():
    assert policy().trend.status == "U"
    assert all(s.status == "U" for s in policy().trend.series)


def test_checkin_scores_rising_by_the_minimum_fire():
    before = daily([4, 5, 6], STEP - timedelta(days=3))  # mean 5
    after = daily([7, 8, 9], STEP)  # mean 8: a rise of exactly 3
    finding = run(checkins=before + after)
    assert finding is not None
    assert finding.rule_id == "withdrawal_trend_rising"
    assert finding.dedup_key == trend_key(PATIENT, STEP) == f"withdrawal_trend_rising:{PATIENT}:2026-11-10"
    (series,) = finding.evidence["series"]
    assert series["id"] == "checkin_symptoms"
    assert (series["mean_before"], series["mean_after"], series["rise"]) == ("5.00", "8.00", "3.00")
    assert [p["value"] for p in series["after"]] == ["7", "8", "9"]
    assert finding.evidence["step_start"] == "2026-11-10"
    assert "consider holding" in finding.evidence["suggestion"]
    assert finding.occurred_at == after[-1].at


def test_a_rise_just_below_the_minimum_does_not_fire():
    before = daily([5, 5, 5], STEP - timedelta(days=3))
    after = daily([8, 8, 7], STEP)  # mean 7.67: a rise of 2.67
    assert run(checkins=before + after) is None


def test_too_few_scores_after_the_step_do_not_fire_yet():
    before = daily([2, 2, 2], STEP - timedelta(days=3))
    after = daily([20, 20], STEP)
    assert run(checkins=before + after) is None
    assert run(checkins=before + after + daily([20], STEP + timedelta(days=2))) is not None


def test_ciwa_b_series_with_one_score_each_side():
    finding = run(ciwa=[point(STEP - timedelta(days=2), 12), point(STEP + timedelta(days=3), 17)])
    assert finding is not None and [s["id"] for s in finding.evidence["series"]] == ["ciwa_b"]
    assert run(ciwa=[point(STEP - timedelta(days=2), 12), point(STEP + timedelta(days=3), 16)]) is None


def test_both_series_rising_give_one_finding_listing_both():
    checkins = daily([1, 1, 1], STEP - timedelta(days=3)) + daily([9, 9, 9], STEP)
    ciwa = [point(STEP - timedelta(days=1), 10), point(STEP + timedelta(days=1), 30)]
    finding = run(ciwa=ciwa, checkins=checkins)
    assert [s["id"] for s in finding.evidence["series"]] == ["ciwa_b", "checkin_symptoms"]


def test_scores_outside_the_windows_and_after_as_of_are_ignored():
    old = daily([0] * 5, STEP - timedelta(days=N + 5))  # before the before-window
    before = daily([5, 5, 5], STEP - timedelta(days=3))
    after = daily([9, 9, 9], STEP)
    late = daily([0] * 5, STEP + timedelta(days=N))  # after the after-window
    assert run(checkins=old + before + after + late) is not None
    # Scores recorded after as_of are not seen (a sweep run "as of" an earlier moment is reproducible).
    assert run(checkins=before + after, as_of=STEP + timedelta(days=1)) is None


def test_no_finding_before_the_step_starts():
    assert run(checkins=daily([9] * 6, STEP - timedelta(days=6)), as_of=STEP - timedelta(days=1)) is None


# --- properties ----------------------------------------------------------------------------------------
SCORES = st.lists(st.integers(0, 27), min_size=3, max_size=N)


@st.composite
def two_windows(draw):
    before = draw(SCORES)
    after = draw(SCORES)
    return daily(before, STEP - timedelta(days=len(before))), daily(after, STEP)


def fires(points) -> bool:
    return run(checkins=points) is not None


def mean(points) -> Decimal:
    return sum(p.value for p in points) / len(points)


@given(two_windows())
def test_fires_exactly_when_the_mean_rises_by_the_minimum(windows):
    before, after = windows
    rise_times_n = sum(p.value for p in after) * len(before) - sum(p.value for p in before) * len(after)
    assert fires(before + after) == (rise_times_n >= CHECKIN.min_rise * len(before) * len(after))


@given(two_windows(), st.integers(-5, 20))
def test_adding_a_constant_to_every_score_changes_nothing(windows, shift):
    before, after = windows
    shifted = [point(p.day, p.value + shift) for p in before + after]
    assert fires(before + after) == fires(shifted)


@given(two_windows(), st.data())
def test_worse_scores_after_the_step_never_remove_the_finding(windows, data):
    before, after = windows
    assume(fires(before + after))
    i = data.draw(st.integers(0, len(after) - 1))
    worse = list(after)
    worse[i] = point(worse[i].day, worse[i].value + data.draw(st.integers(1, 10)))
    assert fires(before + worse)


@given(two_windows(), st.data())
def test_worse_scores_before_the_step_never_create_a_finding(windows, data):
    before, after = windows
    assume(not fires(before + after))
    i = data.draw(st.integers(0, len(before) - 1))
    worse = list(before)
    worse[i] = point(worse[i].day, worse[i].value + data.draw(st.integers(1, 10)))
    assert not fires(worse + after)


@given(two_windows(), st.data())
def test_order_of_the_scores_does_not_matter(windows, data):
    before, after = windows
    points = before + after
    shuffled = data.draw(st.permutations(points))
    assert run(checkins=points) == run(checkins=shuffled)
