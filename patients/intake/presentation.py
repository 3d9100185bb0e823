"""Turn assessment values (as stored, or JSON-safe from amendments) into labelled rows for pages and PDFs."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from patients.intake import asam, content
from patients.intake.models import BENZODIAZEPINE_CHOICES, IntakeAssessment
from patients.levels_of_care import BY_CODE as LEVELS

RATING_LABELS = {r.value: f"{r.value} · {r.label}" for r in asam.RATINGS}
BENZO_LABELS = dict(BENZODIAZEPINE_CHOICES)


@dataclass(frozen=True)
class Row:
    name: str
    label: str
    value: str
    amended_by: tuple[int, ...] = ()  # amendment sequence numbers that changed this field


@dataclass(frozen=True)
class Section:
    title: str
    rows: tuple[Row, ...]


def label_of(name: str) -> str:
    label = str(IntakeAssessment._meta.get_field(name).verbose_name)
    return label[:1].upper() + label[1:]


def display(name: str, value: Any) -> str:
    """A field value as a person reads it."""
    if value is None or value == "":
        return "—"
    if name.endswith("_rating"):
        return RATING_LABELS.get(int(value), str(value))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if name in ("recommended_level", "suggested_level"):
        level = LEVELS.get(value)
        return f"{level.label} · ASAM {level.asam_level}" if level else str(value)
    if name == "current_benzodiazepine":
        return BENZO_LABELS.get(value, str(value))
    if name == "daily_dose_mg":
        return f"{value} mg/day"
    if name == "assessed_on":
        date = datetime.date.fromisoformat(value) if isinstance(value, str) else value
        return f"{date:%b} {date.day}, {date.year}"
    return str(value)


def _rows(
    names: tuple[str, ...], values: dict[str, Any], amended: dict[str, tuple[int, ...]]
) -> tuple[Row, ...]:
    return tuple(Row(n, label_of(n), display(n, values[n]), amended.get(n, ())) for n in names)


def sections(values: dict[str, Any], amended: dict[str, tuple[int, ...]] | None = None) -> list[Section]:
    amended = amended or {}
    result = [Section("Assessment date", _rows(("assessed_on",), values, amended))]
    for dimension in asam.DIMENSIONS:
        names = (f"d{dimension.number}_rating", f"d{dimension.number}_notes")
        rows = _rows(names, values, amended)
        result.append(
            Section(
                f"Dimension {dimension.number}: {dimension.name}",
                (
                    Row(rows[0].name, "Risk rating", rows[0].value, rows[0].amended_by),
                    Row(rows[1].name, "Notes", rows[1].value, rows[1].amended_by),
                ),
            )
        )
    result += [
        Section("Withdrawal history", _rows(content.WITHDRAWAL_FIELDS, values, amended)),
        Section("Co-occurring conditions", _rows(content.CO_OCCURRING_FIELDS, values, amended)),
        Section("Current benzodiazepine", _rows(content.MEDICATION_FIELDS, values, amended)),
        Section("Recommendation", _rows(content.RECOMMENDATION_FIELDS, values, amended)),
    ]
    return result


@dataclass(frozen=True)
class Change:
    label: str
    before: str
    after: str


def amendment_changes(original: dict[str, Any], amendments: list) -> list[list[Change]]:
    """For each amendment in order, what each changed field read before it and after it."""
    current = dict(original)
    result = []
    for amendment in amendments:
        changes = []
        for name in content.AMENDABLE_FIELDS:
            if name in amendment.changes:
                after = amendment.changes[name]
                changes.append(Change(label_of(name), display(name, current.get(name)), display(name, after)))
                current[name] = after
        result.append(changes)
    return result


def amended_fields(amendments: list) -> dict[str, tuple[int, ...]]:
    marks: dict[str, tuple[int, ...]] = {}
    for amendment in amendments:
        for name in amendment.changes:
            marks[name] = (*marks.get(name, ()), amendment.sequence)
    return marks
