"""Reads of the vitals area. Inside the current clinic (scoped managers); list pages are a fixed number of
queries whatever the number of rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from patients.models import Patient
from vitals.errors import OverrideError
from vitals.models import InstrumentResult, VitalReading, VitalThresholdSettings, VitalValue
from vitals.thresholds import Thresholds, default_thresholds, merge_clinic_overrides


# --- thresholds ---------------------------------------------------------------------------------------------
def threshold_settings() -> VitalThresholdSettings | None:
    return VitalThresholdSettings.objects.first()


def clinic_overrides() -> dict[str, Any]:
    row = threshold_settings()
    return dict(row.overrides) if row else {}


def thresholds_from(overrides: Mapping[str, Any]) -> Thresholds:
    """Merge stored overrides entry by entry; one that no longer merges (e.g. the reference itself was
    tightened past it since it was saved) is skipped, so the reference default applies for that entry."""
    defaults = default_thresholds()
    merged = defaults
    for section in ("checks", "usual"):
        for key, value in (overrides.get(section) or {}).items():
            try:
                candidate = merge_clinic_overrides(defaults, {section: {key: value}})
            except OverrideError:
                continue
            if section == "checks":
                merged = Thresholds({**merged.checks, key: candidate.checks[key]}, merged.usual)
            else:
                merged = Thresholds(merged.checks, {**merged.usual, key: candidate.usual[key]})
    return merged


def clinic_thresholds() -> Thresholds:
    """The current clinic's thresholds: reference defaults, tightened by its saved overrides."""
    return thresholds_from(clinic_overrides())


# --- readings and results -----------------------------------------------------------------------------------
def readings_for_patient(*, patient: Patient) -> QuerySet[VitalReading]:
    """Newest first, values and the person who entered them loaded: two queries for any number of rows
    (slice before iterating)."""
    return (
        VitalReading.objects.filter(patient=patient)
        .select_related("entered_by")
        .prefetch_related(Prefetch("values", queryset=VitalValue.objects.order_by("kind")))
        .order_by("-taken_at", "-created_at")
    )


def reading_get(*, reading_id) -> VitalReading:
    return get_object_or_404(
        VitalReading.objects.select_related("patient", "entered_by").prefetch_related("values"), pk=reading_id
    )


def results_for_patient(*, patient: Patient, instrument: str | None = None) -> QuerySet[InstrumentResult]:
    results = InstrumentResult.objects.filter(patient=patient).select_related("entered_by")
    if instrument:
        results = results.filter(instrument=instrument)
    return results.order_by("-completed_at", "-created_at")


def result_get(*, result_id) -> InstrumentResult:
    return get_object_or_404(InstrumentResult.objects.select_related("patient", "entered_by"), pk=result_id)


# --- flowsheet ----------------------------------------------------------------------------------------------
@dataclass
class Flowsheet:
    start: dt.date
    end: dt.date
    values: dict[str, list[tuple[dt.datetime, Decimal]]] = field(default_factory=dict)  # kind → points
    scores: dict[str, list[tuple[dt.datetime, Decimal]]] = field(default_factory=dict)  # instrument → points
    score_names: dict[str, str] = field(default_factory=dict)
    dose: list[tuple[dt.date, Decimal]] = field(default_factory=list)  # planned daily dose (DE mg) steps
    step_dates: list[dt.date] = field(default_factory=list)
    readings: list[VitalReading] = field(default_factory=list)
    results: list[InstrumentResult] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.values or self.scores or self.dose)


def flowsheet(*, patient: Patient, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo) -> Flowsheet:
    """Vitals, scores and the planned taper dose between `start` and `end`: four queries for the vitals
    and scores whatever their number, plus two for the planned taper dose."""
    sheet = Flowsheet(start=start.astimezone(tz).date(), end=end.astimezone(tz).date())
    values = VitalValue.objects.filter(patient=patient, taken_at__gte=start, taken_at__lte=end).order_by(
        "taken_at"
    )
    for kind, taken_at, value in values.values_list("kind", "taken_at", "value"):
        sheet.values.setdefault(kind, []).append((taken_at, value))
    results = list(
        results_for_patient(patient=patient)
        .filter(completed_at__gte=start, completed_at__lte=end)
        .order_by("completed_at")
    )
    for result in results:
        sheet.scores.setdefault(result.instrument, []).append((result.completed_at, result.total))
        sheet.score_names[result.instrument] = result.instrument_name
    sheet.results = list(reversed(results))
    sheet.readings = list(
        readings_for_patient(patient=patient).filter(taken_at__gte=start, taken_at__lte=end)[:200]
    )
    sheet.dose, sheet.step_dates = taper_dose_steps(patient=patient, start=sheet.start, end=sheet.end)
    return sheet


def taper_dose_steps(
    *, patient: Patient, start: dt.date, end: dt.date
) -> tuple[list[tuple[dt.date, Decimal]], list[dt.date]]:
    """The planned daily dose (diazepam-equivalent mg) as (date it starts, dose) points and the step dates
    in [start, end], from taper.selectors. No active plan: no dose series."""
    from taper.selectors import planned_dose_series

    return planned_dose_series(patient=patient, start=start, end=end)
