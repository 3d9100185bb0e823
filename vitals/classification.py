"""Classify vital-sign readings: possible/usual limits, ACC/AHA 2017 BP category, NEWS2, threshold checks.

Every number comes from data/vital_signs.json (with source and status); this module only applies it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from vitals.errors import ImpossibleValue, InvalidReading, InvalidValue
from vitals.thresholds import Thresholds, default_thresholds, parse_vital, raw_data, vital_specs

NUMERIC_FIELDS = tuple(raw_data()["vitals"])  # systolic_bp, diastolic_bp, heart_rate, ...
OTHER_FIELDS = ("bp_position", "on_oxygen", "consciousness", "spo2_scale")


# ---------------------------------------------------------------------------------------------------------
# Band tables
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Band:
    min: Decimal | None  # None = open below
    max: Decimal | None  # None = open above
    outcome: Any


def band_table(raw: Sequence[Mapping[str, Any]], outcome_key: str, decimals: int) -> tuple[Band, ...]:
    """Build a band table and prove it has no gaps or overlaps at the vital's recording precision."""
    bands = tuple(
        Band(
            Decimal(b["min"]) if "min" in b else None,
            Decimal(b["max"]) if "max" in b else None,
            b[outcome_key],
        )
        for b in raw
    )
    step = Decimal(1).scaleb(-decimals)
    if bands[0].min is not None or bands[-1].max is not None:
        raise ValueError("band table must be open at both ends")
    for lower, upper in itertools.pairwise(bands):
        if lower.max is None or upper.min is None or upper.min != lower.max + step:
            raise ValueError(f"band table is not contiguous between {lower} and {upper}")
    return bands


def lookup(bands: Sequence[Band], value: Decimal) -> Any:
    for band in bands:
        if band.max is None or value <= band.max:
            return band.outcome
    raise AssertionError("unreachable: last band is open above")


# ---------------------------------------------------------------------------------------------------------
# Single values
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Measurement:
    vital: str
    value: Decimal
    unit: str  # UCUM, stored with the value
    loinc: tuple[str, ...]
    confirmation_reason: str | None  # set when the value is possible but unusual

    @property
    def needs_confirmation(self) -> bool:
        return self.confirmation_reason is not None


def check_value(vital: str, value: object, thresholds: Thresholds | None = None) -> Measurement:
    """Parse one value: raises ImpossibleValue/InvalidValue; unusual-but-possible values need confirmation."""
    if vital not in vital_specs():
        raise InvalidValue(vital, f"Unknown vital sign {vital!r}.")
    spec = vital_specs()[vital]
    number = parse_vital(vital, value)
    usual = (thresholds or default_thresholds()).usual[vital]
    reason = None
    if not usual.contains(number):
        side = "low" if number < usual.min else "high"
        reason = (
            f"{spec.label} of {spec.fmt(number)} is unusually {side} "
            f"(usual {usual.min}–{usual.max} {spec.unit_display}). "
            "Please confirm it was measured and typed correctly."
        )
    return Measurement(vital, number, spec.unit, spec.loinc, reason)


# ---------------------------------------------------------------------------------------------------------
# Blood-pressure category (ACC/AHA 2017)
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BpCategory:
    id: str
    label: str
    status: str
    systolic_category: str
    diastolic_category: str
    source: str


@lru_cache(maxsize=1)
def _bp_tables() -> tuple[tuple[Band, ...], tuple[Band, ...], tuple[Mapping[str, Any], ...]]:
    raw = raw_data()["bp_categories"]
    return (
        band_table(raw["systolic"], "category", 0),
        band_table(raw["diastolic"], "category", 0),
        tuple(raw["categories"]),
    )


def bp_category(systolic: object, diastolic: object) -> BpCategory:
    """Category of one reading (or of an average passed in); SBP and DBP disagreeing → the higher category."""
    sbp = parse_vital("systolic_bp", systolic)
    dbp = parse_vital("diastolic_bp", diastolic)
    sys_table, dia_table, categories = _bp_tables()
    order = [c["id"] for c in categories]
    sys_cat, dia_cat = lookup(sys_table, sbp), lookup(dia_table, dbp)
    chosen = categories[max(order.index(sys_cat), order.index(dia_cat))]
    return BpCategory(
        chosen["id"],
        chosen["label"],
        chosen["status"],
        sys_cat,
        dia_cat,
        raw_data()["bp_categories"]["source"],
    )


# ---------------------------------------------------------------------------------------------------------
# NEWS2
# ---------------------------------------------------------------------------------------------------------
NEWS2_PARAMETERS = (
    "respiratory_rate",
    "spo2",
    "air_or_oxygen",
    "systolic_bp",
    "pulse",
    "consciousness",
    "temperature",
)


