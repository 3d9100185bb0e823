"""Weekly session patterns: validation, RFC 5545 text, plain-English wording and concrete occurrences.

Pure (no Django): stdlib and python-dateutil only. A pattern is wall-clock time in the clinic's zone, so
a 6 pm group stays at 6 pm local across daylight-saving changes; the zone is applied only when a
pattern is expanded into aware (start, end) pairs.

Interval phase: with `interval` > 1 the weeks that have sessions count from `phase_week`, the Monday of
`phase_from` (or of `starts_on` when `phase_from` is None). `split_at` carries the original phase into
the second half, so an "edit this and following" split never shifts an every-other-week group by a week.
`phase_from` is stored canonically (the latest session week on or before `starts_on`'s week, None when
that is `starts_on`'s own week or the interval is 1), so two patterns that give the same dates are equal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil import rrule as du

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# Fixed English abbreviations: strftime's %b follows the process locale.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MIN_MINUTES = 5
MAX_MINUTES = 720
MAX_INTERVAL = 4


class PatternError(ValueError):
    """A pattern field a clinician must correct; `field` names it so a form can place the message."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def week_start(day: date) -> date:
    """The Monday of `day`'s week."""
    return day - timedelta(days=day.weekday())


def format_date(day: date) -> str:
    """`4 Jan 2027`: day first, no leading zero, month spelled the same in every locale."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


@dataclass(frozen=True)
class WeeklyPattern:
    weekdays: tuple[int, ...]  # 0 = Monday .. 6 = Sunday; sorted on construction
    start: time  # naive local wall-clock time in the clinic's zone
    minutes: int  # elapsed length of each session
    starts_on: date
    ends_on: date | None = None  # inclusive
    interval: int = 1  # weeks
    phase_from: date | None = None  # see the module docstring

    def __post_init__(self) -> None:
        object.__setattr__(self, "weekdays", _clean_weekdays(self.weekdays))
        _check_start(self.start)
        _check_minutes(self.minutes)
        _check_dates(self.starts_on, self.ends_on)
        _check_interval(self.interval)
        object.__setattr__(self, "phase_from", _clean_phase(self))

    @property
    def phase_week(self) -> date:
        """The Monday from which `interval` counts."""
        return self.phase_from if self.phase_from is not None else week_start(self.starts_on)


def _is_int(value: object) -> bool:
    # bool is an int subclass; True days or minutes are a caller's mistake, not a value.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_date(value: object) -> bool:
    # datetime is a date subclass but does not compare with dates.
    return isinstance(value, date) and not isinstance(value, datetime)


def _clean_weekdays(weekdays: Iterable[int]) -> tuple[int, ...]:
    try:
        days = tuple(weekdays)
    except TypeError:
        raise PatternError("Choose at least one day of the week.", "weekdays") from None
    if not days:
        raise PatternError("Choose at least one day of the week.", "weekdays")
    if not all(_is_int(d) and 0 <= d <= 6 for d in days):
        raise PatternError("Days of the week run from Monday (0) to Sunday (6).", "weekdays")
    if len(set(days)) != len(days):
        raise PatternError("Choose each day of the week only once.", "weekdays")
    return tuple(sorted(days))


def _check_start(start: time) -> None:
    if not isinstance(start, time):
        raise PatternError("Enter the time the session starts.", "start")
    if start.tzinfo is not None:
        raise PatternError("Enter the start time as the clinic's local time, without a time zone.", "start")


def _check_minutes(minutes: int) -> None:
    if not _is_int(minutes):
        raise PatternError("Enter the session length in whole minutes.", "minutes")
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise PatternError(
            f"A session lasts between {MIN_MINUTES} minutes and {MAX_MINUTES // 60} hours.", "minutes"
        )


def _check_dates(starts_on: date, ends_on: date | None) -> None:
    if not _is_date(starts_on):
        raise PatternError("Enter the date of the first session.", "starts_on")
    if ends_on is None:
        return
    if not _is_date(ends_on):
        raise PatternError("Enter the last date as a date, or leave it empty.", "ends_on")
    if ends_on < starts_on:
        raise PatternError(
            f"The last date must be on or after the first date ({format_date(starts_on)}).", "ends_on"
        )


def _check_interval(interval: int) -> None:
    if not _is_int(interval) or not 1 <= interval <= MAX_INTERVAL:
        raise PatternError(f"Repeat every 1 to {MAX_INTERVAL} weeks.", "interval")


def _clean_phase(pattern: WeeklyPattern) -> date | None:
    phase = pattern.phase_from
    if phase is None or pattern.interval == 1:
        return None
    if not _is_date(phase) or phase > pattern.starts_on:
        raise PatternError("The repeat must count from a date on or before the first session.", "phase_from")
    first_week = week_start(pattern.starts_on)
    weeks_off = (first_week - week_start(phase)).days // 7 % pattern.interval
    return None if weeks_off == 0 else first_week - timedelta(weeks=weeks_off)


def rrule_text(pattern: WeeklyPattern) -> str:
    """The RRULE value, e.g. `FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE;UNTIL=20270131T235959`.

    UNTIL is floating local time (end of `ends_on`), which RFC 5545 pairs with a floating DTSTART: use
    `first_local_start` as DTSTART so an INTERVAL > 1 counts from the right week. A DTSTART with a TZID
    needs UNTIL converted to UTC instead.
    """
    parts = [
        "FREQ=WEEKLY",
        f"INTERVAL={pattern.interval}",
        "BYDAY=" + ",".join(RRULE_DAYS[d] for d in pattern.weekdays),
    ]
    if pattern.ends_on is not None:
        parts.append(f"UNTIL={pattern.ends_on:%Y%m%d}T235959")
    return ";".join(parts)


def describe(pattern: WeeklyPattern) -> str:
    """E.g. `Every Monday and Wednesday, 6:00 pm-7:30 pm, from 4 Jan 2027`, with an en dash between the
    times; times are local wall clock."""
    days = _join([DAY_NAMES[d] for d in pattern.weekdays])
    when = f"Every {days}" if pattern.interval == 1 else f"Every {pattern.interval} weeks on {days}"
    span = f"from {format_date(pattern.starts_on)}"
    if pattern.ends_on is not None:
        span += f" until {format_date(pattern.ends_on)}"
    return f"{when}, {_time_range(pattern.start, pattern.minutes)}, {span}"


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _time_range(start: time, minutes: int) -> str:
    # Nominal wall clock: on a daylight-saving night the real end may differ by an hour.
    anchor = datetime.combine(date(2000, 1, 3), start)
    end = anchor + timedelta(minutes=minutes)
    next_day = " (next day)" if end.date() != anchor.date() else ""
    return f"{_clock(start)}–{_clock(end.time())}{next_day}"


def _clock(t: time) -> str:
    return f"{t.hour % 12 or 12}:{t.minute:02d} {'am' if t.hour < 12 else 'pm'}"


def _rule(pattern: WeeklyPattern) -> du.rrule:
    # dtstart on the phase Monday: INTERVAL counts whole weeks from there whatever window is asked for.
    return du.rrule(
        du.WEEKLY,
        interval=pattern.interval,
        wkst=du.MO,
        byweekday=pattern.weekdays,
        dtstart=datetime.combine(pattern.phase_week, pattern.start),
    )


def _local_starts(pattern: WeeklyPattern, first: date, last: date) -> list[datetime]:
    """Naive local start datetimes on dates in [first, last], clipped to the pattern's own dates."""
    first = max(first, pattern.starts_on)
    if pattern.ends_on is not None:
        last = min(last, pattern.ends_on)
    if first > last:
        return []
    lo, hi = datetime.combine(first, time.min), datetime.combine(last, time.max)
    return _rule(pattern).between(lo, hi, inc=True)


