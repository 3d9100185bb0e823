"""The taper rules as data: taper/data/taper_rules.json, each value with its rule id, source and status.

Pure (no Django). The engine, the services and the pages read the same objects, so a number lives in one
place and every refusal or warning can name the rule and source behind it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path

from taper.catalogue import Status

RULES_FILE = Path(__file__).parent / "data" / "taper_rules.json"


@dataclass(frozen=True)
class GuidelineCap:
    max_reduction_percent: Fraction
    per_days: int
    source: str
    status: Status
    wording: str
    rule: str = "taper.guideline_cap"


@dataclass(frozen=True)
class TailExemption:
    """Where the cap may not bind: steps starting at or below `floor_de_mg`, and the final step to zero
    from at most `final_step_max_de_mg`. The floor is a clinic setting bounded by `max_floor_de_mg`."""

    floor_de_mg: Fraction
    max_floor_de_mg: Fraction
    final_step_max_de_mg: Fraction
    status: Status
    wording: str
    source: str
    rule: str


@dataclass(frozen=True)
class Plausibility:
    max_daily_de_mg: Fraction
    high_above_de_mg: Fraction  # JGIM-2025 Table 2 "high"
    ceiling_wording: str
    ceiling_reasoning: str
    ceiling_source: str
    high_wording: str
    high_source: str
    ceiling_rule: str
    high_rule: str


@dataclass(frozen=True)
class PacePolicy:
    over_rate_factor: Fraction
    wording: str
    source: str
    rule: str


@dataclass(frozen=True)
class SwitchPolicy:
    min_switch_days: int
    wording: str
    source: str
    rule: str


@dataclass(frozen=True)
class Limits:
    interval_days: tuple[int, int]
    substitution_interval_days: tuple[int, int]
    hold_days: tuple[int, int]
    start_within_days: int
    max_steps: int
    max_years: int
    reasoning: str
    rule: str


@dataclass(frozen=True)
class Policy:
    cap: GuidelineCap
    tail: TailExemption
    plausibility: Plausibility
    pace: PacePolicy
    switch: SwitchPolicy
    limits: Limits


def _raw() -> dict:
    return json.loads(RULES_FILE.read_text())


@cache
def policy() -> Policy:
    raw = _raw()
    cap, tail, ceiling, high = (
        raw["guideline_cap"],
        raw["tail_exemption"],
        raw["plausibility"],
        raw["high_dose_band"],
    )
    pace, switch, limits = raw["pace_report"], raw["switch_over"], raw["limits"]
    floor, max_floor = Fraction(tail["floor_de_mg"]), Fraction(tail["max_floor_de_mg"])
    if not 0 <= floor <= max_floor:
        raise ValueError(
            "taper_rules.json: tail_exemption.floor_de_mg must lie between 0 and max_floor_de_mg"
        )
    return Policy(
        cap=GuidelineCap(
            max_reduction_percent=Fraction(cap["max_reduction_percent"]),
            per_days=int(cap["per_days"]),
            source=cap["source"],
            status=Status(cap["status"]),
            wording=cap["wording"],
            rule=cap["rule"],
        ),
        tail=TailExemption(
            floor_de_mg=floor,
            max_floor_de_mg=max_floor,
            final_step_max_de_mg=Fraction(tail["final_step_max_de_mg"]),
            status=Status(tail["status"]),
            wording=tail["wording"],
            source=tail["source"],
            rule=tail["rule"],
        ),
        plausibility=Plausibility(
            max_daily_de_mg=Fraction(ceiling["max_daily_de_mg"]),
            high_above_de_mg=Fraction(high["above_de_mg"]),
            ceiling_wording=ceiling["wording"],
            ceiling_reasoning=ceiling["reasoning"],
            ceiling_source=ceiling["source"],
            high_wording=high["wording"],
            high_source=high["source"],
            ceiling_rule=ceiling["rule"],
            high_rule=high["rule"],
        ),
        pace=PacePolicy(
            over_rate_factor=Fraction(pace["over_rate_factor"]),
            wording=pace["wording"],
            source=pace["source"],
            rule=pace["rule"],
        ),
        switch=SwitchPolicy(
            min_switch_days=int(switch["min_switch_days"]),
            wording=switch["wording"],
            source=switch["source"],
            rule=switch["rule"],
        ),
        limits=Limits(
            interval_days=tuple(limits["interval_days"]),
            substitution_interval_days=tuple(limits["substitution_interval_days"]),
            hold_days=tuple(limits["hold_days"]),
            start_within_days=int(limits["start_within_days"]),
            max_steps=int(limits["max_steps"]),
            max_years=int(limits["max_years"]),
            reasoning=limits["reasoning"],
            rule=limits["rule"],
        ),
    )


def guideline_cap() -> GuidelineCap:
    """The JGIM-2025 cap (data, with its source)."""
    return policy().cap
