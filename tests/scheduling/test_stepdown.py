"""Step-down suggestions (scheduling/stepdown.py) and their program-policy data file. Pure: no database."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta
from decimal import Decimal

import pytest

from scheduling.hours import WeekHours, to_hours
from scheduling.stepdown import CRITERIA_FILE, StepDownCriteria, StepDownFacts, load_criteria, suggest

TODAY = date(2027, 2, 3)  # a Wednesday; its week (1 Feb) is in progress
JAN4, JAN11, JAN18, JAN25, FEB1 = (date(2027, 1, 4) + timedelta(weeks=n) for n in range(5))
CRITERIA = StepDownCriteria(full_attendance_weeks=3, ciwa_b_below=10, ciwa_b_days=14, ciwa_b_min_scores=2)
CALM_SCORES = [
    (date(2027, 1, 10), "ciwa_b", 18),  # before the 14-day window (20 Jan .. 3 Feb)
    (date(2027, 1, 22), "ciwa_b", 6),
    (date(2027, 1, 27), "ciwa_b", 8),
    (date(2027, 2, 2), "ciwa_b", 5),
    (date(2027, 2, 1), "phq9", 20),  # another instrument
]


def weeks_from(first: date) -> list[WeekHours]:
    found, monday = [], first
    while monday < FEB1:
        found.append(WeekHours(monday, 600, to_hours(600), 3))
        monday += timedelta(weeks=1)
    return found


def facts(**changes) -> StepDownFacts:
    full = {JAN4: 3, JAN11: 3, JAN18: 3, JAN25: 3}
    fields = {
        "level": "iop",
        "weeks": weeks_from(JAN4),
        "scheduled_sessions_by_week": {**full, FEB1: 3},
        "attended_sessions_by_week": {**full, FEB1: 1},  # this week is not over
        "scores": CALM_SCORES,
        "taper_progress": Decimal("0.4"),
        "today": TODAY,
    }
    return StepDownFacts(**{**fields, **changes})


def test_eligible_iop_patient_is_suggested_outpatient_with_its_reasons():
    result = suggest(facts(), CRITERIA)
    assert result is not None
    assert (result.from_level, result.to_level, result.eligible) == ("iop", "op", True)
    assert result.reasons == (
        "3 weeks of full attendance",
        "CIWA-B below 10 for 14 days (last 3 scores: 6, 8, 5)",
    )
    assert result.blocking == ()


def test_php_steps_down_to_iop_and_outpatient_has_nowhere_to_go():
    assert suggest(facts(level="php"), CRITERIA).to_level == "iop"
    assert suggest(facts(level="op"), CRITERIA) is None


def test_a_missed_session_blocks_and_names_its_week():
    result = suggest(facts(attended_sessions_by_week={JAN11: 3, JAN18: 2, JAN25: 3}), CRITERIA)
    assert not result.eligible
    assert result.blocking == ("Week of 18 Jan 2027: attended 2 of 3 scheduled sessions.",)
    # What is met is still shown.
    assert result.reasons == ("CIWA-B below 10 for 14 days (last 3 scores: 6, 8, 5)",)


def test_a_week_before_the_last_three_does_not_matter():
    result = suggest(facts(attended_sessions_by_week={JAN4: 0, JAN11: 3, JAN18: 3, JAN25: 3}), CRITERIA)
    assert result.eligible


def test_a_week_with_nothing_scheduled_is_not_full_attendance():
    result = suggest(facts(scheduled_sessions_by_week={JAN11: 3, JAN25: 3}), CRITERIA)
    assert not result.eligible
    assert result.blocking == ("Week of 18 Jan 2027: no sessions were scheduled.",)


def test_too_few_weeks_at_this_level():
    result = suggest(facts(weeks=weeks_from(JAN18)), CRITERIA)
    assert not result.eligible
    assert result.blocking == (
        "Only 2 completed weeks at this level so far; 3 weeks of full attendance are needed.",
    )
    assert suggest(facts(weeks=[]), CRITERIA).blocking[0] == (
        "No completed weeks at this level so far; 3 weeks of full attendance are needed."
    )


def test_a_high_ciwa_b_score_in_the_window_blocks():
    scores = [*CALM_SCORES, (date(2027, 1, 30), "ciwa_b", 12)]
    result = suggest(facts(scores=scores), CRITERIA)
    assert not result.eligible
    assert result.blocking == (
        "CIWA-B 10 or higher on 1 of 4 scores in the last 14 days (latest 12 on 30 Jan 2027).",
    )
    assert result.reasons == ("3 weeks of full attendance",)


def test_a_score_of_exactly_the_cut_off_blocks():
    scores = [(date(2027, 1, 25), "ciwa_b", 10), (date(2027, 2, 1), "ciwa_b", 9)]
    assert not suggest(facts(scores=scores), CRITERIA).eligible
    scores = [(date(2027, 1, 25), "ciwa_b", 9), (date(2027, 2, 1), "ciwa_b", 9)]
    assert suggest(facts(scores=scores), CRITERIA).eligible


def test_one_score_in_the_window_is_not_enough():
    scores = [
        (date(2027, 1, 19), "ciwa_b", 4),
        (date(2027, 2, 1), "ciwa_b", 3),
        (date(2027, 2, 1), "gad7", 2),
    ]
    result = suggest(facts(scores=scores), CRITERIA)
    assert not result.eligible
    assert result.blocking == ("1 CIWA-B score in the last 14 days; at least 2 are needed.",)
    assert suggest(facts(scores=[]), CRITERIA).blocking == (
        "No CIWA-B score in the last 14 days; at least 2 are needed.",
    )


def test_the_window_starts_14_days_before_today_inclusive_and_ignores_future_dates():
    on_edge = [(date(2027, 1, 20), "ciwa_b", 7), (date(2027, 2, 3), "ciwa_b", 6)]
    assert suggest(facts(scores=on_edge), CRITERIA).reasons[1] == (
        "CIWA-B below 10 for 14 days (last 2 scores: 7, 6)"
    )
    future_high = [*on_edge, (date(2027, 2, 4), "ciwa_b", 30)]
    assert suggest(facts(scores=future_high), CRITERIA).eligible
    outside = [(date(2027, 1, 19), "ciwa_b", 7), (date(2027, 2, 3), "ciwa_b", 6)]
    assert not suggest(facts(scores=outside), CRITERIA).eligible


def test_taper_progress_counts_only_when_the_program_sets_it():
    needs_quarter = dataclasses.replace(CRITERIA, min_taper_progress=Decimal("0.25"))
    met = suggest(facts(taper_progress=Decimal("0.3")), needs_quarter)
    assert met.eligible
    assert met.reasons[-1] == "Taper 30% complete (at least 25%)"
    short = suggest(facts(taper_progress=Decimal("0.2")), needs_quarter)
    assert short.blocking == ("Taper 20% complete; the program asks for 25% first.",)
    unknown = suggest(facts(taper_progress=None), needs_quarter)
    assert unknown.blocking == ("Taper progress is not recorded; the program asks for 25% first.",)
    assert suggest(facts(taper_progress=None), CRITERIA).eligible


def test_facts_refuse_an_unknown_level_and_a_progress_outside_0_to_1():
    with pytest.raises(ValueError, match="unknown level of care"):
        facts(level="residential")
    with pytest.raises(ValueError, match="between 0 and 1"):
        facts(taper_progress=Decimal("1.5"))


def test_the_data_file_gives_the_default_criteria():
    assert load_criteria() == StepDownCriteria(
        full_attendance_weeks=3, ciwa_b_below=10, ciwa_b_days=14, ciwa_b_min_scores=2, min_taper_progress=None
    )


def test_every_criterion_in_the_data_file_is_program_policy_with_status_u():
    data = json.loads(CRITERIA_FILE.read_text(encoding="utf-8"))
    assert "PROGRAM POLICY" in data["note"]
    assert set(data["criteria"]) == {f.name for f in dataclasses.fields(StepDownCriteria)}
    for name, entry in data["criteria"].items():
        assert entry["status"] == "U", name
        assert entry["source"].startswith("Program policy"), name
        assert "No guideline sets this" in entry["source"] or "No guideline sets a" in entry["source"], name


def test_a_value_outside_its_range_in_the_data_file_is_refused(tmp_path):
    data = json.loads(CRITERIA_FILE.read_text(encoding="utf-8"))
    data["criteria"]["full_attendance_weeks"]["value"] = 0
    path = tmp_path / "stepdown.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="full_attendance_weeks must lie between 1 and 12"):
        load_criteria(path)
