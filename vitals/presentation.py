"""Shaping stored readings and results for pages (no queries: works on prefetched rows)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from vitals.models import KIND_TO_DATA, InstrumentResult, VitalReading
from vitals.scoring import InstrumentDefinition
from vitals.thresholds import vital_specs


@dataclass
class Shown:
    kind: str
    label: str
    text: str  # e.g. "72" or "37.2"
    unit: str
    unusual: bool
    value: Decimal
    loinc: str
    ucum: str


@dataclass
class ReadingRow:
    reading: VitalReading
    values: dict[str, Shown] = field(default_factory=dict)

    @property
    def bp(self) -> str:
        sbp, dbp = self.values.get("systolic_bp"), self.values.get("diastolic_bp")
        return f"{sbp.text}/{dbp.text}" if sbp and dbp else ""

    @property
    def bp_unusual(self) -> bool:
        return any(self.values[k].unusual for k in ("systolic_bp", "diastolic_bp") if k in self.values)


def fmt(kind: str, value: Decimal) -> str:
    spec = vital_specs()[KIND_TO_DATA[kind]]
    return str(Decimal(value).quantize(Decimal(1).scaleb(-spec.decimals)))


def reading_rows(readings: Iterable[VitalReading]) -> list[ReadingRow]:
    specs = vital_specs()
    rows = []
    for reading in readings:
        row = ReadingRow(reading)
        for value in reading.values.all():
            spec = specs[KIND_TO_DATA[value.kind]]
            row.values[value.kind] = Shown(
                kind=value.kind,
                label=spec.label,
                text=fmt(value.kind, value.value),
                unit=spec.unit_display,
                unusual=value.confirmed_unusual,
                value=value.value,
                loinc=", ".join(value.loinc_codes or [value.loinc]),
                ucum=value.unit,
            )
        rows.append(row)
    return rows


def result_answers(result: InstrumentResult, definition: InstrumentDefinition | None) -> list[dict[str, Any]]:
    """Each item with the answer given and its label (from the definition when it still loads)."""
    items = {i.id: i for i in definition.items} if definition else {}
    shown = []
    for item_id, answer in result.answers.items():
        item = items.get(item_id)
        label = ""
        if item is not None:
            label = next((o.label for o in item.scale.options if o.value == answer), "")
        shown.append(
            {
                "id": item_id,
                "text": item.text if item else "",
                "answer": answer,
                "label": label,
                "score": result.item_scores.get(item_id, answer),
                "rater": item.rater if item else "",
            }
        )
    return shown
