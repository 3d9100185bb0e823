"""Weekly session patterns (scheduling/recurrence.py): validation, RRULE text, wording, occurrences across
daylight-saving changes, interval phase and "edit this and following" splits. Pure: no database."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scheduling.recurrence import (
    PatternError,
    WeeklyPattern,
    describe,
    first_local_start,
    occurrences,
    rrule_text,
    split_at,
    week_start,
)

NY = ZoneInfo("America/New_York")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def pattern(**changes) -> WeeklyPattern:
    fields = {"weekdays": (MON,), "start": time(18), "minutes": 90, "starts_on": date(2027, 2, 1)}
    return WeeklyPattern(**{**fields, **changes})


def dates(pairs: list[tuple[datetime, datetime]]) -> list[date]:
    return [start.date() for start, _ in pairs]


def elapsed(start: datetime, end: datetime) -> timedelta:
    # Aware datetimes sharing one tzinfo subtract as wall clock; compare instants in UTC.
    return end.astimezone(UTC) - start.astimezone(UTC)


# --- validation ---------------------------------------------------------------------------------------


def test_weekdays_are_sorted_on_construction():
    assert pattern(weekdays=(FRI, MON, WED)).weekdays == (MON, WED, FRI)
    assert pattern(weekdays=[WED, MON]).weekdays == (MON, WED)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"weekdays": ()}, "weekdays", "Choose at least one day of the week."),
        ({"weekdays": (MON, MON)}, "weekdays", "Choose each day of the week only once."),
        ({"weekdays": (7,)}, "weekdays", "Days of the week run from Monday (0) to Sunday (6)."),
        ({"weekdays": (True,)}, "weekdays", "Days of the week run from Monday (0) to Sunday (6)."),
        ({"start": "18:00"}, "start", "Enter the time the session starts."),
        (
            {"start": time(18, tzinfo=UTC)},
            "start",
            "Enter the start time as the clinic's local time, without a time zone.",
        ),
        ({"minutes": 4}, "minutes", "A session lasts between 5 minutes and 12 hours."),
        ({"minutes": 721}, "minutes", "A session lasts between 5 minutes and 12 hours."),
        ({"minutes": 90.0}, "minutes", "Enter the session length in whole minutes."),
        ({"starts_on": datetime(2027, 2, 1)}, "starts_on", "Enter the date of the first session."),
        (
            {"ends_on": date(2027, 1, 31)},
            "ends_on",
            "The last date must be on or after the first date (1 Feb 2027).",
        ),
        ({"interval": 0}, "interval", "Repeat every 1 to 4 weeks."),
        ({"interval": 5}, "interval", "Repeat every 1 to 4 weeks."),
        (
            {"interval": 2, "phase_from": date(2027, 2, 2)},
            "phase_from",
            "The repeat must count from a date on or before the first session.",
        ),
    ],
)
def test_each_bad_field_is_refused_with_a_plain_message(changes, field, message):
    with pytest.raises(PatternError) as caught:
        pattern(**changes)
    assert caught.value.field == field
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


def test_the_length_limits_themselves_are_allowed():
    assert pattern(minutes=5).minutes == 5
    assert pattern(minutes=720).minutes == 720
    assert pattern(ends_on=date(2027, 2, 1)).ends_on == date(2027, 2, 1)


def test_phase_is_stored_canonically():
    # Interval 1 has no phase; a phase a whole number of intervals back is the starts_on week itself.
    assert pattern(phase_from=date(2027, 1, 4)).phase_from is None
    assert pattern(interval=2, phase_from=date(2027, 1, 18)).phase_from is None
    # 3 weeks back with interval 2: the latest session week on or before 1 Feb is 25 Jan.
    assert pattern(interval=2, phase_from=date(2027, 1, 13)).phase_from == date(2027, 1, 25)
    assert pattern(interval=2, phase_from=date(2027, 1, 13)).phase_week == date(2027, 1, 25)


# --- RRULE text and wording ---------------------------------------------------------------------------


def test_rrule_text_without_and_with_an_end():
    assert rrule_text(pattern(weekdays=(WED, MON))) == "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE"
    assert (
        rrule_text(pattern(weekdays=(MON, WED), ends_on=date(2027, 1, 31), starts_on=date(2027, 1, 4)))
        == "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE;UNTIL=20270131T235959"
    )
    assert rrule_text(pattern(weekdays=(TUE, SUN), interval=3)) == "FREQ=WEEKLY;INTERVAL=3;BYDAY=TU,SU"


def test_rrule_text_with_first_local_start_reproduces_the_dates_of_a_split_interval_2_pattern():
    original = pattern(weekdays=(MON, THU), interval=2, starts_on=date(2027, 1, 4), ends_on=date(2027, 6, 30))
    _, after = split_at(original, date(2027, 1, 13))  # a week without sessions
    dtstart = first_local_start(after)
    assert dtstart == datetime(2027, 1, 18, 18, 0)
    from_text = rrulestr(rrule_text(after), dtstart=dtstart)
    expected = dates(occurrences(after, NY, date(2027, 1, 1), date(2027, 12, 31)))
    assert [d.date() for d in from_text] == expected


def test_describe_weekly_and_every_other_week():
    assert (
        describe(pattern(weekdays=(WED, MON), starts_on=date(2027, 1, 4)))
        == "Every Monday and Wednesday, 6:00 pm–7:30 pm, from 4 Jan 2027"
    )
    assert (
        describe(
            pattern(
                weekdays=(TUE,),
                start=time(9, 30),
                minutes=180,
                interval=2,
                starts_on=date(2027, 1, 5),
                ends_on=date(2027, 3, 30),
            )
        )
        == "Every 2 weeks on Tuesday, 9:30 am–12:30 pm, from 5 Jan 2027 until 30 Mar 2027"
    )


def test_describe_three_days_noon_and_a_session_past_midnight():
    assert describe(pattern(weekdays=(FRI, MON, WED), start=time(12), minutes=60)).startswith(
        "Every Monday, Wednesday and Friday, 12:00 pm–1:00 pm,"
    )
    assert describe(pattern(weekdays=(SAT,), start=time(23), minutes=120)).startswith(
        "Every Saturday, 11:00 pm–1:00 am (next day),"
    )


# --- occurrences across daylight-saving changes -------------------------------------------------------


def test_a_6pm_group_stays_at_6pm_local_across_both_dst_changes():
    group = pattern(weekdays=(MON,), start=time(18), minutes=90, ends_on=date(2027, 12, 31))
    found = occurrences(group, NY, date(2027, 1, 1), date(2027, 12, 31))
    assert len(found) == 48  # Mondays 1 Feb .. 27 Dec 2027
    assert {start.time() for start, _ in found} == {time(18)}
    assert {end.time() for _, end in found} == {time(19, 30)}
    utc_hours = [start.astimezone(UTC).hour for start, _ in found]
    # EST until 14 Mar (6 Mondays from 1 Feb), EDT until 7 Nov (34), EST again (8).
    assert utc_hours == [23] * 6 + [22] * 34 + [23] * 8
    assert found[5][0].date() == date(2027, 3, 8)
    assert found[6][0].date() == date(2027, 3, 15)
    assert found[40][0].date() == date(2027, 11, 8)


def test_a_start_in_the_spring_forward_gap_moves_to_the_real_instant_after_it():
    early = pattern(weekdays=(SUN,), start=time(2, 30), minutes=60, starts_on=date(2027, 3, 7))
    week_before, gap_day, week_after = occurrences(early, NY, date(2027, 3, 7), date(2027, 3, 21))
    assert week_before[0].time() == time(2, 30)
    start, end = gap_day
    assert (start.date(), start.time()) == (date(2027, 3, 14), time(3, 30))
    assert start.utcoffset() == timedelta(hours=-4)  # EDT
    assert start.astimezone(UTC) == datetime(2027, 3, 14, 7, 30, tzinfo=UTC)
    assert end.time() == time(4, 30)
    assert elapsed(start, end) == timedelta(minutes=60)
    assert week_after[0].time() == time(2, 30)


def test_an_ambiguous_fall_back_start_takes_the_first_instant_and_length_is_elapsed_time():
    night = pattern(weekdays=(SUN,), start=time(1, 30), minutes=60, starts_on=date(2027, 11, 7))
    [(start, end)] = occurrences(night, NY, date(2027, 11, 7), date(2027, 11, 7))
    assert start.fold == 0
    assert start.utcoffset() == timedelta(hours=-4)  # still EDT: the first 1:30
    assert start.astimezone(UTC) == datetime(2027, 11, 7, 5, 30, tzinfo=UTC)
    # An hour later is 1:30 again, now EST.
    assert end.time() == time(1, 30)
    assert end.utcoffset() == timedelta(hours=-5)
    assert elapsed(start, end) == timedelta(minutes=60)


def test_a_session_over_the_fall_back_lasts_its_minutes_not_its_wall_clock():
    night = pattern(weekdays=(SUN,), start=time(1), minutes=180, starts_on=date(2027, 11, 7))
    [(start, end)] = occurrences(night, NY, date(2027, 11, 7), date(2027, 11, 7))
    assert elapsed(start, end) == timedelta(hours=3)
    assert end.time() == time(3)  # wall-clock arithmetic would say 4:00


def test_window_and_pattern_dates_clip_each_other_inclusively():
    group = pattern(weekdays=(MON, WED), starts_on=date(2027, 2, 3), ends_on=date(2027, 2, 15))
    assert dates(occurrences(group, NY, date(2027, 1, 1), date(2027, 3, 31))) == [
        date(2027, 2, 3),
        date(2027, 2, 8),
        date(2027, 2, 10),
        date(2027, 2, 15),
    ]
    assert dates(occurrences(group, NY, date(2027, 2, 8), date(2027, 2, 10))) == [
        date(2027, 2, 8),
        date(2027, 2, 10),
    ]
    assert occurrences(group, NY, date(2027, 2, 16), date(2027, 3, 31)) == []
    assert occurrences(group, NY, date(2027, 2, 10), date(2027, 2, 8)) == []


# --- interval phase -----------------------------------------------------------------------------------


def every_other_week() -> WeeklyPattern:
    # Starts on a Wednesday: its week (Monday 4 Jan) is week 0, so Monday 4 Jan itself is before the start.
    return pattern(weekdays=(MON, WED), interval=2, starts_on=date(2027, 1, 6))


def test_interval_2_counts_from_the_week_of_starts_on():
    found = dates(occurrences(every_other_week(), NY, date(2027, 1, 1), date(2027, 2, 28)))
    assert found == [
        date(2027, 1, 6),
        date(2027, 1, 18),
        date(2027, 1, 20),
        date(2027, 2, 1),
        date(2027, 2, 3),
        date(2027, 2, 15),
        date(2027, 2, 17),
    ]


@pytest.mark.parametrize(
    "window_start",
    [date(2027, 1, 11), date(2027, 1, 19), date(2027, 3, 1), date(2027, 3, 8), date(2028, 6, 14)],
)
def test_interval_2_gives_the_same_dates_whatever_window_is_asked_for(window_start):
    group = every_other_week()
    window_end = window_start + timedelta(days=60)
    whole = dates(occurrences(group, NY, date(2027, 1, 1), date(2028, 12, 31)))
    part = dates(occurrences(group, NY, window_start, window_end))
    assert part == [d for d in whole if window_start <= d <= window_end]
    assert part, "the window holds sessions"
    assert all((week_start(d) - date(2027, 1, 4)).days % 14 == 0 for d in part)


# --- split_at -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "day",
    [
        date(2027, 1, 13),  # a Wednesday in a week without sessions
        date(2027, 1, 19),  # a Tuesday between two sessions
        date(2027, 2, 1),  # a session day
        date(2027, 5, 30),
    ],
)
def test_split_at_keeps_every_date_on_its_side(day):
    original = dataclasses.replace(every_other_week(), ends_on=date(2027, 12, 31))
    before, after = split_at(original, day)
    whole = dates(occurrences(original, NY, date(2027, 1, 1), date(2027, 12, 31)))
    assert before is not None
    assert before.ends_on == day - timedelta(days=1)
    assert after.starts_on == day
    assert dates(occurrences(after, NY, date(2027, 1, 1), date(2027, 12, 31))) == [
        d for d in whole if d >= day
    ]
    assert dates(occurrences(before, NY, date(2027, 1, 1), date(2027, 12, 31))) == [
        d for d in whole if d < day
    ]


def test_a_plain_copy_from_an_off_week_would_shift_the_phase():
    # Why split_at carries the phase: restarting the count on 13 Jan moves the group by a week.
    original = every_other_week()
    _, after = split_at(original, date(2027, 1, 13))
    naive_copy = dataclasses.replace(original, starts_on=date(2027, 1, 13))
    window = (date(2027, 1, 1), date(2027, 3, 31))
    assert dates(occurrences(after, NY, *window))[:2] == [date(2027, 1, 18), date(2027, 1, 20)]
    assert dates(occurrences(naive_copy, NY, *window))[:2] == [date(2027, 1, 13), date(2027, 1, 25)]
    assert after.phase_from == date(2027, 1, 4)


def test_split_on_a_session_week_needs_no_phase_and_equals_a_fresh_pattern():
    _, after = split_at(every_other_week(), date(2027, 1, 18))
    assert after.phase_from is None
    assert after == dataclasses.replace(every_other_week(), starts_on=date(2027, 1, 18))


def test_split_at_or_before_the_start_leaves_no_first_part():
    original = every_other_week()
    assert split_at(original, date(2027, 1, 6)) == (None, original)
    assert split_at(original, date(2026, 12, 1)) == (None, original)


def test_split_before_the_first_session_leaves_no_first_part():
    # Starts Monday 1 Feb with sessions on Fridays: nothing falls on 1-3 Feb.
    original = pattern(weekdays=(FRI,), starts_on=date(2027, 2, 1))
    before, after = split_at(original, date(2027, 2, 4))
    assert before is None
    assert dates(occurrences(after, NY, date(2027, 2, 1), date(2027, 2, 12))) == [
        date(2027, 2, 5),
        date(2027, 2, 12),
    ]


def test_split_after_the_series_ends_is_refused():
    original = pattern(ends_on=date(2027, 3, 1))
    with pytest.raises(PatternError, match=r"on or before the last date of the series \(1 Mar 2027\)"):
        split_at(original, date(2027, 3, 2))
    before, after = split_at(original, date(2027, 3, 1))
    assert (before.ends_on, after.starts_on, after.ends_on) == (
        date(2027, 2, 28),
        date(2027, 3, 1),
        date(2027, 3, 1),
    )


# --- property -----------------------------------------------------------------------------------------

ZONES = [NY, ZoneInfo("Europe/London"), ZoneInfo("Australia/Lord_Howe")]  # Lord Howe shifts by 30 minutes


@st.composite
def cases(draw):
    starts_on = draw(st.dates(date(2026, 1, 1), date(2028, 12, 31)))
    ends_on = draw(st.none() | st.integers(0, 400).map(lambda n: starts_on + timedelta(days=n)))
    phase_from = draw(st.none() | st.integers(0, 90).map(lambda n: starts_on - timedelta(days=n)))
    any_time = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
    # Sundays in the small hours meet the transitions of all three zones (gaps and folds) often enough.
    night = st.sampled_from([time(1), time(1, 30), time(2), time(2, 15), time(2, 30), time(2, 45)])
    weekdays = st.sets(st.integers(0, 6), min_size=1)
    group = WeeklyPattern(
        weekdays=tuple(draw(weekdays | weekdays.map(lambda days: days | {SUN}))),
        start=draw(any_time | night),
        minutes=draw(st.integers(5, 720)),
        starts_on=starts_on,
        ends_on=ends_on,
        interval=draw(st.integers(1, 4)),
        phase_from=phase_from,
    )
    window_start = draw(st.dates(starts_on - timedelta(days=30), starts_on + timedelta(days=400)))
    window_end = window_start + timedelta(days=draw(st.integers(0, 400)))
    return group, draw(st.sampled_from(ZONES)), window_start, window_end, phase_from


def expected_dates(group: WeeklyPattern, window_start: date, window_end: date, phase_from) -> list[date]:
    """Counted by hand from the raw phase input, independently of dateutil and of the canonical phase."""
    phase_week = week_start(phase_from or group.starts_on)
    found = []
    day = max(window_start, group.starts_on)
    last = window_end if group.ends_on is None else min(window_end, group.ends_on)
    while day <= last:
        if day.weekday() in group.weekdays and (week_start(day) - phase_week).days // 7 % group.interval == 0:
            found.append(day)
        day += timedelta(days=1)
    return found


def exists(naive: datetime, zone: ZoneInfo) -> bool:
    return naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive


GAP_EXAMPLES = [
    # 2:30 on 14 Mar 2027 in New York and 2:15 on 3 Oct 2027 on Lord Howe (a 30-minute gap) do not exist.
    (pattern(weekdays=(SUN,), start=time(2, 30), starts_on=date(2027, 3, 7)), NY, date(2027, 3, 1)),
    (pattern(weekdays=(SUN,), start=time(2, 15), starts_on=date(2027, 9, 5)), ZONES[2], date(2027, 9, 1)),
]


@settings(max_examples=300, deadline=None)
@given(cases())
@example((*GAP_EXAMPLES[0], date(2027, 3, 31), None))
@example((*GAP_EXAMPLES[1], date(2027, 10, 31), None))
def test_every_occurrence_is_at_the_pattern_time_or_a_shifted_gap_time_and_none_is_missing(case):
    group, zone, window_start, window_end, phase_from = case
    found = occurrences(group, zone, window_start, window_end)
    assert dates(found) == expected_dates(group, window_start, window_end, phase_from)
    for start, end in found:
        naive = datetime.combine(start.date(), group.start)
        if exists(naive, zone):
            assert start.time() == group.start
            assert start.fold == 0
        else:
            before_gap = (start.astimezone(UTC) - timedelta(hours=3)).astimezone(zone).utcoffset()
            assert start.replace(tzinfo=None) - naive == start.utcoffset() - before_gap
            assert start.time() != group.start
        assert elapsed(start, end) == timedelta(minutes=group.minutes)
