"""Vital-sign specs and safety thresholds from data/vital_signs.json, plus tighten-only clinic overrides.

A clinic may make a safety threshold fire earlier (tighter) but never later (looser): a loosened override is
refused with LooseningRefused rather than silently clamped, so the clinic sees exactly what it asked for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from vitals.errors import ImpossibleValue, InvalidValue, LooseningRefused, OverrideError

DATA_FILE = Path(__file__).parent / "data" / "vital_signs.json"

PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")

# Ops whose alert fires at or below the value: tightening raises the value. The others fire above it.
LOW_OPS = frozenset({"<", "<="})
HIGH_OPS = frozenset({">", ">="})


@lru_cache(maxsize=1)
def raw_data() -> Mapping[str, Any]:
    with DATA_FILE.open(encoding="utf-8") as fh:
        return json.load(fh, parse_float=Decimal)


@dataclass(frozen=True)
class Range:
    min: Decimal
    max: Decimal
    status: str
    source: str

    def contains(self, value: Decimal) -> bool:
        return self.min <= value <= self.max


@dataclass(frozen=True)
class VitalSpec:
    name: str
    label: str
    unit: str  # UCUM
    unit_display: str
    decimals: int
    loinc: tuple[str, ...]
    loinc_status: str
    possible: Range
    usual: Range

    def fmt(self, value: Decimal) -> str:
        return f"{value} {self.unit_display}"


def _range(raw: Mapping[str, Any]) -> Range:
    return Range(Decimal(raw["min"]), Decimal(raw["max"]), raw["status"], raw["source"])


@lru_cache(maxsize=1)
def vital_specs() -> Mapping[str, VitalSpec]:
    specs = {
        name: VitalSpec(
            name=name,
            label=raw["label"],
            unit=raw["unit"],
            unit_display=raw["unit_display"],
            decimals=int(raw["decimals"]),
            loinc=tuple(raw["loinc"]),
            loinc_status=raw["loinc_status"],
            possible=_range(raw["possible"]),
            usual=_range(raw["usual"]),
        )
        for name, raw in raw_data()["vitals"].items()
    }
    return MappingProxyType(specs)


def to_decimal(vital: str, value: object, decimals: int, label: str) -> Decimal:
    """Exact Decimal of a reading, refusing types and precisions the vital is not recorded in."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise InvalidValue(vital, f"{label} must be a number; got {value!r}.")
    if isinstance(value, str) and not PLAIN_NUMBER.match(value.strip()):
        raise InvalidValue(vital, f"{label} must be a number; got {value!r}.")
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise InvalidValue(vital, f"{label} must be a number; got {value!r}.") from None
    if not number.is_finite():
        raise InvalidValue(vital, f"{label} must be a finite number; got {value!r}.")
    if number.normalize().as_tuple().exponent < -decimals:
        places = "whole numbers" if decimals == 0 else f"at most {decimals} decimal place(s)"
        raise InvalidValue(vital, f"{label} is recorded in {places}; got {value}.")
    try:
        return number.quantize(Decimal(1).scaleb(-decimals))
    except InvalidOperation:  # too large to quantize; the possible-range check refuses it
        return number


def parse_vital(vital: str, value: object) -> Decimal:
    spec = vital_specs()[vital]
    number = to_decimal(vital, value, spec.decimals, spec.label)
    if not spec.possible.contains(number):
        raise ImpossibleValue(
            vital,
            f"{spec.label} of {spec.fmt(number)} is not physiologically possible "
            f"(accepted range {spec.possible.min}–{spec.possible.max} {spec.unit_display}). "
            "Please re-measure or correct the entry.",
        )
    return number


@dataclass(frozen=True)
class ThresholdCheck:
    id: str
    vital: str
    op: str
    value: Decimal | str
    severity: str
    meaning: str
    overridable: bool
    source: str
    status: str

    def fires(self, observed: Decimal | str) -> bool:
        match self.op:
            case "<":
                return observed < self.value
            case "<=":
                return observed <= self.value
            case ">":
                return observed > self.value
            case ">=":
                return observed >= self.value
            case "!=":
                return observed != self.value
        raise ValueError(f"unknown op {self.op!r} in threshold {self.id}")

    def describe(self) -> str:
        return f"{self.vital} {self.op} {self.value}"


@dataclass(frozen=True)
class Thresholds:
    """Alert checks plus the 'usual' ranges outside which entry asks for confirmation."""

    checks: Mapping[str, ThresholdCheck]
    usual: Mapping[str, Range]


def _check(raw: Mapping[str, Any]) -> ThresholdCheck:
    value = raw["value"]
    return ThresholdCheck(
        id=raw["id"],
        vital=raw["vital"],
        op=raw["op"],
        value=value if isinstance(value, str) else Decimal(value),
        severity=raw["severity"],
        meaning=raw["meaning"],
        overridable=bool(raw["overridable"]),
        source=raw["source"],
        status=raw["status"],
    )