@dataclass(frozen=True)
class News2Result:
    sub_scores: Mapping[str, int]
    missing: tuple[str, ...]
    partial_total: int  # sum of the sub-scores present; a lower bound when parameters are missing
    total: int | None  # only when every parameter is present
    risk: str | None  # only when complete
    risk_at_least: str  # missing parameters can only add points, so the partial risk is a floor
    any_parameter_scored_3: bool
    spo2_scale: int
    source: str
    status: str
    risk_status: str

    @property
    def complete(self) -> bool:
        return not self.missing


@lru_cache(maxsize=1)
def _news2_tables() -> Mapping[str, tuple[Band, ...]]:
    params = raw_data()["news2"]["parameters"]
    specs = vital_specs()
    return {name: band_table(p["bands"], "points", specs[p["vital"]].decimals) for name, p in params.items()}


def news2_risk(total: int, any_three: bool) -> str:
    risk_data = raw_data()["news2"]["risk"]
    band = next(b for b in risk_data["bands"] if total >= b["min"] and ("max" not in b or total <= b["max"]))
    single = risk_data["single_parameter_3"]
    if any_three and band["risk"] == single["applies_when_band"]:
        return single["risk"]
    return band["risk"]


def news2(
    *,
    respiratory_rate: object = None,
    spo2: object = None,
    spo2_scale: int = 1,
    on_oxygen: bool | None = None,
    systolic_bp: object = None,
    pulse: object = None,
    consciousness: str | None = None,
    temperature: object = None,
) -> News2Result:
    """NEWS2 sub-scores for the inputs given; the aggregate and risk only when all seven are present.

    SpO2 scale 2 is for hypercapnic respiratory failure only and must be chosen by a clinician; at 93% or
    more it needs to know air vs oxygen.
    """
    data = raw_data()["news2"]
    tables = _news2_tables()
    if spo2_scale not in (1, 2):
        raise InvalidValue("spo2_scale", f"SpO2 scale must be 1 or 2; got {spo2_scale!r}.")
    if on_oxygen is not None and not isinstance(on_oxygen, bool):
        raise InvalidValue("on_oxygen", f"Air or oxygen must be given as true/false; got {on_oxygen!r}.")
    codes = data["consciousness"]["codes"]
    if consciousness is not None and consciousness not in codes:
        allowed = ", ".join(f"{k} ({v})" for k, v in codes.items())
        raise InvalidValue("consciousness", f"Consciousness must be one of {allowed}; got {consciousness!r}.")

    scores: dict[str, int] = {}
    numeric = {
        "respiratory_rate": ("respiratory_rate", respiratory_rate),
        "systolic_bp": ("systolic_bp", systolic_bp),
        "pulse": ("heart_rate", pulse),
        "temperature": ("body_temperature", temperature),
    }
    for param, (vital, raw_value) in numeric.items():
        if raw_value is not None:
            scores[param] = lookup(tables[param], parse_vital(vital, raw_value))
    if spo2 is not None:
        value = parse_vital("spo2", spo2)
        if spo2_scale == 1:
            scores["spo2"] = lookup(tables["spo2_scale_1"], value)
        elif on_oxygen is not None:
            table = "spo2_scale_2_on_oxygen" if on_oxygen else "spo2_scale_2_on_air"
            scores["spo2"] = lookup(tables[table], value)
        elif value <= 92:  # both scale-2 columns agree up to 92%
            scores["spo2"] = lookup(tables["spo2_scale_2_on_air"], value)
    if on_oxygen is not None:
        scores["air_or_oxygen"] = data["air_or_oxygen"]["oxygen" if on_oxygen else "air"]
    if consciousness is not None:
        scores["consciousness"] = data["consciousness"]["points"][consciousness]

    ordered = {p: scores[p] for p in NEWS2_PARAMETERS if p in scores}
    missing = tuple(p for p in NEWS2_PARAMETERS if p not in scores)
    partial = sum(ordered.values())
    any_three = any(points == 3 for points in ordered.values())
    floor = news2_risk(partial, any_three)
    return News2Result(
        sub_scores=ordered,
        missing=missing,
        partial_total=partial,
        total=None if missing else partial,
        risk=None if missing else floor,
        risk_at_least=floor,
        any_parameter_scored_3=any_three,
        spo2_scale=spo2_scale,
        source=data["source"],
        status=data["status"],
        risk_status=data["risk"]["status"],
    )


# ---------------------------------------------------------------------------------------------------------
# Threshold checks and whole readings
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ThresholdHit:
    check_id: str
    severity: str
    meaning: str
    evidence: str  # e.g. "respiratory_rate = 7 (rule respiratory_rate <= 8)"
    source: str
    status: str


