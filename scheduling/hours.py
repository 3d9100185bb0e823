"""Weekly attended hours against a level of care's hours requirement.

Pure (no Django). Weeks run Monday to Sunday in the clinic's local dates. A requirement is a half-open
band of weekly hours, `min_hours <= hours < below_hours` (either end may be open), the way the ASAM
levels are defined: PHP 20 or more, IOP 9 or more and fewer than 20, outpatient fewer than 9. The band
ends meet with no gap, so 19.5 hours is IOP rather than "above IOP, below PHP" as an inclusive
`max_hours=19` would make it. scheduling/levels.py keeps the same two bounds (`hours_min`,
`hours_below`) in its data file.

Statuses compare the exact attended minutes, not the rounded hours shown: 8 h 59 min shows as 9.0 but is
below a 9-hour minimum.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

BELOW = "below"
WITHIN = "within"
ABOVE = "above"
TENTH = Decimal("0.1")


def week_start(day: date) -> date:
    """The Monday of `day`'s week."""
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class Requirement:
    level: str
    min_hours: Decimal | None  # at least (inclusive); None: no minimum
    below_hours: Decimal | None  # fewer than (exclusive); None: no ceiling

    def __post_init__(self) -> None:
        for bound in (self.min_hours, self.below_hours):
            if bound is not None and bound < 0:
                raise ValueError(f"{self.level}: weekly hours cannot be negative")
        if self.min_hours is not None and self.below_hours is not None and self.min_hours >= self.below_hours:
            raise ValueError(f"{self.level}: the minimum must be below the ceiling")


# Adult hours of the ASAM Criteria 3rd ed. (2013), as in patients/levels_of_care.py (2.1: V; 1, 2.5: S).
REQUIREMENTS: dict[str, Requirement] = {
    "php": Requirement("php", Decimal(20), None),
    "iop": Requirement("iop", Decimal(9), Decimal(20)),
    "op": Requirement("op", None, Decimal(9)),
}


@dataclass(frozen=True)
class WeekHours:
    week_start: date  # Monday
    minutes: int
    hours: Decimal  # minutes / 60, rounded to 0.1 half-up, for display
    sessions: int
    complete: bool = True  # False while the week is not over (see weekly_hours)


def to_hours(minutes: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(TENTH, rounding=ROUND_HALF_UP)


def weekly_hours(
    attended: Iterable[tuple[date, int]], first_week: date, last_week: date, today: date | None = None
) -> list[WeekHours]:
    """One WeekHours per week from `first_week`'s week to `last_week`'s, oldest first, empty weeks included.

    `attended` is (local date of the session, minutes attended); rows outside the weeks are ignored and a
    row of 0 minutes is not a session. With `today`, a week is complete only once today is past its
    Sunday: today's week (and any later one) may still gain sessions, so it is marked complete=False.
    """
    first, last = week_start(first_week), week_start(last_week)
    if first > last:
        raise ValueError("first_week is after last_week")
    minutes: dict[date, int] = {}
    sessions: dict[date, int] = {}
    for day, mins in attended:
        if mins < 0:
            raise ValueError(f"negative minutes attended on {day.isoformat()}")
        week = week_start(day)
        if first <= week <= last and mins > 0:
            minutes[week] = minutes.get(week, 0) + mins
            sessions[week] = sessions.get(week, 0) + 1
    weeks = []
    week = first
    while week <= last:
        total = minutes.get(week, 0)
        complete = today is None or today >= week + timedelta(days=7)
        weeks.append(WeekHours(week, total, to_hours(total), sessions.get(week, 0), complete))
        week += timedelta(days=7)
    return weeks


def status(week: WeekHours, req: Requirement) -> str:
    """`below`, `within` or `above` the requirement, on exact minutes (a week in progress too)."""
    if req.min_hours is not None and week.minutes < req.min_hours * 60:
        return BELOW
    if req.below_hours is not None and week.minutes >= req.below_hours * 60:
        return ABOVE
    return WITHIN


def below_minimum_weeks_running(weeks: Sequence[WeekHours], req: Requirement) -> int:
    """How many of the most recent complete weeks in a row are below the minimum (0 with no minimum).

    Incomplete weeks are left out, neither counting nor breaking a run: the week is not over, so a low
    total so far says nothing yet. A missing calendar week breaks the run, since its hours are unknown.
    """
    if req.min_hours is None:
        return 0
    run = 0
    newer: date | None = None
    for week in sorted((w for w in weeks if w.complete), key=lambda w: w.week_start, reverse=True):
        if newer is not None and week.week_start != newer - timedelta(days=7):
            break
        if status(week, req) != BELOW:
            break
        run += 1
        newer = week.week_start
    return run


def flag_below_two_weeks(weeks: Sequence[WeekHours], req: Requirement, run: int = 2) -> bool:
    """True when the latest `run` complete weeks (two by default) were all below the minimum."""
    if run < 1:
        raise ValueError("run must be at least 1")
    return below_minimum_weeks_running(weeks, req) >= run