@lru_cache(maxsize=1)
def default_thresholds() -> Thresholds:
    checks = {raw["id"]: _check(raw) for raw in raw_data()["threshold_checks"]}
    usual = {name: spec.usual for name, spec in vital_specs().items()}
    return Thresholds(MappingProxyType(checks), MappingProxyType(usual))


def check_is_at_least_as_tight(candidate: ThresholdCheck, default: ThresholdCheck) -> bool:
    """True when `candidate` fires on every value `default` fires on (same op, same or stricter value)."""
    if candidate.op != default.op:
        return False
    if candidate.op in LOW_OPS:
        return candidate.value >= default.value
    if candidate.op in HIGH_OPS:
        return candidate.value <= default.value
    return candidate.value == default.value


def usual_is_at_least_as_tight(candidate: Range, default: Range) -> bool:
    return candidate.min >= default.min and candidate.max <= default.max


def is_at_least_as_tight(merged: Thresholds, defaults: Thresholds) -> bool:
    return (
        merged.checks.keys() == defaults.checks.keys()
        and merged.usual.keys() == defaults.usual.keys()
        and all(check_is_at_least_as_tight(merged.checks[k], defaults.checks[k]) for k in defaults.checks)
        and all(usual_is_at_least_as_tight(merged.usual[k], defaults.usual[k]) for k in defaults.usual)
    )


def _override_number(vital: str, value: object, where: str) -> Decimal:
    spec = vital_specs()[vital]
    try:
        number = to_decimal(vital, value, spec.decimals, where)
    except ValueError as exc:
        raise OverrideError(str(exc)) from None
    if not spec.possible.contains(number):
        raise OverrideError(
            f"{where}: {spec.fmt(number)} is outside the possible range "
            f"{spec.possible.min}–{spec.possible.max} {spec.unit_display}."
        )
    return number


def _merge_check(default: ThresholdCheck, override: object) -> ThresholdCheck:
    where = f"checks.{default.id}"
    if not default.overridable:
        raise OverrideError(f"{where}: this threshold is fixed by its source and cannot be overridden.")
    if not isinstance(override, Mapping) or set(override) != {"value"}:
        raise OverrideError(f'{where}: an override must be an object with exactly one key, "value".')
    merged = replace(default, value=_override_number(default.vital, override["value"], where))
    if not check_is_at_least_as_tight(merged, default):
        direction = "raise" if default.op in LOW_OPS else "lower"
        raise LooseningRefused(
            f"{where}: clinic value {merged.value} would loosen the default ({default.describe()}, "
            f"source: {default.source}). Clinic overrides may only tighten safety thresholds: "
            f"{direction} it, or keep {default.value}."
        )
    return merged


def _merge_usual(vital: str, default: Range, override: object) -> Range:
    where = f"usual.{vital}"
    if not isinstance(override, Mapping) or not override or not set(override) <= {"min", "max"}:
        raise OverrideError(f'{where}: an override must be an object with "min" and/or "max".')
    new_min = _override_number(vital, override["min"], f"{where}.min") if "min" in override else default.min
    new_max = _override_number(vital, override["max"], f"{where}.max") if "max" in override else default.max
    if new_min > new_max:
        raise OverrideError(f"{where}: min {new_min} is above max {new_max}.")
    merged = Range(new_min, new_max, "clinic override", f"clinic override of: {default.source}")
    if not usual_is_at_least_as_tight(merged, default):
        raise LooseningRefused(
            f"{where}: clinic range {new_min}–{new_max} is wider than the default "
            f"{default.min}–{default.max}; "
            "clinic overrides may only narrow it (ask for confirmation more often, never less)."
        )
    return merged


def merge_clinic_overrides(defaults: Thresholds, overrides: Mapping[str, Any]) -> Thresholds:
    """Apply a clinic's overrides: {"checks": {id: {"value": v}}, "usual": {vital: {"min": a, "max": b}}}.

    Refuses unknown keys, malformed values and any loosening; on refusal nothing is merged.
    """
    if not isinstance(overrides, Mapping):
        raise OverrideError("overrides must be an object.")
    unknown = set(overrides) - {"checks", "usual"}
    if unknown:
        raise OverrideError(f"unknown override section(s): {', '.join(sorted(unknown))}.")
    checks = dict(defaults.checks)
    for check_id, override in (overrides.get("checks") or {}).items():
        if check_id not in checks:
            raise OverrideError(f"checks.{check_id}: no such threshold check.")
        checks[check_id] = _merge_check(defaults.checks[check_id], override)
    usual = dict(defaults.usual)
    for vital, override in (overrides.get("usual") or {}).items():
        if vital not in usual:
            raise OverrideError(f"usual.{vital}: no such vital sign.")
        usual[vital] = _merge_usual(vital, defaults.usual[vital], override)
    return Thresholds(MappingProxyType(checks), MappingProxyType(usual))