def threshold_hits(
    observed: Mapping[str, Decimal | str], thresholds: Thresholds | None = None
) -> list[ThresholdHit]:
    """Every check whose vital is present in `observed` and fires."""
    hits = []
    for check in (thresholds or default_thresholds()).checks.values():
        if check.vital in observed and check.fires(observed[check.vital]):
            hits.append(
                ThresholdHit(
                    check.id,
                    check.severity,
                    check.meaning,
                    f"{check.vital} = {observed[check.vital]} (rule {check.describe()})",
                    check.source,
                    check.status,
                )
            )
    return hits


@dataclass(frozen=True)
class ReadingClassification:
    measurements: Mapping[str, Measurement]
    bp_position: str | None
    needs_confirmation: Mapping[str, str]  # field → reason; the caller must get an explicit confirmation
    bp_category: BpCategory | None
    news2: News2Result
    alerts: tuple[ThresholdHit, ...] = field(default_factory=tuple)


def classify_reading(
    reading: Mapping[str, Any], thresholds: Thresholds | None = None
) -> ReadingClassification:
    """Validate and classify one set of vitals; any bad field → InvalidReading (field → message).

    Fields: systolic_bp, diastolic_bp, bp_position, heart_rate, respiratory_rate, body_temperature (°C),
    spo2 (%), body_weight (kg), on_oxygen (bool), consciousness (A/C/V/P/U), spo2_scale (1 or 2).
    Absent or None fields are simply not classified.
    """
    thresholds = thresholds or default_thresholds()
    present = {k: v for k, v in reading.items() if v is not None}
    errors: dict[str, str] = {}
    impossible: set[str] = set()
    for unknown in sorted(set(present) - set(NUMERIC_FIELDS) - set(OTHER_FIELDS)):
        errors[unknown] = f"Unknown field {unknown!r}."

    measurements: dict[str, Measurement] = {}
    for vital in NUMERIC_FIELDS:
        if vital in present:
            try:
                measurements[vital] = check_value(vital, present[vital], thresholds)
            except InvalidValue as exc:
                errors[vital] = exc.message
                if isinstance(exc, ImpossibleValue):
                    impossible.add(vital)

    has_sbp, has_dbp = "systolic_bp" in present, "diastolic_bp" in present
    position = present.get("bp_position")
    positions = raw_data()["blood_pressure"]["positions"]
    if has_sbp != has_dbp:
        errors.setdefault(
            "systolic_bp" if has_dbp else "diastolic_bp", "Blood pressure needs both systolic and diastolic."
        )
    if has_sbp or has_dbp:
        if position not in positions:
            errors["bp_position"] = (
                f"Blood pressure position must be one of {', '.join(positions)}; got {position!r}."
            )
    elif position is not None:
        errors["bp_position"] = "A position was given without a blood pressure."
    if "systolic_bp" in measurements and "diastolic_bp" in measurements:
        sbp, dbp = measurements["systolic_bp"].value, measurements["diastolic_bp"].value
        if dbp >= sbp:
            errors["diastolic_bp"] = (
                f"Diastolic pressure ({dbp} mmHg) must be lower than systolic ({sbp} mmHg); "
                "the two may have been swapped."
            )
            impossible.add("diastolic_bp")

    def value(vital: str) -> Decimal | None:
        return measurements[vital].value if vital in measurements else None

    try:
        news = news2(
            respiratory_rate=value("respiratory_rate"),
            spo2=value("spo2"),
            spo2_scale=present.get("spo2_scale", 1),
            on_oxygen=present.get("on_oxygen"),
            systolic_bp=value("systolic_bp"),
            pulse=value("heart_rate"),
            consciousness=present.get("consciousness"),
            temperature=value("body_temperature"),
        )
    except InvalidValue as exc:
        errors[exc.vital] = exc.message

    if errors:
        raise InvalidReading(errors, impossible=impossible)

    bp = None
    if "systolic_bp" in measurements:
        bp = bp_category(measurements["systolic_bp"].value, measurements["diastolic_bp"].value)
    observed: dict[str, Decimal | str] = {v: m.value for v, m in measurements.items()}
    if "consciousness" in present:
        observed["consciousness"] = present["consciousness"]
    return ReadingClassification(
        measurements=measurements,
        bp_position=position,
        needs_confirmation={
            v: m.confirmation_reason for v, m in measurements.items() if m.confirmation_reason
        },
        bp_category=bp,
        news2=news,
        alerts=tuple(threshold_hits(observed, thresholds)),
    )


__all__ = [
    "BpCategory",
    "ImpossibleValue",
    "InvalidReading",
    "InvalidValue",
    "Measurement",
    "News2Result",
    "ReadingClassification",
    "ThresholdHit",
    "bp_category",
    "check_value",
    "classify_reading",
    "news2",
    "threshold_hits",
]
