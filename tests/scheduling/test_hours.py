"""Weekly attended hours against a level's hours band (scheduling/hours.py). Pure: no database."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from scheduling.hours import (
    REQUIREMENTS,
    Requirement,
    WeekHours,
    below_minimum_weeks_running,
    flag_below_two_weeks,
    status,
    to_hours,
    week_start,
    weekly_hours,
)

IOP = REQUIREMENTS["iop"]
PHP = REQUIREMENTS["php"]
OP = REQUIREMENTS["op"]
W1 = date(2027, 1, 4)  # a Monday
W2, W3, W4 = (W1 + timedelta(weeks=n) for n in (1, 2, 3))


def week(monday: date, minutes: int, complete: bool = True) -> WeekHours:
    return WeekHours(monday, minutes, to_hours(minutes), 1 if minutes else 0, complete)


def test_week_start_is_the_monday():
    assert week_start(date(2027, 1, 4)) == date(2027, 1, 4)
    assert week_start(date(2027, 1, 10)) == date(2027, 1, 4)  # Sunday
    assert week_start(date(2027, 1, 11)) == date(2027, 1, 11)


def test_weekly_hours_lists_every_week_including_empty_ones():
    attended = [(date(2027, 1, 5), 180), (date(2027, 1, 7), 180), (date(2027, 1, 20), 90)]
    # First and last weeks given as mid-week days: their Mondays are used.
    weeks = weekly_hours(attended, date(2027, 1, 6), date(2027, 1, 30))
    assert weeks == [
        WeekHours(W1, 360, Decimal("6.0"), 2, True),
        WeekHours(W2, 0, Decimal("0.0"), 0, True),
        WeekHours(W3, 90, Decimal("1.5"), 1, True),
        WeekHours(W4, 0, Decimal("0.0"), 0, True),
    ]


def test_weekly_hours_ignores_rows_outside_the_weeks_and_zero_minute_rows():
    attended = [
        (date(2027, 1, 3), 600),
        (date(2027, 1, 5), 0),
        (date(2027, 1, 6), 60),
        (date(2027, 1, 11), 600),
    ]
    assert weekly_hours(attended, W1, W1) == [WeekHours(W1, 60, Decimal("1.0"), 1, True)]


def test_hours_round_half_up_to_a_tenth():
    assert to_hours(99) == Decimal("1.7")  # 1.65 exactly; half-even would give 1.6
    assert to_hours(93) == Decimal("1.6")  # 1.55 exactly
    assert to_hours(539) == Decimal("9.0")  # 8.983...
    assert to_hours(0) == Decimal("0.0")


def test_weekly_hours_refuses_reversed_weeks_and_negative_minutes():
    with pytest.raises(ValueError, match="first_week is after last_week"):
        weekly_hours([], W2, W1)
    with pytest.raises(ValueError, match="negative minutes"):
        weekly_hours([(W1, -5)], W1, W1)


def test_a_week_is_complete_only_once_today_is_past_its_sunday():
    weeks = weekly_hours([], W1, W4, today=date(2027, 1, 24))  # the Sunday of W3
    assert [w.complete for w in weeks] == [True, True, False, False]
    weeks = weekly_hours([], W1, W4, today=date(2027, 1, 25))  # the Monday of W4
    assert [w.complete for w in weeks] == [True, True, True, False]
    assert all(w.complete for w in weekly_hours([], W1, W4))


@pytest.mark.parametrize(
    ("req", "minutes", "expected"),
    [
        (IOP, 539, "below"),  # shows as 9.0 hours but is 8 h 59 min
        (IOP, 540, "within"),
        (IOP, 1199, "within"),  # 19 h 59 min: IOP, not a gap between IOP and PHP
        (IOP, 1200, "above"),
        (PHP, 1199, "below"),
        (PHP, 3000, "within"),
        (OP, 0, "within"),
        (OP, 539, "within"),
        (OP, 540, "above"),
    ],
)
def test_status_compares_exact_minutes_with_the_half_open_band(req, minutes, expected):
    assert status(week(W1, minutes), req) == expected


def test_the_ceiling_is_exclusive_and_the_bands_meet():
    assert IOP.below_hours == PHP.min_hours == Decimal(20)
    assert OP.below_hours == IOP.min_hours == Decimal(9)


def test_requirement_refuses_a_minimum_at_or_above_its_ceiling():
    with pytest.raises(ValueError, match="the minimum must be below the ceiling"):
        Requirement("iop", Decimal(9), Decimal(9))
    with pytest.raises(ValueError, match="cannot be negative"):
        Requirement("op", None, Decimal(-1))


def test_below_runs_count_the_most_recent_complete_weeks():
    assert below_minimum_weeks_running([week(W1, 600), week(W2, 300), week(W3, 200)], IOP) == 2
    assert below_minimum_weeks_running([week(W1, 300), week(W2, 600), week(W3, 200)], IOP) == 1
    assert below_minimum_weeks_running([week(W1, 300), week(W2, 300), week(W3, 600)], IOP) == 0
    assert below_minimum_weeks_running([week(W1, 300), week(W2, 300), week(W3, 300)], IOP) == 3


def test_the_order_weeks_arrive_in_does_not_matter():
    assert below_minimum_weeks_running([week(W3, 200), week(W1, 600), week(W2, 300)], IOP) == 2


def test_a_week_in_progress_neither_counts_nor_breaks_a_run():
    # Only 2 hours so far this week: it is not over, so it is not a week below the minimum yet.
    in_progress = week(W3, 120, complete=False)
    assert below_minimum_weeks_running([week(W1, 600), week(W2, 300), in_progress], IOP) == 1
    assert not flag_below_two_weeks([week(W1, 600), week(W2, 300), in_progress], IOP)
    assert (
        below_minimum_weeks_running([week(W1, 300), week(W2, 300), week(W3, 900, complete=False)], IOP) == 2
    )


def test_the_in_progress_week_from_weekly_hours_is_left_out():
    attended = [(W1 + timedelta(days=1), 600), (W2 + timedelta(days=1), 300), (W3, 60)]
    weeks = weekly_hours(attended, W1, W3, today=W3 + timedelta(days=2))
    assert [w.complete for w in weeks] == [True, True, False]
    assert below_minimum_weeks_running(weeks, IOP) == 1


def test_a_missing_calendar_week_breaks_the_run():
    assert below_minimum_weeks_running([week(W1, 300), week(W3, 300)], IOP) == 1


def test_no_minimum_means_no_below_run():
    assert below_minimum_weeks_running([week(W1, 0), week(W2, 0)], OP) == 0
    assert not flag_below_two_weeks([week(W1, 0), week(W2, 0)], OP)


def test_flag_below_two_weeks():
    two_low = [week(W1, 600), week(W2, 300), week(W3, 300)]
    assert flag_below_two_weeks(two_low, IOP)
    assert not flag_below_two_weeks(two_low, IOP, run=3)
    assert not flag_below_two_weeks([week(W1, 300), week(W2, 600), week(W3, 300)], IOP)
    assert flag_below_two_weeks([week(W3, 300)], IOP, run=1)
    with pytest.raises(ValueError, match="run must be at least 1"):
        flag_below_two_weeks(two_low, IOP, run=0)