def first_local_start(pattern: WeeklyPattern) -> datetime | None:
    """The first session as naive local time (DTSTART for `rrule_text`), None if the pattern has none."""
    found = _rule(pattern).after(datetime.combine(pattern.starts_on, time.min), inc=True)
    if found is None or (pattern.ends_on is not None and found.date() > pattern.ends_on):
        return None
    return found


def localise(naive: datetime, zone: ZoneInfo, minutes: int) -> tuple[datetime, datetime]:
    """Aware (start, end) for a local wall-clock start and an elapsed length in minutes.

    fold=0 reads an ambiguous (fall-back) time as its first instant, and reads a missing (spring-forward)
    time with the offset from before the gap, so the UTC round trip lands on the real instant after it.
    The length is added in UTC so a session over a change still lasts `minutes`.
    """
    start_utc = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    end_utc = start_utc + timedelta(minutes=minutes)
    return start_utc.astimezone(zone), end_utc.astimezone(zone)


def occurrences(
    pattern: WeeklyPattern, zone: ZoneInfo, window_start: date, window_end: date
) -> list[tuple[datetime, datetime]]:
    """Aware (start, end) pairs, in order, for sessions whose local date is in the window (inclusive)."""
    starts = _local_starts(pattern, window_start, window_end)
    return [localise(naive, zone, pattern.minutes) for naive in starts]


def split_at(pattern: WeeklyPattern, day: date) -> tuple[WeeklyPattern | None, WeeklyPattern]:
    """Split for "edit this and following": (the part before `day`, the part from `day` on).

    The first part is None when no session falls before `day` (in particular when day <= starts_on).
    The second part starts on max(day, starts_on), so it never adds dates before the original series,
    and keeps the original interval phase: it gives exactly the original's dates from `day` on.
    """
    if pattern.ends_on is not None and day > pattern.ends_on:
        raise PatternError(
            f"Choose a date on or before the last date of the series ({format_date(pattern.ends_on)}).", "day"
        )
    if day <= pattern.starts_on:
        return None, pattern
    before = dataclasses.replace(pattern, ends_on=day - timedelta(days=1))
    after = dataclasses.replace(pattern, starts_on=day, phase_from=pattern.phase_week)
    return (before if first_local_start(before) is not None else None), after
