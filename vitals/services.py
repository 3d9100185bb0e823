"""Writes of the vitals area: validated by the pure modules, atomic, audited in the same transaction, and
announced with `clinical_fact_recorded` so the safety rules can run on commit.

Refusals are django ValidationErrors with a plain message per field; nothing is written when one is raised.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.actors import ActorLike, as_actor
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import require_clinic
from patients.models import Patient
from vitals import selectors
from vitals.classification import classify_reading
from vitals.errors import AnswerError, DefinitionError, InvalidReading, OverrideError
from vitals.instruments_registry import available_definitions, band_code, definition_for, stored_flag_name
from vitals.models import (
    DATA_TO_KIND,
    KIND_TO_DATA,
    NOTE_MAX,
    ClinicInstrument,
    InstrumentResult,
    Source,
    VitalReading,
    VitalThresholdSettings,
    VitalValue,
)
from vitals.scoring import builtin_ids, load_definition, score
from vitals.signals import FACT_INSTRUMENT, FACT_VITAL, clinical_fact_recorded
from vitals.thresholds import default_thresholds, merge_clinic_overrides, vital_specs

Action = AuditEvent.Action
FUTURE_TOLERANCE = dt.timedelta(minutes=5)  # clock skew between a device or EHR and this server
# Field names of classification errors, renamed to the names the form and API use.
_ERROR_FIELD = {**DATA_TO_KIND, "bp_position": "position"}


class UnusualValues(ValidationError):
    """Possible but unusual values: the caller must confirm them (`confirm_unusual=True`) to save.

    `unusual` maps each value's kind to the plain reason it needs confirmation.
    """

    def __init__(self, unusual: Mapping[str, str]) -> None:
        self.unusual = dict(unusual)
        super().__init__({kind: [reason] for kind, reason in self.unusual.items()}, code="unusual")


# --- helpers ------------------------------------------------------------------------------------------------
def _check_time(errors: dict[str, list[str]], name: str, value: Any, what: str) -> None:
    if not isinstance(value, dt.datetime):
        errors.setdefault(name, []).append(f"Enter the date and time {what}.")
    elif timezone.is_naive(value):
        errors.setdefault(name, []).append(f"The time {what} needs a time zone.")
    elif value > timezone.now() + FUTURE_TOLERANCE:
        errors.setdefault(name, []).append(f"The time {what} cannot be in the future.")


def _check_source(errors: dict[str, list[str]], source: Any) -> None:
    if source not in Source.values:
        errors.setdefault("source", []).append(f"Source must be one of {', '.join(Source.values)}.")


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


# --- vital signs --------------------------------------------------------------------------------------------
def _present(values: Any, errors: dict[str, list[str]]) -> dict[str, Any]:
    if not isinstance(values, Mapping):
        errors.setdefault("values", []).append("Measurements must be given as {kind: value}.")
        return {}
    present = {}
    for kind, value in values.items():
        if kind not in KIND_TO_DATA:
            errors.setdefault("values", []).append(
                f"Unknown measurement {kind!r}; use {', '.join(KIND_TO_DATA)}."
            )
        elif value is not None and value != "":
            present[kind] = value
    if not present and not errors:
        errors.setdefault("values", []).append("Enter at least one measurement.")
    return present


@transaction.atomic
def vitals_record(
    *,
    actor: ActorLike,
    patient: Patient,
    taken_at: dt.datetime,
    values: Mapping[str, Any],
    position: str = "",
    taken_by: str,
    source: str,
    confirm_unusual: bool = False,
    note: str = "",
    on_oxygen: bool | None = None,
    consciousness: str = "",
) -> VitalReading:
    """Record one set of vital signs.

    `values` maps kinds (systolic_bp, diastolic_bp, heart_rate, respiratory_rate, temperature (°C), spo2 (%),
    weight (kg)) to numbers. Impossible values are refused; values outside the clinic's usual range raise
    UnusualValues unless `confirm_unusual`. The BP category and NEWS2 (when all seven inputs exist) are
    computed with the clinic's thresholds and stored with the reading.
    """
    errors: dict[str, list[str]] = {}
    present = _present(values, errors)
    _check_time(errors, "taken_at", taken_at, "the measurements were taken")
    _check_source(errors, source)
    taken_by = (taken_by or "").strip()
    if not taken_by:
        errors.setdefault("taken_by", []).append("Enter who took the measurements.")
    elif len(taken_by) > 200:
        errors.setdefault("taken_by", []).append("Use at most 200 characters.")
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        errors.setdefault("note", []).append(f"Use at most {NOTE_MAX} characters.")

    reading_input: dict[str, Any] = {KIND_TO_DATA[kind]: value for kind, value in present.items()}
    reading_input.update(
        bp_position=position or None, on_oxygen=on_oxygen, consciousness=consciousness or None
    )
    thresholds = selectors.clinic_thresholds()
    classified = None
    try:
        classified = classify_reading(reading_input, thresholds)
    except InvalidReading as exc:
        for name, message in exc.errors.items():
            errors.setdefault(_ERROR_FIELD.get(name, name), []).append(message)
    if errors:
        raise ValidationError(errors)

    unusual = {DATA_TO_KIND[v]: reason for v, reason in classified.needs_confirmation.items()}
    if unusual and not confirm_unusual:
        raise UnusualValues(unusual)

    clinic = require_clinic()
    news = classified.news2
    bp = classified.bp_category
    reading = VitalReading(
        clinic=clinic,
        patient=patient,
        taken_at=taken_at,
        taken_by=taken_by,
        entered_by=as_actor(actor).user,
        source=source,
        position=classified.bp_position or "",
        on_oxygen=on_oxygen,
        consciousness=consciousness or "",
        note=note,
        bp_category=bp.id if bp else "",
        bp_category_label=bp.label if bp else "",
        news2_score=news.total,
        news2_risk=news.risk or "",
        news2_partial=news.partial_total if news.sub_scores else None,
        flags=[hit.check_id for hit in classified.alerts],
    )
    reading.save()
    specs = vital_specs()
    rows = []
    for name, measurement in classified.measurements.items():
        spec = specs[name]
        rows.append(
            VitalValue(
                clinic=clinic,
                reading=reading,
                patient=patient,
                kind=DATA_TO_KIND[name],
                value=measurement.value,
                unit=spec.unit,
                loinc=spec.loinc[0],
                loinc_codes=list(spec.loinc),
                taken_at=taken_at,
                confirmed_unusual=DATA_TO_KIND[name] in unusual,
            )
        )
    VitalValue.objects.bulk_create(rows)
    audit(
        actor=actor,
        action=Action.CREATE,
        obj=reading,
        patient=patient,
        detail={
            "values": {row.kind: str(row.value) for row in rows},
            "confirmed_unusual": sorted(unusual),
            "bp_category": reading.bp_category,
            "news2_score": reading.news2_score,
            "flags": reading.flags,
            "source": source,
        },
    )
    clinical_fact_recorded.send(
        sender=VitalReading,
        clinic_id=clinic.pk,
        patient_id=patient.pk,
        kind=FACT_VITAL,
        object_id=reading.pk,
    )
    return reading


# --- instruments --------------------------------------------------------------------------------------------
@transaction.atomic
def instrument_result_record(
    *,
    actor: ActorLike,
    patient: Patient,
    instrument: str,
    answers: Mapping[str, int],
    completed_at: dt.datetime,
    source: str,
) -> InstrumentResult:
    """Score `answers` with the instrument's definition (vitals.scoring) and keep them with the score.

    Missing, unknown or out-of-range answers are refused (field `answers`), as is an unknown instrument.
    """
    errors: dict[str, list[str]] = {}
    definition = definition_for(instrument) if isinstance(instrument, str) else None
    if definition is None:
        known = ", ".join(d.id for d in available_definitions())
        errors.setdefault("instrument", []).append(f"Unknown instrument {instrument!r}; available: {known}.")
    _check_time(errors, "completed_at", completed_at, "it was completed")
    _check_source(errors, source)
    scored = None
    if definition is not None:
        try:
            scored = score(definition, answers)
        except AnswerError as exc:
            errors.setdefault("answers", []).extend(exc.problems)
    if errors:
        raise ValidationError(errors)

    result = InstrumentResult(
        clinic=require_clinic(),
        patient=patient,
        instrument=definition.id,
        instrument_name=definition.short_name[:40],
        instrument_version=definition.version[:200],
        answers=dict(scored.item_answers),
        item_scores=dict(scored.item_scores),
        total=Decimal(scored.total),
        band=band_code(scored.band.label),
        band_label=scored.band.label[:80],
        flags=[stored_flag_name(definition.id, hit.id) for hit in scored.flags],
        flag_details=[
            {
                "flag": stored_flag_name(definition.id, hit.id),
                "rule": hit.id,
                "label": f"{definition.short_name}: {hit.id.replace('_', ' ')}",
                "severity": hit.severity,
                "reason": hit.reason,
                "evidence": hit.evidence,
                "source": hit.source,
                "status": hit.status,
            }
            for hit in scored.flags
        ],
        loinc_total=scored.loinc_total or "",
        completed_at=completed_at,
        source=source,
        entered_by=as_actor(actor).user,
    )
    result.save()
    audit(
        actor=actor,
        action=Action.CREATE,
        obj=result,
        patient=patient,
        detail={
            "instrument": result.instrument,
            "total": str(result.total),
            "band": result.band,
            "flags": result.flags,
            "source": source,
        },
    )
    clinical_fact_recorded.send(
        sender=InstrumentResult,
        clinic_id=result.clinic_id,
        patient_id=patient.pk,
        kind=FACT_INSTRUMENT,
        object_id=result.pk,
    )
    return result


@transaction.atomic
def clinic_instrument_load(*, actor: ActorLike, definition: Mapping[str, Any]) -> ClinicInstrument:
    """Load (or replace) a licensed instrument definition for the current clinic. It must pass the same
    loader as the built-ins (vitals.scoring.load_definition), so every item text and label is filled."""
    try:
        loaded = load_definition(definition, origin="uploaded definition")
    except DefinitionError as exc:
        raise ValidationError({"definition": exc.problems}) from exc
    if loaded.id in builtin_ids():
        raise ValidationError(
            {"definition": [f"{loaded.id!r} is a built-in instrument; give the licensed one its own id."]}
        )
    row = ClinicInstrument.objects.select_for_update().filter(instrument=loaded.id).first()
    created = row is None
    row = row or ClinicInstrument(clinic=require_clinic(), instrument=loaded.id)
    row.definition = dict(definition)
    row.is_active = True
    row.loaded_by = as_actor(actor).user
    row.save()
    audit(
        actor=actor,
        action=Action.CREATE if created else Action.UPDATE,
        obj=row,
        detail={"instrument": loaded.id, "version": loaded.version},
    )
    return row


# --- clinic thresholds --------------------------------------------------------------------------------------
def _clean_overrides(overrides: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Normalise to {"checks": {id: {"value": "n"}}, "usual": {vital: {"min": "a", "max": "b"}}} (numbers as
    strings, empty entries dropped) and check each entry alone, so every problem is reported at once."""
    errors: dict[str, list[str]] = {}
    if not isinstance(overrides, Mapping):
        return {}, {"overrides": ["Overrides must be an object."]}
    unknown = set(overrides) - {"checks", "usual"}
    if unknown:
        errors["overrides"] = [f"Unknown section(s): {', '.join(sorted(unknown))}."]
    clean: dict[str, Any] = {"checks": {}, "usual": {}}
    defaults = default_thresholds()
    for section in ("checks", "usual"):
        entries = overrides.get(section) or {}
        if not isinstance(entries, Mapping):
            errors.setdefault("overrides", []).append(f"{section} must be an object.")
            continue
        for key, entry in entries.items():
            if isinstance(entry, Mapping):
                entry = {k: _plain(v) for k, v in entry.items() if v is not None and v != ""}
                if not entry:
                    continue
            try:
                merge_clinic_overrides(defaults, {section: {key: entry}})
            except OverrideError as exc:
                errors.setdefault(f"{section}.{key}", []).append(str(exc))
                continue
            clean[section][key] = {k: str(v) for k, v in entry.items()}
    return {k: v for k, v in clean.items() if v}, errors


@transaction.atomic
def vital_thresholds_save(*, actor: ActorLike, overrides: Mapping[str, Any]) -> VitalThresholdSettings:
    """Replace the clinic's overrides. Tighten-only: a value that would loosen a reference threshold (or
    widen a usual range) is refused with the reason, keyed "checks.<id>" or "usual.<vital>"; nothing saves."""
    clean, errors = _clean_overrides(overrides)
    if errors:
        raise ValidationError(errors)
    row = VitalThresholdSettings.objects.select_for_update().first()
    created = row is None
    row = row or VitalThresholdSettings(clinic=require_clinic())
    before = dict(row.overrides or {})
    if not created and before == clean:
        return row
    row.overrides = clean
    row.updated_by = as_actor(actor).user
    row.save()
    audit(
        actor=actor,
        action=Action.CREATE if created else Action.UPDATE,
        obj=row,
        detail={"before": before, "after": clean},
    )
    return row
