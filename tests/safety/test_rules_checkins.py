"""Pure check-in rules (no database): guidance alerts, cut-off instants across daylight-saving changes, the
days a sweep re-checks, and the missed-check-in finding."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from safety.rules.checkins import (
    cutoff_instant,
    due_days,
    guidance_findings,
    missed_checkin_finding,
    missed_key,
)
from safety.rules.facts import CheckInFact

PATIENT = uuid.UUID(int=1)
CHECKIN = uuid.UUID(int=4)
EIGHT_PM = time(20, 0)
NY, LA, AKL, LON = (
    ZoneInfo(z) for z in ("America/New_York", "America/Los_Angeles", "Pacific/Auckland", "Europe/London")
)


def z(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("guidance", "rule"),
    [("emergency", "checkin_guidance_emergency"), ("call_team", "checkin_guidance_call_team"), ("", None)],
)
def test_guidance(guidance, rule):
    checkin = CheckInFact(CHECKIN, PATIENT, date(2026, 11, 2), z(2026, 11, 2, 15), guidance)
    findings = guidance_findings(checkin)
    assert [f.rule_id for f in findings] == ([rule] if rule else [])
    if rule:
        assert findings[0].dedup_key == f"{rule}:{CHECKIN}"
        assert findings[0].occurred_at == z(2026, 11, 2, 15)


@pytest.mark.parametrize(
    ("tz", "day", "expected"),
    [
        (NY, date(2026, 3, 7), z(2026, 3, 8, 1)),  # EST, UTC-5
        (NY, date(2026, 3, 8), z(2026, 3, 9, 0)),  # clocks went forward that morning: EDT, UTC-4
        (NY, date(2026, 10, 31), z(2026, 11, 1, 0)),  # EDT
        (NY, date(2026, 11, 1), z(2026, 11, 2, 1)),  # clocks went back that morning: EST
        (LA, date(2026, 3, 8), z(2026, 3, 9, 3)),  # PDT, UTC-7
        (AKL, date(2026, 4, 4), z(2026, 4, 4, 7)),  # NZDT, UTC+13
        (AKL, date(2026, 4, 5), z(2026, 4, 5, 8)),  # NZ summer time ended that morning: NZST, UTC+12
        (AKL, date(2026, 9, 27), z(2026, 9, 27, 7)),  # NZ summer time began that morning
        (LON, date(2026, 3, 28), z(2026, 3, 28, 20)),  # GMT
        (LON, date(2026, 3, 29), z(2026, 3, 29, 19)),  # BST began that morning
    ],
)
def test_cutoff_instant_follows_the_local_clock(tz, day, expected):
    assert cutoff_instant(day, EIGHT_PM, tz) == expected


def test_cutoff_in_a_spring_forward_gap_lands_just_after_it():
    # 02:30 does not exist in New York on 2026-03-08 (02:00 → 03:00): it resolves to 03:30 EDT.
    instant = cutoff_instant(date(2026, 3, 8), time(2, 30), NY)
    assert instant == z(2026, 3, 8, 7, 30)
    assert instant.astimezone(NY).strftime("%Y-%m-%d %H:%M") == "2026-03-08 03:30"


def test_cutoff_in_an_autumn_overlap_is_the_first_occurrence():
    # 01:30 happens twice in New York on 2026-11-01: the first (EDT) one is used.
    assert cutoff_instant(date(2026, 11, 1), time(1, 30), NY) == z(2026, 11, 1, 5, 30)


def test_due_days_around_the_cutoff_on_a_dst_day():
    just_before = z(2026, 3, 8, 23, 59)  # 19:59 EDT on Sunday 8 March
    just_after = z(2026, 3, 9, 0, 0)  # 20:00 EDT
    assert [d for d, _ in due_days(now=just_before, cutoff=EIGHT_PM, tz=NY, lookback_days=3)] == [
        date(2026, 3, 7),
        date(2026, 3, 6),
        date(2026, 3, 5),
    ]
    assert due_days(now=just_after, cutoff=EIGHT_PM, tz=NY, lookback_days=3)[0] == (
        date(2026, 3, 8),
        just_after,
    )


def test_due_days_uses_the_clinic_calendar_not_utc():
    now = z(
        2026, 4, 5, 9
    )  # 21:00 Sunday in Auckland, 22:00 Saturday in Los Angeles... no: 02:00 Sunday in LA
    assert due_days(now=now, cutoff=EIGHT_PM, tz=AKL, lookback_days=1)[0][0] == date(2026, 4, 5)
    assert due_days(now=now, cutoff=EIGHT_PM, tz=LA, lookback_days=1)[0][0] == date(2026, 4, 4)


def test_due_days_needs_an_aware_now():
    with pytest.raises(ValueError):
        due_days(now=datetime(2026, 1, 1), cutoff=EIGHT_PM, tz=NY)


def test_missed_finding():
    finding = missed_checkin_finding(
        patient_id=PATIENT,
        local_date=date(2026, 3, 8),
        cutoff_at=z(2026, 3, 9),
        cutoff=EIGHT_PM,
        timezone="America/New_York",
    )
    assert finding.rule_id == "checkin_missed"
    assert (
        finding.dedup_key == missed_key(PATIENT, date(2026, 3, 8)) == f"checkin_missed:{PATIENT}:2026-03-08"
    )
    assert finding.occurred_at == z(2026, 3, 9)
    assert finding.evidence["cutoff"] == "20:00" and finding.evidence["local_date"] == "2026-03-08"


ZONES = st.sampled_from(
    [NY, LA, AKL, LON, ZoneInfo("Australia/Sydney"), ZoneInfo("Asia/Kolkata"), ZoneInfo("UTC")]
)
DAYS = st.dates(date(2020, 1, 1), date(2035, 12, 31))
CUTOFFS = st.builds(time, st.integers(0, 23), st.integers(0, 59))


@given(tz=ZONES, day=DAYS, cutoff=CUTOFFS)
def test_cutoff_instant_is_on_that_local_day_at_that_time(tz, day, cutoff):
    instant = cutoff_instant(day, cutoff, tz)
    local = instant.astimezone(tz)
    assert local.date() == day
    wall = datetime.combine(day, cutoff)
    exists = (
        datetime.combine(day, cutoff, tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall
    )
    if exists:
        assert local.time() == cutoff


@given(tz=ZONES, day=DAYS, cutoff=CUTOFFS)
def test_consecutive_cutoffs_are_a_day_apart_give_or_take_the_clock_change(tz, day, cutoff):
    gap = cutoff_instant(day + timedelta(days=1), cutoff, tz) - cutoff_instant(day, cutoff, tz)
    assert timedelta(hours=22) <= gap <= timedelta(hours=26)


@given(
    tz=ZONES,
    now=st.datetimes(datetime(2020, 1, 2), datetime(2035, 12, 30), timezones=st.just(UTC)),
    cutoff=CUTOFFS,
    lookback=st.integers(1, 7),
)
def test_due_days_are_exactly_the_latest_passed_cutoffs(tz, now, cutoff, lookback):
    days = due_days(now=now, cutoff=cutoff, tz=tz, lookback_days=lookback)
    assert len(days) == lookback
    assert [d for d, _ in days] == [days[0][0] - timedelta(days=k) for k in range(lookback)]
    assert all(instant <= now for _, instant in days)
    assert all(instant == cutoff_instant(d, cutoff, tz) for d, instant in days)
    assert cutoff_instant(days[0][0] + timedelta(days=1), cutoff, tz) > now, "a passed day was left out"
