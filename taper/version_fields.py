"""What a version stores: an engine request and schedule as `TaperPlanVersion` fields and `TaperStep` rows.

Fractions become decimal strings and enums their values, so the JSON columns read back the same on any
machine; `presentation` prints these rows for a preview and for a stored version alike. No queries here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from taper import alternatives
from taper.engine import Hold, Schedule, Step, TaperRequest, as_decimal
from taper.models import TaperPlanVersion


def _s(value: Fraction) -> str:
    return f"{as_decimal(value).normalize():f}"  # "10", not "1E+1"


def dose_rows(doses) -> list[dict[str, Any]]:
    """Engine doses as the JSON a step stores (also the baseline of an open hold)."""
    return [
        {
            "drug": d.drug,
            "time": d.time_of_day.strftime("%H:%M"),
            "mg": _s(d.mg),
            "de_mg": _s(d.de_mg),
            "form": d.form.value,
            "tablets": [[fid, _s(count)] for fid, count in d.preparation.tablets],
            "liquid": [d.preparation.liquid[0], _s(d.preparation.liquid[1])]
            if d.preparation.liquid
            else None,
        }
        for d in doses
    ]


def step_row(step: Step) -> dict[str, Any]:
    """An engine step as the JSON stored on TaperStep (Fractions → decimal strings)."""
    doses = dose_rows(step.doses)
    dispense = [
        {
            "formulation_id": x.formulation_id,
            "description": x.description,
            "tablets": x.tablets,
            "ml": _s(x.ml) if x.ml is not None else None,
            "unverified": x.unverified,
        }
        for x in step.dispense
    ]
    return {
        "phase": step.phase.value,
        "start": step.start,
        "end": step.end,
        "daily_de_mg": as_decimal(step.daily_de_mg),
        "window_reduction_percent": as_decimal(step.window_reduction_percent, 2),
        "step_percent": as_decimal(step.step_percent, 2),
        "requested_percent": as_decimal(step.requested_percent, 2)
        if step.requested_percent is not None
        else None,
        "other_table_de_mg": as_decimal(step.other_table_de_mg)
        if step.other_table_de_mg is not None
        else None,
        "delayed_days": step.delayed_days,
        "doses": doses,
        "dispense": dispense,
        "flags": list(step.flags),
    }


def _warning_rows(schedule: Schedule, confirmation: str) -> list[dict[str, Any]]:
    rows = []
    for w in schedule.warnings:
        detail = w.detail
        if w.code == "high_dose" and confirmation:
            detail += f" The dose was confirmed by typing “{confirmation}” when the plan was saved."
        rows.append(
            {
                "code": w.code,
                "rule": w.rule,
                "title": w.title,
                "detail": detail,
                "source": w.source,
                "steps": list(w.steps),
            }
        )
    return rows


def option_rows(options: Sequence[alternatives.Alternative]) -> list[dict[str, Any]]:
    """Alternatives as stored on a version, shown as buttons and sent in an API refusal."""
    return [
        {
            "code": o.code,
            "label": o.label,
            "outcome": o.outcome,
            "changes": dict(o.changes),
            "fixes": o.fixes,
            "psychiatrist_only": o.psychiatrist_only,
        }
        for o in options
    ]


def warnings_digest(version: TaperPlanVersion) -> str:
    """Identifies the warnings a version carries: the approval form sends it back to prove they were shown."""
    payload = json.dumps([str(version.pk), version.warnings], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _hold_json(holds: tuple[Hold, ...]) -> list[dict[str, Any]]:
    return [
        {"days": h.days, "at_step": h.at_step, "on_date": h.on_date.isoformat() if h.on_date else None}
        for h in holds
    ]


def _regimen_json(request: TaperRequest) -> list[dict[str, str]]:
    out = []
    for a in request.regimen:
        line = {"drug": a.drug, "dose_mg": str(a.dose_mg), "time_of_day": a.time_of_day.strftime("%H:%M")}
        if a.form:
            line["form"] = str(a.form)
        out.append(line)
    return out


def input_fields(request: TaperRequest, *, confirmation: str = "") -> dict[str, Any]:
    """What the person asked for, as the version's input columns."""
    return {
        "table": request.table.value,
        "strategy": request.strategy.value,
        "regimen": _regimen_json(request),
        "rate_percent": Decimal(str(request.rate_percent)),
        "interval_days": request.interval_days,
        "substitution_interval_days": request.substitution_interval_days,
        "slow_rate_percent": request.slow_rate_percent,
        "slow_below_de_mg": request.slow_below_de_mg,
        "target_de_mg": Decimal(str(request.target_de_mg)),
        "holds": _hold_json(request.holds),
        "formulations": sorted(request.available_formulations or ()),
        "override_reason": request.override_reason or "",
        "override_steps": sorted(request.override_steps),
        "liquid": request.liquid.value,
        "min_switch_days": request.min_switch_days,
        "tail_floor_de_mg": Decimal(str(request.tail_floor_de_mg))
        if request.tail_floor_de_mg is not None
        else None,
        "high_dose_confirmation": confirmation,
    }


def summary_fields(
    schedule: Schedule, *, confirmation: str = "", options: Sequence[alternatives.Alternative] = ()
) -> dict[str, Any]:
    """What the engine answered, as the version's summary columns."""
    return {
        "baseline_de_mg": as_decimal(schedule.baseline_de_mg),
        "end_date": schedule.end_date,
        "final_de_mg": as_decimal(schedule.final_de_mg),
        "cap_wording": schedule.cap.wording[:300],
        "cap_source": schedule.cap.source[:300],
        "violations": [v.describe() for v in schedule.violations],
        "unverified": list(schedule.unverified),
        "notes": list(schedule.notes),
        "warnings": _warning_rows(schedule, confirmation),
        "alternatives": option_rows(options),
        "other_table": schedule.other_table.value if schedule.other_table else "",
        "baseline_other_de_mg": as_decimal(schedule.baseline_other_de_mg)
        if schedule.baseline_other_de_mg is not None
        else None,
    }


__all__ = ["dose_rows", "input_fields", "option_rows", "step_row", "summary_fields", "warnings_digest"]
