"""The rule parameters in safety/data/sweep_policy.json, loaded once and checked. Pure: no Django."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

POLICY_FILE = Path(__file__).resolve().parents[1] / "data" / "sweep_policy.json"
STATUSES = frozenset({"V", "S", "U"})


@dataclass(frozen=True)
class VitalRule:
    rule_id: str
    checks: tuple[str, ...]  # threshold check ids in vitals/data/vital_signs.json
    unless: str | None  # another rule id that supersedes this one on the same reading


@dataclass(frozen=True)
class InstrumentRule:
    rule_id: str
    instrument: str
    flag: str  # the flag rule id in the instrument's JSON definition


@dataclass(frozen=True)
class TrendSeries:
    id: str
    label: str
    min_rise: Decimal
    min_before: int
    min_after: int
    status: str
    source: str


@dataclass(frozen=True)
class TrendPolicy:
    window_days: int
    skip_when_plan_held: bool
    series: tuple[TrendSeries, ...]
    status: str
    source: str


@dataclass(frozen=True)
class Policy:
    vital_rules: tuple[VitalRule, ...]
    instrument_rules: tuple[InstrumentRule, ...]
    guidance_rules: Mapping[str, str]  # guidance code → rule id
    missed_lookback_days: int
    recent_lookback_hours: int
    trend: TrendPolicy


def _status(raw: Mapping[str, Any], where: str) -> str:
    status = raw.get("status")
    if status not in STATUSES:
        raise ValueError(f"{where}: status must be V, S or U (got {status!r})")
    return status


def _positive_int(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{where} must be a whole number of at least 1 (got {value!r})")
    return value


def parse_policy(raw: Mapping[str, Any]) -> Policy:
    if raw.get("schema_version") != 1:
        raise ValueError("sweep policy: schema_version must be 1")
    vital_rules = tuple(
        VitalRule(r["rule_id"], tuple(r["checks"]), r.get("unless"))
        for r in raw["vital_threshold_rules"]["rules"]
    )
    ids = {r.rule_id for r in vital_rules}
    for rule in vital_rules:
        if rule.unless is not None and rule.unless not in ids:
            raise ValueError(f"vital rule {rule.rule_id}: 'unless' names an unknown rule {rule.unless!r}")
    trend_raw = raw["withdrawal_trend_rising"]
    series = []
    for n, s in enumerate(trend_raw["series"]):
        where = f"withdrawal_trend_rising.series[{n}]"
        min_rise = Decimal(str(s["min_rise"]))
        if min_rise <= 0:
            raise ValueError(f"{where}.min_rise must be above 0")
        series.append(
            TrendSeries(
                id=s["id"],
                label=s["label"],
                min_rise=min_rise,
                min_before=_positive_int(s["min_before"], f"{where}.min_before"),
                min_after=_positive_int(s["min_after"], f"{where}.min_after"),
                status=_status(s, where),
                source=s["source"],
            )
        )
    return Policy(
        vital_rules=vital_rules,
        instrument_rules=tuple(
            InstrumentRule(r["rule_id"], r["instrument"], r["flag"])
            for r in raw["instrument_flag_rules"]["rules"]
        ),
        guidance_rules={r["guidance"]: r["rule_id"] for r in raw["checkin_guidance_rules"]["rules"]},
        missed_lookback_days=_positive_int(
            raw["checkin_missed"]["lookback_days"], "checkin_missed.lookback_days"
        ),
        recent_lookback_hours=_positive_int(
            raw["recent_facts"]["lookback_hours"], "recent_facts.lookback_hours"
        ),
        trend=TrendPolicy(
            window_days=_positive_int(trend_raw["window_days"], "withdrawal_trend_rising.window_days"),
            skip_when_plan_held=bool(trend_raw["skip_when_plan_held"]),
            series=tuple(series),
            status=_status(trend_raw, "withdrawal_trend_rising"),
            source=trend_raw["source"],
        ),
    )


@lru_cache(maxsize=1)
def policy() -> Policy:
    with POLICY_FILE.open(encoding="utf-8") as fh:
        return parse_policy(json.load(fh))
