"""Whether to suggest stepping a patient down one level of care (PHP to IOP, IOP to outpatient).

Pure (no Django). The criteria are program policy read from scheduling/data/stepdown.json (every value
status U: no guideline sets them). `suggest` never decides anything: it returns a Suggestion that a
clinician reviews, and it returns one even when the patient is not eligible (eligible=False), listing
what is met in `reasons` and what is not in `blocking`, because "not yet: 1 CIWA-B score in the last 14
days" is more use to a clinician than silence. It returns None only from outpatient, the lowest level.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

from scheduling.hours import WeekHours, week_start
from scheduling.recurrence import format_date

CRITERIA_FILE = Path(__file__).parent / "data" / "stepdown.json"
CIWA_B = "ciwa_b"
LEVELS = ("php", "iop", "op")  # highest first
STEP_DOWN: dict[str, str] = {"php": "iop", "iop": "op"}
SHOWN_SCORES = 3


@dataclass(frozen=True)
class StepDownCriteria:
    full_attendance_weeks: int
    ciwa_b_below: int  # every CIWA-B total in the window must be below this
    ciwa_b_days: int  # window: today minus this many days up to today, inclusive
    ciwa_b_min_scores: int
    min_taper_progress: Decimal | None = None  # None: taper progress is not a criterion

    def __post_init__(self) -> None:
        for name in ("full_attendance_weeks", "ciwa_b_below", "ciwa_b_days", "ciwa_b_min_scores"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"stepdown criteria: {name} must be a whole number of at least 1")
        progress = self.min_taper_progress
        if progress is not None and not Decimal(0) <= progress <= Decimal(1):
            raise ValueError("stepdown criteria: min_taper_progress must lie between 0 and 1")


@cache
def load_criteria(path: Path = CRITERIA_FILE) -> StepDownCriteria:
    """The criteria in the data file, each checked against the min and max the file gives for it."""
    entries = json.loads(path.read_text(encoding="utf-8"))["criteria"]
    values: dict[str, object] = {}
    for name, entry in entries.items():
        value = entry["value"]
        if name == "min_taper_progress":
            value = None if value is None else Decimal(value)
        if value is not None and not Decimal(entry["min"]) <= Decimal(value) <= Decimal(entry["max"]):
            raise ValueError(f"{path.name}: {name} must lie between {entry['min']} and {entry['max']}")
        values[name] = value
    return StepDownCriteria(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class StepDownFacts:
    level: str  # current level: "php", "iop" or "op"
    weeks: Sequence[WeekHours]  # weeks at the current level, newest last; the first marks its start
    scheduled_sessions_by_week: Mapping[date, int]  # keyed by the week's Monday
    attended_sessions_by_week: Mapping[date, int]
    scores: Sequence[tuple[date, str, int]]  # (date, instrument code, total)
    taper_progress: Decimal | None  # fraction of the starting diazepam-equivalent dose reduced, 0..1
    today: date

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"unknown level of care {self.level!r}")
        if self.taper_progress is not None and not Decimal(0) <= self.taper_progress <= Decimal(1):
            raise ValueError("taper_progress must lie between 0 and 1")


@dataclass(frozen=True)
class Suggestion:
    from_level: str
    to_level: str
    eligible: bool  # True exactly when nothing is blocking
    reasons: tuple[str, ...]  # criteria met, as plain sentences
    blocking: tuple[str, ...]  # criteria not met, as plain sentences


# (met, not met): each check adds sentences to one side.
Check = tuple[tuple[str, ...], tuple[str, ...]]


def suggest(facts: StepDownFacts, criteria: StepDownCriteria) -> Suggestion | None:
    """A step-down suggestion for a clinician to review, or None from the lowest level."""
    to_level = STEP_DOWN.get(facts.level)
    if to_level is None:
        return None
    checks = (attendance_check(facts, criteria), ciwa_b_check(facts, criteria), taper_check(facts, criteria))
    reasons = tuple(text for met, _ in checks for text in met)
    blocking = tuple(text for _, unmet in checks for text in unmet)
    return Suggestion(facts.level, to_level, not blocking, reasons, blocking)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _by_week(counts: Mapping[date, int]) -> dict[date, int]:
    # Tolerate keys that are any day of the week: sum them under their Monday.
    found: dict[date, int] = {}
    for day, count in counts.items():
        found[week_start(day)] = found.get(week_start(day), 0) + count
    return found


def attendance_check(facts: StepDownFacts, criteria: StepDownCriteria) -> Check:
    """Every scheduled session attended in each of the last N completed calendar weeks at this level.

    The current week is never one of them (it is not over). A week with nothing scheduled is not full
    attendance: there is nothing to show the patient can keep to the program.
    """
    needed = criteria.full_attendance_weeks
    current = week_start(facts.today)
    wanted = [current - timedelta(weeks=k) for k in range(needed, 0, -1)]
    blocking: list[str] = []
    first_at_level = min((w.week_start for w in facts.weeks), default=None)
    if first_at_level is None or first_at_level > wanted[0]:
        done = 0 if first_at_level is None else max(0, (current - week_start(first_at_level)).days // 7)
        so_far = "No completed weeks" if done == 0 else f"Only {_plural(done, 'completed week')}"
        blocking.append(f"{so_far} at this level so far; {needed} weeks of full attendance are needed.")
        wanted = [w for w in wanted if first_at_level is not None and w >= week_start(first_at_level)]
    scheduled = _by_week(facts.scheduled_sessions_by_week)
    attended = _by_week(facts.attended_sessions_by_week)
    for week in wanted:
        planned, came = scheduled.get(week, 0), attended.get(week, 0)
        if planned == 0:
            blocking.append(f"Week of {format_date(week)}: no sessions were scheduled.")
        elif came < planned:
            blocking.append(f"Week of {format_date(week)}: attended {came} of {planned} scheduled sessions.")
    if blocking:
        return (), tuple(blocking)
    return (f"{_plural(needed, 'week')} of full attendance",), ()


def ciwa_b_check(facts: StepDownFacts, criteria: StepDownCriteria) -> Check:
    """Every CIWA-B total from today minus `ciwa_b_days` to today is below the cut-off, with enough scores.

    Scores dated after today are ignored (a mistyped date must not make a patient look settled).
    """
    below, days = criteria.ciwa_b_below, criteria.ciwa_b_days
    since = facts.today - timedelta(days=days)
    scores = sorted(
        (day, total) for day, code, total in facts.scores if code == CIWA_B and since <= day <= facts.today
    )
    blocking: list[str] = []
    high = [(day, total) for day, total in scores if total >= below]
    if high:
        day, total = high[-1]
        blocking.append(
            f"CIWA-B {below} or higher on {len(high)} of {_plural(len(scores), 'score')} "
            f"in the last {days} days (latest {total} on {format_date(day)})."
        )
    if len(scores) < criteria.ciwa_b_min_scores:
        have = "No CIWA-B score" if not scores else _plural(len(scores), "CIWA-B score")
        blocking.append(f"{have} in the last {days} days; at least {criteria.ciwa_b_min_scores} are needed.")
    if blocking:
        return (), tuple(blocking)
    shown = [str(total) for _, total in scores[-SHOWN_SCORES:]]
    last = "last score" if len(shown) == 1 else f"last {len(shown)} scores"
    return (f"CIWA-B below {below} for {days} days ({last}: {', '.join(shown)})",), ()


def _percent(fraction: Decimal) -> str:
    return f"{(fraction * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)}%"


def taper_check(facts: StepDownFacts, criteria: StepDownCriteria) -> Check:
    """Taper progress at least `min_taper_progress`; no sentence at all when the program sets none."""
    needed = criteria.min_taper_progress
    if needed is None:
        return (), ()
    progress = facts.taper_progress
    if progress is None:
        return (), (f"Taper progress is not recorded; the program asks for {_percent(needed)} first.",)
    if progress < needed:
        return (), (f"Taper {_percent(progress)} complete; the program asks for {_percent(needed)} first.",)
    return (f"Taper {_percent(progress)} complete (at least {_percent(needed)})",), ()
