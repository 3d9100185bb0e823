"""The weekly hours that define each level of care (scheduling/data/levels.json, with sources) and the rule
for a clinic's own program range: it may be narrowed, never widened past the level's definition."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).with_name("data") / "levels.json"


@dataclass(frozen=True)
class LevelHours:
    level: str
    label: str
    audience: str
    hours_min: Decimal | None  # at least
    hours_below: Decimal | None  # fewer than
    billing: str
    status: str
    source: str

    def describe(self) -> str:
        return describe_range(self.hours_min, self.hours_below)


def describe_range(hours_min: Decimal | None, hours_below: Decimal | None) -> str:
    def n(value: Decimal) -> str:
        return f"{value.normalize():f}"

    if hours_min is not None and hours_below is not None:
        return f"at least {n(hours_min)} and fewer than {n(hours_below)} hours a week"
    if hours_min is not None:
        return f"at least {n(hours_min)} hours a week"
    if hours_below is not None:
        return f"fewer than {n(hours_below)} hours a week"
    return "no weekly hours requirement"


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


@lru_cache(maxsize=1)
def table() -> dict[tuple[str, str], LevelHours]:
    raw = json.loads(DATA.read_text(encoding="utf-8"))
    found = {}
    for level, entry in raw["levels"].items():
        for audience in ("adult", "adolescent"):
            hours = entry[audience]
            found[(level, audience)] = LevelHours(
                level=level,
                label=entry["label"],
                audience=audience,
                hours_min=_decimal(hours["hours_min"]),
                hours_below=_decimal(hours["hours_below"]),
                billing=entry["billing"],
                status=entry["status"],
                source=entry["source"],
            )
    return found


def level_hours(level: str, audience: str = "adult") -> LevelHours:
    return table()[(level, audience)]


def range_problems(
    level: str, audience: str, hours_min: Decimal | None, hours_below: Decimal | None
) -> dict[str, str]:
    """Why a program's weekly hours range is outside its level's definition (field -> message)."""
    ref = level_hours(level, audience)
    problems: dict[str, str] = {}
    if ref.hours_min is not None and (hours_min is None or hours_min < ref.hours_min):
        problems["hours_min"] = (
            f"{ref.label} is {ref.describe()}: the minimum cannot be below {ref.hours_min.normalize():f}."
        )
    if ref.hours_below is not None and (hours_below is None or hours_below > ref.hours_below):
        problems["hours_below"] = (
            f"{ref.label} is {ref.describe()}: the ceiling cannot be above {ref.hours_below.normalize():f}."
        )
    if hours_min is not None and hours_below is not None and hours_min >= hours_below:
        problems.setdefault("hours_below", "The ceiling must be above the minimum.")
    return problems
